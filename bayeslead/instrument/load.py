"""Loading instrument files: schema, cross-reference checks and `includes`, all problems at once."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from bayeslead.errors import Problem, raise_if_errors
from bayeslead.instrument.model import Instrument
from bayeslead.instrument.schema import InstrumentFile
from bayeslead.instrument.validate import check_file, id_locations
from bayeslead.yamlio import load_yaml, pydantic_problems


def load_instrument(path: Path | str) -> Instrument:
    """Load and validate an instrument file and the files it includes.

    Raises `InputError` listing every error; warnings are kept on `Instrument.warnings`.
    """
    path = Path(path).resolve()
    problems: list[Problem] = []
    files = _read_tree(path, problems, chain=())
    if not files:
        raise_if_errors(problems, "Instrument", str(path))
    root = files[0][1]
    problems += _ids_repeated_across_files(files)
    problems += _conflicting_scales(files)
    problems += _unknown_placements(files)
    warnings = raise_if_errors(problems, "Instrument", str(path))
    scales, references = {}, {}
    constructs, checks = [], []
    for _, content in files:
        scales.update({s.id: s for s in content.scales})
        references.update(content.references)
        constructs += content.constructs
        checks += content.attention_checks
    return Instrument(
        meta=root.instrument,
        scales=scales,
        references=references,
        constructs=tuple(constructs),
        attention_checks=tuple(checks),
        source=path,
        warnings=tuple(warnings),
    )


def _read_tree(
    path: Path, problems: list[Problem], chain: tuple[Path, ...], label: str = ""
) -> list[tuple[str, InstrumentFile]]:
    """Parse `path` and its includes depth-first; `label` prefixes problem locations."""
    prefix = f"{label}: " if label else ""
    raw = load_yaml(path, "Instrument")
    try:
        content = InstrumentFile.model_validate(raw)
    except ValidationError as exc:
        problems += [
            Problem(prefix + p.where, p.message, p.severity)
            for p in pydantic_problems(exc, InstrumentFile)
        ]
        return []
    problems += [Problem(prefix + p.where, p.message, p.severity) for p in check_file(content)]
    out = [(label, content)]
    for i, name in enumerate(content.includes):
        child = (path.parent / name).resolve()
        where = f"{prefix}includes[{i}]"
        if child in chain or child == path:
            problems.append(Problem(where, f"'{name}' includes itself (circular includes)"))
        elif not child.is_file():
            problems.append(Problem(where, f"included file not found: {child}"))
        else:
            out += _read_tree(child, problems, (*chain, path), label=name)
    return out


def _ids_repeated_across_files(files: list[tuple[str, InstrumentFile]]) -> list[Problem]:
    """Construct, item and check ids must be unique over the merged instrument.

    Repeats inside one file are reported by `check_file`; scales may be repeated across files
    when identical (see `_conflicting_scales`).
    """
    first: dict[str, tuple[str, str]] = {}
    problems = []
    for label, content in files:
        prefix = f"{label}: " if label else ""
        seen_here = set()
        for ident, where in id_locations(content, prefix):
            if where.startswith(f"{prefix}scales["):
                continue
            if ident in first and first[ident][0] != label and ident not in seen_here:
                problems.append(
                    Problem(where, f"duplicate id '{ident}' (first defined at {first[ident][1]})")
                )
            first.setdefault(ident, (label, where))
            seen_here.add(ident)
    return problems


def _unknown_placements(files: list[tuple[str, InstrumentFile]]) -> list[Problem]:
    """An attention check's `after` must name a construct of the merged instrument."""
    known = {c.id for _, content in files for c in content.constructs}
    problems = []
    for label, content in files:
        prefix = f"{label}: " if label else ""
        for i, check in enumerate(content.attention_checks):
            if check.after is not None and check.after not in known:
                problems.append(
                    Problem(
                        f"{prefix}attention_checks[{i}].after",
                        f"unknown construct '{check.after}'; known: {', '.join(sorted(known))}",
                    )
                )
    return problems


def _conflicting_scales(files: list[tuple[str, InstrumentFile]]) -> list[Problem]:
    """The same scale id in two files must mean the same scale."""
    seen: dict[str, tuple[str, object]] = {}
    problems = []
    for label, content in files:
        for i, scale in enumerate(content.scales):
            if scale.id in seen and seen[scale.id][1] != scale:
                where = f"{label + ': ' if label else ''}scales[{i}]"
                other = seen[scale.id][0] or "the main file"
                problems.append(
                    Problem(where, f"scale '{scale.id}' differs from its definition in {other}")
                )
            seen.setdefault(scale.id, (label, scale))
    return problems
