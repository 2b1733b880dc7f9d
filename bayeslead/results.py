"""FitResult: what either engine returns and what run folders and reports consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bayeslead.errors import Problem

ESTIMATE_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "ci_lower", "ci_upper", "std_est"]
EFFECT_COLUMNS = [
    "effect",
    "kind",
    "level",
    "path",
    "est",
    "se",
    "ci_lower",
    "ci_upper",
    "ci_method",
    "std_est",
    "std_ci_lower",
    "std_ci_upper",
]
# posterior columns of a Bayesian estimates.csv after lavaan's (`ESTIMATE_COLUMNS`)
POSTERIOR_COLUMNS = ["hdi_lower", "hdi_upper", "rhat", "ess_bulk", "ess_tail"]


@dataclass
class FitResult:
    """Engine-agnostic results of one fit.

    `estimates` has one row per parameter (lavaan operators; `est` on lavaan's default metric),
    `effects` one row per (effect, kind, level); `fit` is a flat dict of numbers; `info` says how
    the fit was made (estimator, standard errors, missing-data handling, sample size, ...);
    `problems` lists what a reader must know (Heywood cases, non-convergence, failed gates).
    `theta`, `theta_cov` and `draws` carry the free parameters themselves, for hypotheses and
    simulation studies.
    """

    engine: str
    estimates: pd.DataFrame
    effects: pd.DataFrame
    fit: dict[str, float]
    info: dict[str, Any]
    reliability: pd.DataFrame | None = None
    htmt: pd.DataFrame | None = None
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    diagnostics: dict[str, Any] | None = None
    idata: Any = None
    problems: list[Problem] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # parameters on lavaan's marker metric (ParameterTable order of free parameters):
    theta: Any = None  # point estimate (ML) or posterior mean
    theta_cov: Any = None  # sampling covariance (ML)
    draws: Any = None  # (S, n_free) bootstrap replicates or posterior draws
    draws_kind: str = ""  # "bootstrap" or "posterior"

    @property
    def ok(self) -> bool:
        """True when nothing in `problems` is an error."""
        return not any(p.severity == "error" for p in self.problems)
