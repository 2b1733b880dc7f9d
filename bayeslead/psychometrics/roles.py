"""Informant roles (CEO, CTO, R&D manager, ...): do they answer on the same level?

`role_differences` is R's ``lm(score ~ factor(role))`` with ``confint()``: each role's mean
difference from a reference role with its standard error, t test and 95% interval. Informants are
treated as independent observations (firm clustering ignored), as in the R reference.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

ROLE_COLUMNS = (
    "construct",
    "term",
    "role",
    "role_n",
    "role_mean",
    "est",
    "se",
    "t",
    "pvalue",
    "ci_lower",
    "ci_upper",
)


def role_differences(
    scores: pd.Series, roles: pd.Series, construct: str, reference: str | None = None, level=0.95
) -> pd.DataFrame:
    """OLS of the construct score on role dummies: the reference role's mean (intercept) and
    every other role's difference from it (rows with a missing score or role are left out)."""
    keep = scores.notna() & roles.notna()
    y = scores[keep].to_numpy(dtype=float)
    role = roles[keep].astype(str).to_numpy()
    levels = sorted(set(role))
    if reference is not None and reference in levels:
        levels.remove(reference)
        levels.insert(0, reference)
    x = np.column_stack([np.ones(len(y))] + [(role == r).astype(float) for r in levels[1:]])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    df = len(y) - x.shape[1]
    sigma2 = float(resid @ resid) / df
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    t = coef / se
    crit = stats.t.ppf(0.5 + level / 2, df)
    terms = [f"{levels[0]} mean"] + [f"{r} - {levels[0]}" for r in levels[1:]]
    return pd.DataFrame(
        {
            "construct": construct,
            "term": terms,
            "role": levels,
            "role_n": [int(np.sum(role == r)) for r in levels],
            "role_mean": [float(np.mean(y[role == r])) for r in levels],
            "est": coef,
            "se": se,
            "t": t,
            "pvalue": 2 * stats.t.sf(np.abs(t), df),
            "ci_lower": coef - crit * se,
            "ci_upper": coef + crit * se,
        },
        columns=list(ROLE_COLUMNS),
    )
