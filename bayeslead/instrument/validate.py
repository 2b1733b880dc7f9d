"""Cross-reference checks of an instrument file, collecting every problem with its YAML path."""

from __future__ import annotations

from collections import Counter

from bayeslead.errors import Problem
from bayeslead.instrument.schema import Construct, InstrumentFile, Item, Scale

MIN_ITEMS = 2
RECOMMENDED_ITEMS = 3


def check_file(content: InstrumentFile) -> list[Problem]:
    """Return every error and warning in one instrument file (includes are checked separately)."""
    problems: list[Problem] = []
    problems += _check_scales(content.scales)
    problems += _check_scale_translations(content.scales, content.instrument.languages)
    scales = {s.id: s for s in content.scales}
    zh = "zh" in content.instrument.languages
    if zh:
        problems += _missing_zh("instrument", content.instrument, ("title", "instructions"))
    for i, construct in enumerate(content.constructs):
        problems += _check_construct(f"constructs[{i}]", construct, scales, content.references, zh)
    for i, check in enumerate(content.attention_checks):
        where = f"attention_checks[{i}]"
        scale = scales.get(check.scale)
        if scale is None:
            problems.append(_unknown_scale(f"{where}.scale", check.scale, scales))
        elif check.expected not in scale.values:
            problems.append(
                Problem(
                    f"{where}.expected",
                    f"{check.expected} is outside scale '{scale.id}' "
                    f"({scale.range[0]}..{scale.range[1]})",
                )
            )
        if zh and not check.text_zh:
            problems.append(Problem(f"{where}.text_zh", "missing Chinese text (languages has zh)"))
    problems += duplicate_ids(id_locations(content))
    return problems


def id_locations(content: InstrumentFile, prefix: str = "") -> list[tuple[str, str]]:
    """Every (id, YAML path) pair that must be unique across an instrument."""
    out = [(s.id, f"{prefix}scales[{i}].id") for i, s in enumerate(content.scales)]
    for i, c in enumerate(content.constructs):
        out.append((c.id, f"{prefix}constructs[{i}].id"))
        out += [(it.id, f"{prefix}constructs[{i}].items[{j}].id") for j, it in enumerate(c.items)]
        for k, d in enumerate(c.dimensions):
            out.append((d.id, f"{prefix}constructs[{i}].dimensions[{k}].id"))
            out += [
                (it.id, f"{prefix}constructs[{i}].dimensions[{k}].items[{j}].id")
                for j, it in enumerate(d.items)
            ]
    out += [
        (a.id, f"{prefix}attention_checks[{i}].id") for i, a in enumerate(content.attention_checks)
    ]
    return out


def duplicate_ids(locations: list[tuple[str, str]]) -> list[Problem]:
    """One error per repeated id, naming where it was first defined."""
    counts = Counter(i for i, _ in locations)
    first: dict[str, str] = {}
    problems = []
    for ident, where in locations:
        if counts[ident] > 1 and ident in first:
            problems.append(
                Problem(where, f"duplicate id '{ident}' (first defined at {first[ident]})")
            )
        first.setdefault(ident, where)
    return problems


def _check_scales(scales: list[Scale]) -> list[Problem]:
    problems = []
    for i, scale in enumerate(scales):
        low, high = scale.range
        if high - low + 1 != scale.points:
            problems.append(
                Problem(
                    f"scales[{i}].range",
                    f"range {low}..{high} has {high - low + 1} values but points is {scale.points}",
                )
            )
        for lang, labels in scale.labels.items():
            for value in labels:
                if not low <= value <= high:
                    problems.append(
                        Problem(
                            f"scales[{i}].labels.{lang}.{value}", f"label outside {low}..{high}"
                        )
                    )
    return problems


def _check_construct(
    where: str,
    construct: Construct,
    scales: dict[str, Scale],
    references: dict[str, str],
    zh: bool,
) -> list[Problem]:
    problems = _check_sources(where, construct.sources, references)
    if zh:
        problems += _missing_zh(where, construct, ("label", "definition"))
    if construct.marker and (construct.dimensions or not construct.sources):
        problems.append(
            Problem(
                f"{where}.marker",
                "a marker scale is first-order (items, no dimensions) and cites its source",
            )
        )
    if construct.items and construct.dimensions:
        problems.append(
            Problem(where, "give either items (first-order) or dimensions (second-order), not both")
        )
    if construct.dimensions:
        if len(construct.dimensions) < 2:
            problems.append(
                Problem(
                    f"{where}.dimensions", "a second-order construct needs at least 2 dimensions"
                )
            )
        elif len(construct.dimensions) == 2:
            problems.append(
                Problem(
                    f"{where}.dimensions",
                    "2 dimensions identify a second-order construct only inside a larger model",
                    "warning",
                )
            )
        for k, dim in enumerate(construct.dimensions):
            dwhere = f"{where}.dimensions[{k}]"
            problems += _check_sources(dwhere, dim.sources, references)
            if zh:
                problems += _missing_zh(dwhere, dim, ("label", "definition"))
            problems += _check_items(dwhere, dim.items, scales, zh)
    else:
        problems += _check_items(where, construct.items, scales, zh)
    return problems


def _check_items(
    where: str, items: list[Item], scales: dict[str, Scale], zh: bool
) -> list[Problem]:
    problems = []
    if len(items) < MIN_ITEMS:
        problems.append(
            Problem(
                f"{where}.items",
                f"has {len(items)} item(s); a construct needs at least {MIN_ITEMS}",
            )
        )
    elif len(items) < RECOMMENDED_ITEMS:
        problems.append(
            Problem(
                f"{where}.items",
                f"has {len(items)} items; at least {RECOMMENDED_ITEMS} are recommended",
                "warning",
            )
        )
    for j, item in enumerate(items):
        iwhere = f"{where}.items[{j}]"
        scale = scales.get(item.scale)
        if scale is None:
            problems.append(_unknown_scale(f"{iwhere}.scale", item.scale, scales))
        elif item.reverse and not scale.ordered:
            problems.append(
                Problem(
                    f"{iwhere}.reverse",
                    f"reverse keying needs an ordered scale; '{scale.id}' is {scale.type}",
                )
            )
        if zh and not item.text_zh:
            problems.append(Problem(f"{iwhere}.text_zh", "missing Chinese text (languages has zh)"))
    return problems


def _check_sources(where: str, sources: list[str], references: dict[str, str]) -> list[Problem]:
    return [
        Problem(
            f"{where}.sources[{i}]",
            f"unknown reference '{key}'; known: {', '.join(sorted(references)) or '(none)'}",
        )
        for i, key in enumerate(sources)
        if key not in references
    ]


def _unknown_scale(where: str, name: str, scales: dict[str, Scale]) -> Problem:
    known = ", ".join(sorted(scales)) or "(none defined)"
    return Problem(where, f"unknown scale '{name}'; known: {known}")


def _missing_zh(where: str, obj: object, fields: tuple[str, ...]) -> list[Problem]:
    problems = []
    for field in fields:
        if getattr(obj, field) and not getattr(obj, f"{field}_zh"):
            severity = "warning" if field == "definition" else "error"
            problems.append(
                Problem(f"{where}.{field}_zh", "missing Chinese text (languages has zh)", severity)
            )
    return problems


def _check_scale_translations(scales: list[Scale], languages: list[str]) -> list[Problem]:
    """Each declared language needs anchor labels on every labelled scale."""
    problems = []
    for i, scale in enumerate(scales):
        if not scale.labels:
            continue
        for lang in languages:
            if lang not in scale.labels:
                problems.append(
                    Problem(f"scales[{i}].labels.{lang}", f"missing anchor labels in '{lang}'")
                )
    return problems
