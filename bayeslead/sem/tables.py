"""The ML engine's tables: lavaan-style estimates with Wald intervals and std.all, item
intercepts (FIML), the effects with delta-method standard errors, and bootstrap intervals of
every parameter and effect when the fit has replicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.effects import EffectDraws, defined_name, effect_draws
from bayeslead.core.partable import ParameterTable
from bayeslead.core.rsquare import endogenous, r_squared
from bayeslead.core.spec import ModelSpec
from bayeslead.results import EFFECT_COLUMNS
from bayeslead.sem.bootstrap import BootstrapDraws, bias_corrected_interval, percentile_interval

Z95 = stats.norm.ppf(0.975)


# --- tables ----------------------------------------------------------------------------------
def estimates_table(
    table: ParameterTable, theta: np.ndarray, cov_theta: np.ndarray
) -> pd.DataFrame:
    """One row per parameter: est, Wald se/z/p/CI, std.all and its delta-method interval (as
    lavaan's standardizedSolution)."""
    est = table.values(theta)
    std = table.standardized(theta)
    std_se = _standardized_se(table, theta, cov_theta)
    se = np.array(
        [np.sqrt(cov_theta[p.free, p.free]) if p.free >= 0 else 0.0 for p in table.params]
    )
    rows = []
    for k, p in enumerate(table.params):
        z = est[k] / se[k] if se[k] > 0 else np.nan
        rows.append(
            {
                "lhs": p.lhs,
                "op": p.op,
                "rhs": p.rhs,
                "label": p.label,
                "est": est[k],
                "se": se[k],
                "z": z,
                "pvalue": 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
                "ci_lower": est[k] - Z95 * se[k],
                "ci_upper": est[k] + Z95 * se[k],
                "std_est": std[k],
                "std_ci_lower": std[k] - Z95 * std_se[k],
                "std_ci_upper": std[k] + Z95 * std_se[k],
            }
        )
    return pd.DataFrame(rows)


def _standardized_se(table: ParameterTable, theta: np.ndarray, cov_theta: np.ndarray):
    """Delta-method standard errors of every std.all value (numerical Jacobian)."""
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    shifted = np.concatenate([theta + np.diag(steps), theta - np.diag(steps)])
    values = table.standardized(shifted)
    q = len(theta)
    jacobian = (values[:q] - values[q:]) / (2 * steps[:, None])  # (q, rows)
    variance = np.einsum("kr,kl,lr->r", jacobian, cov_theta, jacobian)
    return np.sqrt(np.clip(variance, 0, None))


def r2_rows(
    table: ParameterTable, theta: np.ndarray, boot: BootstrapDraws | None = None
) -> pd.DataFrame:
    """lavaan's `r2` rows (``lhs`` = ``rhs`` = the variable): R-squared of every endogenous
    variable, with its bootstrap SD and percentile interval when the fit has replicates."""
    names = list(endogenous(table))
    value = r_squared(table, theta)
    out = pd.DataFrame({"lhs": names, "op": "r2", "rhs": names, "label": "", "est": value})
    out["std_est"] = value
    if boot is not None:
        replicates = r_squared(table, boot.theta[boot.ok])
        out["se_boot"] = np.std(replicates, axis=0, ddof=1)
        out["boot_lower"], out["boot_upper"] = percentile_interval(replicates)
    return out


def intercept_rows(
    table: ParameterTable, theta: np.ndarray, means: np.ndarray, se: np.ndarray
) -> pd.DataFrame:
    """`~1` rows of the item intercepts (FIML), std.all = intercept / model-implied SD."""
    sd = np.sqrt(np.diag(table.sigma(theta)))
    z = means / se
    return pd.DataFrame(
        {
            "lhs": list(table.manifest),
            "op": "~1",
            "rhs": "",
            "label": "",
            "est": means,
            "se": se,
            "z": z,
            "pvalue": 2 * stats.norm.sf(np.abs(z)),
            "ci_lower": means - Z95 * se,
            "ci_upper": means + Z95 * se,
            "std_est": means / sd,
        }
    )


def effect_tables(
    spec: ModelSpec,
    table: ParameterTable,
    theta: np.ndarray,
    cov_theta: np.ndarray,
    draws: list[EffectDraws],
    boot: BootstrapDraws | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`:=` rows for estimates.csv and the effects.csv table (delta-method or bootstrap CIs)."""
    if not draws:
        return pd.DataFrame(), pd.DataFrame(columns=EFFECT_COLUMNS)
    grads = _effect_gradients(spec, table, theta)
    boot_draws = effect_draws(spec, table, boot.theta[boot.ok]) if boot is not None else None
    defined, effects = [], []
    for k, d in enumerate(draws):
        se = float(np.sqrt(grads[k] @ cov_theta @ grads[k]))
        z = float(d.raw) / se if se > 0 else np.nan
        row = {
            "effect": d.effect.name,
            "kind": d.kind,
            "level": "",
            "path": d.path,
            "est": float(d.raw),
            "se": se,
            "pvalue": 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
            "ci_lower": float(d.raw) - Z95 * se,
            "ci_upper": float(d.raw) + Z95 * se,
            "ci_method": "wald",
            "std_est": float(d.std),
            "std_ci_lower": np.nan,
            "std_ci_upper": np.nan,
            "se_method": "delta",
            "pvalue_method": "z = est / se (delta-method se), two-sided",
        }
        if boot_draws is not None:
            b = boot_draws[k]
            lo, hi = percentile_interval(b.raw)
            slo, shi = percentile_interval(b.std)
            bc_lo, bc_hi = bias_corrected_interval(b.raw, d.raw)
            boot_se = float(np.std(b.raw, ddof=1))
            row |= {
                "se": boot_se,
                "pvalue": 2 * stats.norm.sf(abs(float(d.raw) / boot_se)) if boot_se > 0 else np.nan,
                "se_method": "bootstrap",
                "pvalue_method": "z = est / se (bootstrap se), two-sided",
                "ci_lower": float(lo),
                "ci_upper": float(hi),
                "ci_method": "bootstrap-percentile",
                "std_ci_lower": float(slo),
                "std_ci_upper": float(shi),
                "bc_lower": float(bc_lo),
                "bc_upper": float(bc_hi),
            }
        effects.append(row)
        defined.append(
            {
                "lhs": defined_name(d.effect.name, d.kind),
                "op": ":=",
                "rhs": spec.effect_expression(d.effect, d.kind),
                "label": defined_name(d.effect.name, d.kind),
                "est": float(d.raw),
                "se": se,
                "z": z,
                "pvalue": 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
                "ci_lower": float(d.raw) - Z95 * se,
                "ci_upper": float(d.raw) + Z95 * se,
                "std_est": float(d.std),
            }
        )
    effects = pd.DataFrame(effects)
    extra = [c for c in effects.columns if c not in EFFECT_COLUMNS]
    return pd.DataFrame(defined), effects[EFFECT_COLUMNS + extra]


def _effect_gradients(spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Numerical gradients of every effect value with respect to theta (delta method)."""
    q = len(theta)
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    shifted = np.concatenate([theta + np.diag(steps), theta - np.diag(steps)])
    values = np.stack([d.raw for d in effect_draws(spec, table, shifted)])
    return (values[:, :q] - values[:, q:]) / (2 * steps)


def bootstrap_columns(estimates, table, spec, boot: BootstrapDraws) -> pd.DataFrame:
    """Bootstrap SD and percentile interval of every free parameter and `:=` row."""
    ok = boot.theta[boot.ok]
    values = table.values(ok)
    columns = np.column_stack([values, *[d.raw for d in effect_draws(spec, table, ok)]])
    lo, hi = percentile_interval(columns)
    out = estimates.copy()
    out["se_boot"] = np.std(columns, axis=0, ddof=1)
    out["boot_lower"] = lo
    out["boot_upper"] = hi
    fixed = [k for k, p in enumerate(table.params) if p.free < 0]
    out.loc[fixed, ["se_boot", "boot_lower", "boot_upper"]] = np.nan
    return out
