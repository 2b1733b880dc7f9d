"""``level: 1`` / ``level: 2`` blocks of lavaan syntax and bayeslead's two-level model.

The two-level model (`data.cluster`, engine: bayes) measures every construct at both levels
with loadings equal across levels, and has between-level paths that are either its own
(``bayes.between_paths: specific``) or the within paths (``shared``). A lavaan user writes that
model as two blocks: the same constructs measured by the same items at level 2, with the
loadings labelled alike at both levels (lavaan's cross-level invariance), and the same paths at
level 2, unlabelled (specific) or with the level-1 labels (shared). `within_model` checks that
a model's blocks have that shape and returns the level-1 model, which is the ModelSpec's;
`ModelSpec.to_parsed` writes a two-level spec back as such blocks.
"""

from __future__ import annotations

from dataclasses import replace

from bayeslead.config import RunConfig
from bayeslead.syntax import Element, LavaanProblem, ParsedModel
from bayeslead.syntax.expressions import names

LEVELS = {"1": 1, "within": 1, "2": 2, "between": 2}


def within_model(
    parsed: ParsedModel, config: RunConfig, source: str
) -> tuple[ParsedModel, list[LavaanProblem]]:
    """The level-1 part of a model with level blocks (the model itself without them), and why
    the level-2 block is not the two-level model bayeslead fits."""
    if not any(b.kind == "level" for b in parsed.blocks):
        return parsed, []
    within = [e for e in parsed.elements if LEVELS.get(str(e.level).lower()) == 1]
    between = [e for e in parsed.elements if LEVELS.get(str(e.level).lower()) == 2]
    block = next(b for b in parsed.blocks if b.kind == "level")
    problems: list[LavaanProblem] = []

    def add(line: int, column: int, message: str) -> None:
        problems.append(LavaanProblem(line, column, message, source=source))

    if not between:
        add(block.line, block.column, "a 'level: 2' block is missing (write both levels)")
        return replace(parsed, elements=tuple(within), blocks=()), problems
    items = {
        e.lhs: frozenset(x.rhs for x in within if x.lhs == e.lhs and x.op == "=~")
        for e in within
        if e.op == "=~"
    }
    match: dict[str, str] = {}
    between_items = {
        e.lhs: frozenset(x.rhs for x in between if x.lhs == e.lhs and x.op == "=~")
        for e in between
        if e.op == "=~"
    }
    for name, members in between_items.items():
        mapped = frozenset(_map(m, match) for m in members)
        found = [w for w, its in items.items() if its in (members, mapped)]
        if found:
            match[name] = found[0]
    loadings = {(e.lhs, e.rhs): e for e in within if e.op == "=~"}
    for e in between:
        if e.op == "=~" and e.lhs not in match:
            add(
                e.lhs_line,
                e.lhs_column,
                f"'{e.lhs}' at level 2 measures no level-1 construct's items: measure the same constructs by the same items at both levels",
            )
            continue
        if e.op == "=~":
            twin = loadings.get((match[e.lhs], _map(e.rhs, match)))
            if twin is not None and twin.label != e.label:
                add(
                    e.line,
                    e.column,
                    "loadings are equal across levels in bayeslead's two-level model: label "
                    f"'{e.lhs} =~ {e.rhs}' as at level 1 (e.g. 'l2*{e.rhs}' at both levels)",
                )
        elif e.op == "~":
            problems += _between_path(e, within, match, config, source)
        elif e.op == "~~" and e.lhs != e.rhs and not {e.lhs, e.rhs} <= set(match):
            add(
                e.line,
                e.column,
                "level-2 covariances are between constructs only (residual covariances of items are within-level)",
            )
        if e.op not in ("=~", "~", "~~") or any(m.kind != "label" for m in e.modifiers):
            add(
                e.line,
                e.column,
                "level 2 takes loadings, paths and construct covariances (labels only)",
            )
    missing = set(items) - set(match.values())
    for name in sorted(missing):
        first = next(e for e in within if e.lhs == name)
        add(
            first.lhs_line,
            first.lhs_column,
            f"'{name}' is not measured at level 2: the two-level model measures every construct at both levels",
        )
    paths = {(e.lhs, e.rhs) for e in within if e.op == "~"}
    between_paths = {
        (match.get(e.lhs, e.lhs), match.get(e.rhs, e.rhs)) for e in between if e.op == "~"
    }
    for outcome, predictor in sorted(paths - between_paths):
        add(
            block.line,
            block.column,
            f"the path '{outcome} ~ {predictor}' is missing at level 2 (the two-level model has every path at both levels)",
        )
    kept = tuple(
        _without_label(e) if _only_cross_level(e, parsed, within, between) else e for e in within
    )
    return replace(parsed, elements=kept, blocks=()), problems


def _only_cross_level(
    e: Element, parsed: ParsedModel, within: list[Element], between: list[Element]
) -> bool:
    """A level-1 loading label that only says "equal across levels" (the model's default): used
    once at each level and nowhere else."""
    if e.op != "=~" or len(e.label) != 1 or e.label[0] is None:
        return False
    label = e.label[0]
    used = [n.name for d in parsed.definitions for n in names(d.expr)]
    used += [n.name for c in parsed.constraints for n in names(c.lhs) + names(c.rhs)]
    count = sum(label in x.label for x in within)
    return count == 1 and label not in used and sum(label in x.label for x in between) == 1


def _map(name: str, match: dict[str, str]) -> str:
    return match.get(name, name)


def _without_label(e: Element) -> Element:
    """A level-1 loading whose label only says "equal across levels" (the model's default)."""
    return replace(e, modifiers=tuple(m for m in e.modifiers if m.kind != "label"))


def _between_path(
    e: Element, within: list[Element], match: dict[str, str], config: RunConfig, source: str
) -> list[LavaanProblem]:
    """A level-2 path must mirror a level-1 path; its label says whether it is shared."""
    twin = next(
        (
            w
            for w in within
            if w.op == "~" and (w.lhs, w.rhs) == (_map(e.lhs, match), _map(e.rhs, match))
        ),
        None,
    )
    if twin is None:
        message = f"'{e.lhs} ~ {e.rhs}' at level 2 has no level-1 path: the two-level model has the same paths at both levels"
        return [LavaanProblem(e.line, e.column, message, source=source)]
    shared = bool(e.label) and e.label == twin.label
    wanted = "shared" if shared else "specific"
    if wanted != config.bayes.between_paths:
        what = (
            "carries the level-1 label (the same path at both levels)"
            if shared
            else "is free at level 2"
        )
        message = f"'{e.lhs} ~ {e.rhs}' {what}: set bayes.between_paths: {wanted}"
        return [LavaanProblem(e.line, e.column, message, source=source)]
    return []
