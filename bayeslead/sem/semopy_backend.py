"""The only module that imports semopy: first-stage ML estimates for the complete-data engine.

semopy's default optimiser can stop early (estimates off by up to 0.012 on a classic SEM with
large variances), so its solution is used as the start of bayeslead's own Fisher-scoring
refinement (`bayeslead.core.ml.fit_ml`), which converges to lavaan's optimum. semopy's string
standard-error columns, missing `:=` and missing intervals never leave this module.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd

from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec


def semopy_syntax(spec: ModelSpec) -> str:
    """semopy model description: measurement, regressions, covariances (no labels, no `:=`)."""
    lines = [f"{f.name} =~ {' + '.join(f.indicators)}" for f in spec.factors]
    outcomes = dict.fromkeys(r.outcome for r in spec.regressions)
    for outcome in outcomes:
        preds = [r.predictor for r in spec.regressions if r.outcome == outcome]
        lines.append(f"{outcome} ~ {' + '.join(preds)}")
    pairs = list(combinations(spec.exogenous(), 2)) + list(spec.covariances)
    lines += [f"{a} ~~ {b}" for a, b in pairs]
    return "\n".join(lines)


def semopy_start(spec: ModelSpec, table: ParameterTable, frame: pd.DataFrame) -> np.ndarray | None:
    """semopy's ML estimates mapped onto `table`'s free parameters, or None if semopy fails."""
    import semopy

    try:
        model = semopy.Model(semopy_syntax(spec))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(frame[list(table.manifest)], obj="MLW", solver="SLSQP")
            estimates = model.inspect()
    except Exception:  # semopy raises many types; any failure means "no start values"
        return None
    pos = {name: i for i, name in enumerate(table.variables)}
    found: dict[tuple[str, int, int], float] = {}
    for lval, op, rval, est in estimates[["lval", "op", "rval", "Estimate"]].itertuples(
        index=False
    ):
        if lval not in pos or rval not in pos:
            continue
        i, j = pos[lval], pos[rval]
        if op == "~":
            found[("A", i, j)] = float(est)
        elif op == "~~":
            found[("S", i, j)] = found[("S", j, i)] = float(est)
    theta = np.full(table.n_free, np.nan)
    for p in table.free_params:
        theta[p.free] = found.get((p.matrix, p.row, p.col), np.nan)
    if np.isnan(theta).any() or not np.isfinite(theta).all():
        return None
    return theta
