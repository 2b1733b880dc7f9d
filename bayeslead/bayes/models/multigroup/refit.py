"""Approximate invariance: the specification search after the first fit (`bayes.refit`).

Under the small-variance deviation prior a large non-invariance of one item (say an intercept
0.7 item SDs apart, 7 prior SDs) is cheaper spread over the group's latent mean and small
opposite deviations of the construct's other items, which can then be flagged too. So the
first fit's flags are a starting point, not the answer:

* ``item`` (default): the backward specification search of Yoon & Millsap (2007), one item at
  a time (cf. Cheung & Rensvold 1999; Jung & Yoon 2016). Of the items with a flagged deviation
  not yet freed, the one whose largest flagged deviation is furthest from 0 in posterior SDs
  (|est| / se over its loadings, intercept or thresholds and the groups) is freed: all its
  deviating parameters join `group_partial` (the wide `group_free` prior) and the model is
  refitted; repeated until a fit flags no parameter of an item still held approximately
  invariant, at most `MAX_REFITS` refits, and never leaving a construct with fewer than two
  such items (its latent mean would rest on one item: Steenkamp & Baumgartner 1998).
* ``parameter``: every flagged parameter freed at once and one refit (the two-step BSEM practice,
  Muthén & Asparouhov 2013). Freed under the wide prior, a parameter flagged only because the
  shifted item's non-invariance spread onto it is estimated from its own responses and can
  stay flagged (measured in the README: a false flag on the ordinal recovery design).

The last fit is the result; `invariance_deviations.csv` keeps the first fit's estimate,
interval and flag beside each deviation (`first_*`), marks what the search freed (`freed`,
and `freed_at`: the refit that freed it, 0 if none), and the manifest's info `refit` lists
every step and why it was taken. A first fit that flags nothing is final.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from bayeslead.core.groups import compact_key
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import Problem
from bayeslead.results import FitResult

TABLE = "invariance_deviations"
FIRST_COLUMNS = {"est": "first_est", "ci_lower": "first_ci_lower", "ci_upper": "first_ci_upper"}
# each refit is a full fit (an ordinal multi-group fit samples for minutes); an instrument with
# more non-invariant items than this needs a researcher's look (free them by group_partial)
MAX_REFITS = 5
MIN_INVARIANT = 2  # items per construct left approximately invariant


def item_of(key: str) -> str:
    """The item a deviating parameter belongs to: ``"F =~ x3"``, ``"x3 ~ 1"``, ``"x3 | t2"``
    -> ``"x3"``."""
    if "=~" in key:
        return key.split("=~")[1].strip()
    return key.split("|")[0].split("~")[0].strip()


def freed_keys(spec: ModelSpec) -> set[str]:
    return {compact_key(k) for k in spec.group_partial}


def flagged_to_free(spec: ModelSpec, deviations: pd.DataFrame) -> list[str]:
    """Parameters flagged in some group and not yet freed by `group_partial`, in table order."""
    freed = freed_keys(spec)
    flagged = deviations.parameter[deviations.flagged.astype(bool)]
    return [k for k in dict.fromkeys(flagged) if compact_key(k) not in freed]


def worst_item(spec: ModelSpec, deviations: pd.DataFrame) -> tuple[str, pd.Series] | None:
    """The item to free next and its most extreme flagged deviation row (largest |est| / se),
    or None when no parameter of an item not yet freed is flagged."""
    flagged = deviations[deviations.parameter.isin(flagged_to_free(spec, deviations))]
    flagged = flagged[flagged.flagged.astype(bool)]
    if flagged.empty:
        return None
    row = flagged.loc[(flagged.est.abs() / flagged.se).idxmax()]
    return item_of(row.parameter), row


def item_parameters(spec: ModelSpec, deviations: pd.DataFrame, item: str) -> list[str]:
    """`item`'s deviating parameters (loadings, intercept or thresholds) not yet freed."""
    freed = freed_keys(spec)
    keys = dict.fromkeys(deviations.parameter)
    return [k for k in keys if item_of(k) == item and compact_key(k) not in freed]


def thin_constructs(spec: ModelSpec, item: str) -> list[str]:
    """Constructs of `item` that would keep fewer than MIN_INVARIANT items with no freed
    parameter once `item` is freed."""
    freed = {item_of(k) for k in spec.group_partial} | {item}
    return [
        f.name
        for f in spec.first_order
        if item in f.indicators and len(set(f.indicators) - freed) < MIN_INVARIANT
    ]


def describe(row: pd.Series) -> str:
    return (
        f"{row.parameter} deviates {row.est:+.3f} [{row.ci_lower:.3f}, {row.ci_upper:.3f}] in "
        f"group {row.group}, {abs(row.est) / row.se:.1f} posterior SDs from 0"
    )


def refit_search(
    fit: Callable[[ModelSpec], FitResult],
    spec: ModelSpec,
    first: FitResult,
    method: str = "item",
    say: Callable[[str], None] = lambda text: None,
) -> FitResult:
    """The search of the module docstring after `first` (a fit of `spec`): `fit` refits a spec
    with more parameters in `group_partial`; `say` shows each step (console)."""
    deviations = first.extra_tables.get(TABLE)
    if deviations is None or deviations.empty:
        return first
    steps: list[dict] = []
    freed_at: dict[str, int] = {}
    current, result, stopped = spec, first, ""
    while True:
        table = result.extra_tables[TABLE]
        flagged_items = list(dict.fromkeys(map(item_of, flagged_to_free(current, table))))
        if not flagged_items:
            which = f"refit {len(steps)}" if steps else "the first fit"
            stopped = f"{which} flags no parameter of an item still held invariant"
            break
        if method == "parameter" and steps:
            stopped = "one refit (bayes.refit: parameter)"
            break
        if len(steps) >= MAX_REFITS:
            stopped = (
                f"stopped after {MAX_REFITS} refits with {', '.join(flagged_items)} still "
                "flagged: free them by group_partial and rerun, or fit bayes.invariance: partial"
            )
            result.problems.append(Problem("bayes.invariance", stopped, "warning"))
            break
        if method == "parameter":
            to_free = flagged_to_free(current, table)
            reason = f"flagged by the first fit: {', '.join(to_free)}"
            step = {"refit": 1, "freed": to_free, "reason": reason}
        else:
            item, row = worst_item(current, table)
            thin = thin_constructs(current, item)
            if thin:
                stopped = (
                    f"{item} flagged but not freed: {', '.join(thin)} would keep fewer than "
                    f"{MIN_INVARIANT} approximately invariant items (latent means compared on "
                    f"one item); {', '.join(flagged_items)} still flagged"
                )
                result.problems.append(Problem("bayes.invariance", stopped, "warning"))
                break
            to_free = item_parameters(current, table, item)
            reason = f"the most non-invariant flagged item: {describe(row)}"
            if len(flagged_items) > 1:
                reason += f" (also flagged: {', '.join(i for i in flagged_items if i != item)})"
            step = {"refit": len(steps) + 1, "item": item, "freed": to_free, "reason": reason}
        step["max_rhat_before"] = (result.diagnostics or {}).get("max_rhat")
        steps.append(step)
        freed_at |= dict.fromkeys(to_free, step["refit"])
        say(
            f"Approximate invariance, refit {step['refit']}: freeing "
            f"{step.get('item', ', '.join(to_free))} ({reason})"
        )
        current = replace(current, group_partial=(*current.group_partial, *to_free))
        result = fit(current)
    say(f"Approximate invariance: {stopped}")
    result.extra_tables[TABLE] = with_first_fit(result.extra_tables[TABLE], deviations, freed_at)
    result.info["refit"] = {"method": method, "steps": steps, "stopped": stopped}
    result.info["first_fit"] = {
        "flagged": flagged_to_free(spec, deviations),
        "max_rhat": (first.diagnostics or {}).get("max_rhat"),
    }
    if steps:
        freed = [step.get("item", ", ".join(step["freed"])) for step in steps]
        result.info["invariance"] += (
            f"; refitted {len(steps)} time(s) (bayes.refit: {method}), freeing "
            f"{'; then '.join(freed)} (first_* columns of invariance_deviations.csv: the first "
            "fit, every deviation under the small-variance prior)"
        )
    return result


def with_first_fit(
    final: pd.DataFrame, first: pd.DataFrame, freed_at: dict[str, int]
) -> pd.DataFrame:
    """`final` with the first fit's est / interval / flag per (parameter, group), `freed` and
    `freed_at` (the refit that freed the parameter, 0 if none)."""
    keys = ["parameter", "kind", "group"]
    earlier = first[[*keys, *FIRST_COLUMNS, "flagged"]].rename(
        columns=FIRST_COLUMNS | {"flagged": "first_flagged"}
    )
    out = final.merge(earlier, on=keys, how="left", validate="one_to_one")
    out["freed"] = out.parameter.isin(freed_at)
    out["freed_at"] = out.parameter.map(freed_at).fillna(0).astype(int)
    return out
