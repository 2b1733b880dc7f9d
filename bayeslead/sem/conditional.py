"""Conditional effects of an ML fit with latent interactions (product indicators).

The product-indicator model's parameters are projected onto the spec's own parameter table
(`build_partable(spec)`: the linear parameters plus one coefficient per interaction), so that
effects, hypotheses, figures and simulation studies see the same parameter vector as for a
Bayesian fit. Intervals of conditional effects come from the bootstrap replicates, or, with
`sem.bootstrap: 0`, from Monte Carlo draws of the estimates' sampling distribution (Preacher &
Selig 2012); indices of moderated mediation also get delta-method standard errors (lavaan's
`:=`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.conditional import (
    conditional_draws,
    conditional_table,
    imm_draws,
    johnson_neyman,
    johnson_neyman_bounds,
)
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.sem.bootstrap import BootstrapDraws

MONTE_CARLO_DRAWS = 5000
Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class Projected:
    """The fit on the spec's own parameter table, and the interaction tables."""

    theta: np.ndarray
    theta_cov: np.ndarray
    draws: np.ndarray | None
    defined: pd.DataFrame  # `:=` rows of the indices of moderated mediation
    effects: pd.DataFrame  # effects.csv rows (kind "imm")
    tables: dict[str, pd.DataFrame]


def projection(source: ParameterTable, target: ParameterTable, names: dict[str, str]) -> np.ndarray:
    """Position in `source`'s theta of each free parameter of `target` (names renamed)."""
    keys = {}
    for p in source.free_params:
        keys[f"{names.get(p.lhs, p.lhs)} {p.op} {names.get(p.rhs, p.rhs)}"] = p.free
    return np.array([keys[p.key] for p in target.free_params])


def project(
    spec: ModelSpec,
    ml_table: ParameterTable,
    names: dict[str, str],
    theta: np.ndarray,
    theta_cov: np.ndarray,
    boot: BootstrapDraws | None,
    seed: int,
) -> Projected:
    """Conditional effects, indices of moderated mediation and Johnson-Neyman tables."""
    table = build_partable(spec)
    index = projection(ml_table, table, names)
    theta_q, cov_q = theta[index], theta_cov[np.ix_(index, index)]
    if boot is not None:
        draws, method = boot.theta[boot.ok][:, index], "bootstrap-percentile"
        kept = draws
    else:
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(theta_q, cov_q, MONTE_CARLO_DRAWS, method="eigh")
        method, kept = "monte-carlo", None
    point = conditional_draws(spec, table, theta_q)
    table_rows = conditional_table(conditional_draws(spec, table, draws), method, point)
    grid = johnson_neyman(spec, table, draws)
    defined, effects = _imm_rows(spec, table, theta_q, cov_q, boot is not None, table_rows)
    tables = {
        "conditional_effects": table_rows,
        "johnson_neyman": grid,
        "johnson_neyman_bounds": johnson_neyman_bounds(grid),
    }
    return Projected(theta_q, cov_q, kept, defined, effects, tables)


def _imm_rows(spec, table, theta, cov, bootstrapped, conditional):
    """`:=` rows (delta-method SE, as lavaan) and effects.csv rows of every index."""
    estimates = imm_draws(spec, table, theta)
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    up = imm_draws(spec, table, theta + np.diag(steps))
    down = imm_draws(spec, table, theta - np.diag(steps))
    defined, effects = [], []
    for imm in spec.moderated_mediations():
        est = float(estimates[imm.name])
        grad = (up[imm.name] - down[imm.name]) / (2 * steps)
        se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
        z = est / se if se > 0 else np.nan
        others = [r.label for k, r in enumerate(imm.effect.links) if k != imm.link]
        pvalue = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        defined.append(
            {
                "lhs": imm.name,
                "op": ":=",
                "rhs": "*".join([imm.interaction.label, *others]),
                "label": imm.name,
                "est": est,
                "se": se,
                "z": z,
                "pvalue": pvalue,
                "ci_lower": est - Z95 * se,
                "ci_upper": est + Z95 * se,
            }
        )
        # effects.csv: the percentile interval of the bootstrap or Monte Carlo draws (a product
        # of coefficients is skewed: symmetric Wald intervals miss on one side more often)
        row = conditional[(conditional.kind == "imm") & (conditional.effect == imm.name)].iloc[0]
        effects.append(
            {
                "effect": imm.name,
                "kind": "imm",
                "level": "",
                "path": row.path,
                "est": est,
                "se": float(row.se) if bootstrapped else se,
                "pvalue": pvalue,
                "ci_lower": float(row.ci_lower),
                "ci_upper": float(row.ci_upper),
                "ci_method": row.ci_method,
                "std_est": float(row.std_est),
                "std_ci_lower": float(row.std_ci_lower),
                "std_ci_upper": float(row.std_ci_upper),
            }
        )
        defined[-1]["std_est"] = float(row.std_est)
    return pd.DataFrame(defined), pd.DataFrame(effects)
