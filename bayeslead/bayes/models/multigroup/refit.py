"""Approximate invariance in two steps (Muthén & Asparouhov 2013; van de Schoot et al. 2013).

Under the small-variance deviation prior a large non-invariance of one parameter (say an
intercept 0.7 item SDs apart, 7 prior SDs) is cheaper spread over the group's latent mean and
small opposite deviations of the construct's other items, which can then be flagged too. The
BSEM practice: the parameters the first fit flags are freed (`group_partial`: their deviations
under the wide `group_free` prior) and the model is refitted; the second fit's deviations and
flags are the result, with the first fit's beside them. A fit that flags nothing is final.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from bayeslead.core.groups import compact_key
from bayeslead.core.spec import ModelSpec
from bayeslead.results import FitResult

TABLE = "invariance_deviations"
FIRST_COLUMNS = {"est": "first_est", "ci_lower": "first_ci_lower", "ci_upper": "first_ci_upper"}


def flagged_to_free(spec: ModelSpec, deviations: pd.DataFrame) -> list[str]:
    """Parameters flagged in some group and not yet freed by `group_partial`, in table order."""
    freed = {compact_key(k) for k in spec.group_partial}
    flagged = deviations.parameter[deviations.flagged.astype(bool)]
    return [k for k in dict.fromkeys(flagged) if compact_key(k) not in freed]


def refit_flagged(
    fit: Callable[[ModelSpec], FitResult], spec: ModelSpec, first: FitResult
) -> FitResult:
    """The second step when `first` flags parameters not yet freed: `fit` of `spec` with them
    added to `group_partial`. The deviations table gains the first fit's estimate, interval and
    flag of each parameter (`first_*`) and `freed` (freed after the first fit)."""
    deviations = first.extra_tables.get(TABLE)
    if deviations is None or deviations.empty:
        return first
    to_free = flagged_to_free(spec, deviations)
    if not to_free:
        first.extra_tables[TABLE] = with_first_fit(deviations, deviations, [])
        return first
    second = fit(replace(spec, group_partial=(*spec.group_partial, *to_free)))
    second.extra_tables[TABLE] = with_first_fit(second.extra_tables[TABLE], deviations, to_free)
    second.info["invariance"] += (
        f"; two steps: the first fit (all deviations under the small-variance prior) flagged "
        f"{', '.join(to_free)}, freed and refitted (first_* columns of invariance_deviations.csv)"
    )
    second.info["first_fit"] = {
        "flagged": to_free,
        "max_rhat": first.diagnostics.get("max_rhat") if first.diagnostics else None,
    }
    return second


def with_first_fit(final: pd.DataFrame, first: pd.DataFrame, freed: list[str]) -> pd.DataFrame:
    """`final` with the first fit's est / interval / flag per (parameter, group) and `freed`."""
    keys = ["parameter", "kind", "group"]
    earlier = first[[*keys, *FIRST_COLUMNS, "flagged"]].rename(
        columns=FIRST_COLUMNS | {"flagged": "first_flagged"}
    )
    out = final.merge(earlier, on=keys, how="left", validate="one_to_one")
    out["freed"] = out.parameter.isin(freed)
    return out
