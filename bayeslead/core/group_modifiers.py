"""``c(...)`` per-group modifiers of the lavaan syntax (`model:` with ``data.group``).

A ``c(...)`` with one value for every group is that value. Different values per group are
lavaan's per-group labels and fixed values (``c(a1, a2)*x``, ``c(0.6, NA)*x``); the ML engine
estimates them on loadings, paths and (co)variances (`core.groups`: labels give equality classes
across parameters and groups, fixed values fix the parameter in that group). What the
multi-group models do not estimate is refused with the line and column: per-group values with
engine: bayes (the groups share the measurement model, paths are partially pooled), on a marker
loading, on intercepts or thresholds, per-group start values and the like, and ``:=`` or ``==``
naming a per-group label.
"""

from __future__ import annotations

from dataclasses import replace

from bayeslead.config import RunConfig
from bayeslead.core.spec import Regression
from bayeslead.syntax import Element, LavaanProblem, ParsedModel
from bayeslead.syntax.expressions import names


def per_group(
    parsed: ParsedModel, config: RunConfig, source: str
) -> tuple[ParsedModel, list[LavaanProblem]]:
    """`parsed` with single-valued ``c(...)`` collapsed, and the problems of the rest."""
    problems, elements = [], []
    markers: dict[str, str] = {}
    for e in parsed.elements:
        if e.op == "=~":
            markers.setdefault(e.lhs, e.rhs)

    def add(line: int, column: int, message: str) -> None:
        problems.append(LavaanProblem(line, column, message, source=source))

    grouped: set[str] = set()
    for e in parsed.elements:
        modifiers = []
        for m in e.modifiers:
            if m.per_group and len(set(m.values)) == 1:
                m = replace(m, values=m.values[:1])
            elif m.per_group and config.data.group:
                problem = _refusal(e, m.kind, config, markers)
                if problem:
                    add(m.line, m.column, problem)
                    continue
                if m.kind == "label":
                    grouped |= {v for v in m.values if v}
            modifiers.append(m)
        e = replace(e, modifiers=tuple(modifiers))
        label = next((v for v in e.label if v), "")
        pooled = config.data.group and config.engine == "bayes"
        if pooled and e.op == "~" and label and label != Regression(e.lhs, e.rhs).label:
            message = (
                f"a label on '{e.lhs} ~ {e.rhs}' makes the path equal across groups, which the "
                "multi-group model does not estimate (its paths are partially pooled): remove it"
            )
            add(e.line, e.column, message)
        elements.append(e)
    for item in (*parsed.definitions, *parsed.constraints):
        exprs = (item.expr,) if hasattr(item, "expr") else (item.lhs, item.rhs)
        used = sorted({n.name for x in exprs for n in names(x)} & grouped)
        if used:
            add(
                item.line,
                item.column,
                f"per-group labels ({', '.join(used)}) in ':=' or '==' are not evaluated in "
                "multi-group models: compare groups with the group_differences table, or "
                "label the parameter once",
            )
    return replace(parsed, elements=tuple(elements)), problems


def _refusal(e: Element, kind: str, config: RunConfig, markers: dict[str, str]) -> str:
    """Why the multi-group models cannot take different `kind` values per group on `e` ("")."""
    if config.engine == "bayes":
        return (
            "different values per group are not estimated by engine: bayes (the groups share "
            "the measurement model; paths are partially pooled): give one value, or use "
            "engine: sem"
        )
    if kind not in ("label", "fixed"):
        return f"per-group {kind}() values are not estimated: give one value"
    if e.op in ("~1", "|"):
        return (
            "per-group values of intercepts and thresholds are not estimated: use "
            "group_equal / group_partial"
        )
    if e.op == "=~" and markers.get(e.lhs) == e.rhs:
        return (
            f"per-group values on the marker loading of '{e.lhs}' are not estimated (it is 1 "
            "in every group): put c(...) on another loading"
        )
    return ""
