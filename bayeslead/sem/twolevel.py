"""Two-level ML (`engine: sem` with `data.cluster`): random-intercept SEM equal to lavaan's.

Within and between measurement and structural models (`sem.twolevel_models`), lavaan's
two-level likelihood (`core.twolevel_ml`), standard errors from the observed information (as
lavaan for two-level models), lavaan's fit measures (chi-square against the saturated two-level
model, CFI/TLI against the independence model of both levels, RMSEA with N respondents, SRMR
within and between from correlation residuals), the named effects at each level with
delta-method standard errors and Monte Carlo intervals (semTools' ``monteCarloCI``), and
latent and item ICCs. Hypotheses refer to the within level.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats as sstats

from bayeslead.config import SemConfig
from bayeslead.core.effects import defined_name, effect_draws
from bayeslead.core.twolevel_ml import (
    ClusterStats,
    cluster_stats,
    em_saturated,
    fixed_x_loglik,
    loglik_constant,
)
from bayeslead.core.twolevel_model import TwoLevelModel, fit_twolevel
from bayeslead.data import ResponseData
from bayeslead.data.values import file_rows
from bayeslead.errors import InputError, Problem
from bayeslead.results import EFFECT_COLUMNS, FitResult
from bayeslead.sem.fitmeasures import chisq_fit
from bayeslead.sem.tables import Z95, estimates_table
from bayeslead.sem.twolevel_checks import (
    check_between_constant,
    check_level_variables,
    weak_between_parts,
)
from bayeslead.sem.twolevel_models import (
    SaturatedMoments,
    TwoLevelSpecs,
    build_models,
    lavaan_syntax,
)
from bayeslead.sem.twolevel_tables import icc_table, srmr_levels

MC_DRAWS = 20000
LEVELS = ("within", "between")


def refuse_blanks(data: ResponseData, rows: pd.Index, settings: SemConfig) -> None:
    """Two-level ML has no FIML yet: blank answers are an input error unless the config asks
    for listwise deletion (`sem.missing: listwise`, lavaan's default)."""
    if settings.missing == "listwise":
        return
    raise InputError(
        f"Data file {data.path}: {file_rows(rows)} have blank answers, and two-level ML "
        "(engine: sem with data.cluster) has no full-information (FIML) likelihood yet. Use "
        "engine: bayes (its two-level likelihood of the observed answers is exact), or set "
        f"sem.missing: listwise to analyse the complete rows only ({len(rows)} rows dropped)"
    )


def fit_sem_twolevel(spec, data: ResponseData, settings: SemConfig) -> FitResult:
    """Fit the two-level random-intercept model of `spec` by ML."""
    started = time.perf_counter()
    within_only, between_only = tuple(settings.within_only), tuple(settings.between_only)
    check_level_variables(spec, within_only, between_only)
    clusters = data.id_column(spec.cluster, "cluster id")
    problems: list[Problem] = []
    frame = data.frame[list(spec.manifest)]
    keep = frame.notna().all(axis=1).to_numpy()
    if not keep.all():
        refuse_blanks(data, frame.index[~keep], settings)
        problems.append(
            Problem(
                "data",
                f"two-level ML uses complete rows: listwise deletion (sem.missing: listwise) "
                f"dropped {int((~keep).sum())}",
                "warning",
            )
        )
    frame, clusters = frame[keep], clusters[keep].to_numpy()
    check_between_constant(data, frame, clusters, between_only)
    level1 = tuple(v for v in spec.manifest if v not in between_only)
    stats = cluster_stats(
        frame[list(level1)].to_numpy(float),
        frame[list(between_only)].to_numpy(float),
        clusters,
        level1,
        between_only,
    )
    sigma_w, sigma_b, mu, h1_fmin, _, mu_w = em_saturated(stats, within_only)
    h1 = SaturatedMoments(sigma_w, sigma_b, mu, mu_w)
    specs = build_models(
        spec,
        stats,
        within_only,
        between_only,
        h1,
        settings.loadings_across_levels == "equal",
        settings.between_residuals,
    )
    problems += weak_between_parts(specs, stats, h1)
    h0 = specs.h0
    solution, hess = fit_twolevel(h0, stats, start_values(h0, stats))
    info: dict[str, object] = {
        "estimator": "ML (two-level, random intercepts)",
        "n_input": int(len(data.frame)),
        "n": int(stats.n),
        "clusters": int(stats.n_clusters),
        "cluster_sizes": {int(s): int(c) for s, c in zip(stats.sizes, stats.counts, strict=True)},
        "se": "standard (observed information)",
        "missing": "none (complete data)" if keep.all() else "listwise",
        "n_free": h0.n_free,
        "loadings_across_levels": settings.loadings_across_levels,
        "between_residuals": settings.between_residuals,
        "fixed_x": list(dict.fromkeys(specs.within_x + specs.between_x)),
        "hypotheses": "within level",
        "lavaan_syntax": lavaan_syntax(
            specs, settings.loadings_across_levels == "equal", settings.between_residuals == "zero"
        ),
    }
    solution.record(info, problems)
    cov_theta = covariance(hess, problems)
    theta = solution.theta
    fit, level_h1, base_ok = fit_measures(specs, stats, solution, h1, h1_fmin)
    if not base_ok:
        problems.append(Problem("fit", "the baseline model did not converge: CFI/TLI unreliable"))
    estimates = estimate_rows(specs, stats, theta, cov_theta)
    defined, effects = effect_rows(specs, theta, cov_theta, settings.seed)
    estimates = pd.concat([estimates, defined], ignore_index=True)
    for level, table, values in zip(
        LEVELS, (h0.within, h0.between), h0.expand(theta)[:2], strict=True
    ):
        for p in table.free_params:
            if p.op == "~~" and p.lhs == p.rhs and values[p.free] < 0:
                problems.append(
                    Problem(
                        f"{p.key} ({level})",
                        f"negative variance estimate {values[p.free]:.4f} at the {level} level",
                        "warning",
                    )
                )
    qw = h0.within.n_free
    return FitResult(
        engine="sem",
        estimates=estimates,
        effects=effects,
        fit=fit,
        info=info,
        extra_tables={"icc": icc_table(specs, stats, theta, level_h1)},
        problems=problems,
        timings={"estimation_s": round(time.perf_counter() - started, 3)},
        theta=theta[:qw],
        theta_cov=cov_theta[:qw, :qw],
    )


# --- estimation ------------------------------------------------------------------------------
def start_values(model: TwoLevelModel, stats: ClusterStats) -> np.ndarray:
    """Within start values from the pooled within covariance, between from the covariance of
    cluster means minus the within part, intercepts at the means of the cluster means."""
    weights = stats.counts / stats.counts.sum()
    grand = weights @ stats.means
    centred = stats.means - grand
    between = np.einsum(
        "k,kij->ij", weights, stats.covs + centred[:, :, None] * centred[:, None, :]
    )
    pz = len(stats.between_only)
    between[pz:, pz:] -= stats.s_pw * stats.n_clusters / stats.n
    vals, vecs = np.linalg.eigh(between)
    between = (vecs * np.maximum(vals, 0.05 * max(vals.max(), 1e-3))) @ vecs.T
    tilde = stats.tilde
    order = [tilde.index(v) for v in model.between.manifest]
    level1 = [stats.level1.index(v) for v in model.within.manifest]
    tw = matrix_start(model.within, stats.s_pw[np.ix_(level1, level1)])
    tb = matrix_start(model.between, between[np.ix_(order, order)])
    own = [tb[k] for k in range(model.between.n_free) if k not in model.ties]
    nu = [grand[tilde.index(name)] for _, name in model.intercepts]
    return np.concatenate([tw, own, nu])


def matrix_start(table, cov: np.ndarray) -> np.ndarray:
    """Covariance tables start at the matrix itself, structured tables at their simple starts."""
    if len(table.variables) == table.n_manifest:
        return np.array([cov[p.row, p.col] for p in table.free_params])
    return table.start_values(cov)


def covariance(hess: np.ndarray | None, problems: list[Problem]) -> np.ndarray:
    """Sampling covariance: the inverse of half the Hessian of -2 log L."""
    try:
        return np.linalg.inv(0.5 * hess)
    except (np.linalg.LinAlgError, TypeError):
        problems.append(
            Problem("estimation", "the information matrix is singular: no standard errors")
        )
        q = 0 if hess is None else hess.shape[0]
        return np.full((q, q), np.nan)


def fit_measures(
    specs: TwoLevelSpecs, stats: ClusterStats, solution, h1: SaturatedMoments, h1_fmin: float
) -> tuple[dict[str, float], dict[str, pd.DataFrame], bool]:
    """lavaan's fitMeasures() of a two-level ML fit against the saturated model `h1` (EM, as
    lavaan; `h1_fmin` its -2 log L), the saturated model's level covariances and whether the
    baseline converged."""
    fmin = solution.fmin
    sigma_w, sigma_b = h1.sigma_w, h1.sigma_b
    level2 = [v for v in stats.tilde if v not in specs.within_only]
    index = [stats.tilde.index(v) for v in level2]
    saturated = {
        "within": pd.DataFrame(sigma_w, stats.level1, stats.level1),
        "between": pd.DataFrame(sigma_b[np.ix_(index, index)], level2, level2),
    }
    base, _ = fit_twolevel(specs.baseline, stats, start_values(specs.baseline, stats), polish=False)
    npar, df = specs.h0.n_free, specs.h1.n_free - specs.h0.n_free
    chisq = fmin - h1_fmin
    chisq_base = base.fmin - h1_fmin
    df_base = specs.h1.n_free - specs.baseline.n_free
    # lavaan's loglik.x: the level-specific covariates only (not those at both levels)
    within_x = [stats.level1.index(x) for x in specs.within_x if x not in specs.both_x]
    between_x = [stats.between_only.index(z) for z in specs.between_x if z not in specs.both_x]
    shift = loglik_constant(stats) - fixed_x_loglik(stats, within_x, between_x)
    logl = -0.5 * fmin + shift
    out = {"npar": float(npar), "chisq": float(chisq), "df": float(df)}
    out |= chisq_fit(chisq, df, chisq_base, df_base, stats.n)
    out |= srmr_levels(specs, stats, saturated, solution.theta)
    out |= {
        "logl": float(logl),
        "unrestricted_logl": float(-0.5 * h1_fmin + shift),
        "aic": float(-2 * logl + 2 * npar),
        "bic": float(-2 * logl + np.log(stats.n) * npar),
        "baseline_chisq": float(chisq_base),
        "baseline_df": float(df_base),
        "ntotal": float(stats.n),
        "nclusters": float(stats.n_clusters),
    }
    return out, saturated, base.converged


# --- tables ----------------------------------------------------------------------------------
def level_covariances(model: TwoLevelModel, cov_theta: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sampling covariances of the within vector, the between vector and the intercepts."""
    qw, qm = model.within.n_free, len(model.intercepts)
    bmap = model.between_map()
    return cov_theta[:qw, :qw], bmap.T @ cov_theta @ bmap, cov_theta[-qm:, -qm:] if qm else None


def estimate_rows(specs, stats, theta, cov_theta) -> pd.DataFrame:
    """Every parameter of both levels (`level` within / between) and the intercepts."""
    h0 = specs.h0
    tw, tb, nu = h0.expand(theta)
    cw, cb, cm = level_covariances(h0, cov_theta)
    within = estimates_table(h0.within, tw, cw).assign(level="within")
    between = estimates_table(h0.between, tb, cb).assign(level="between")
    sigma = {1: h0.within.sigma(tw), 2: h0.between.sigma(tb)}
    tables = {1: h0.within, 2: h0.between}
    rows = []
    for k, (level, name) in enumerate(h0.intercepts):
        se = float(np.sqrt(cm[k, k]))
        i = tables[level].manifest.index(name)
        sd = np.sqrt(sigma[level][i, i])
        rows.append(intercept_row(name, nu[k], se, nu[k] / sd, LEVELS[level - 1]))
    for (level, name), value in h0.fixed_means.items():
        rows.append(intercept_row(name, value, 0.0, np.nan, LEVELS[level - 1]))
    out = pd.concat([within, between, pd.DataFrame(rows)], ignore_index=True)
    return out[
        [
            "lhs",
            "op",
            "rhs",
            "level",
            *[c for c in out.columns if c not in ("lhs", "op", "rhs", "level")],
        ]
    ]


def intercept_row(name, est, se, std, level) -> dict:
    z = est / se if se > 0 else np.nan
    return {
        "lhs": name,
        "op": "~1",
        "rhs": "",
        "label": "",
        "est": float(est),
        "se": se,
        "z": z,
        "pvalue": 2 * sstats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
        "ci_lower": est - Z95 * se,
        "ci_upper": est + Z95 * se,
        "std_est": std,
        "level": level,
    }


def level_effects(specs: TwoLevelSpecs, theta: np.ndarray) -> list[tuple[str, object]]:
    """(level, EffectDraws) of every named effect present at each level, for theta (..., q)."""
    tw, tb, _ = specs.h0.expand(theta)
    out = []
    for level, spec, table, values in (
        ("within", specs.within_spec, specs.h0.within, tw),
        ("between", specs.between_spec, specs.h0.between, tb),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):  # draws with a zero SD
            out += [(level, d) for d in effect_draws(spec, table, values)]
    return out


def effect_rows(specs, theta, cov_theta, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`:=` rows and effects.csv: delta-method SEs and Wald intervals (lavaan) plus Monte Carlo
    95% intervals of the raw and standardised effects."""
    point = level_effects(specs, theta)
    if not point:
        return pd.DataFrame(), pd.DataFrame(columns=EFFECT_COLUMNS)
    q = len(theta)
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    shifted = np.concatenate([theta + np.diag(steps), theta - np.diag(steps)])
    values = np.stack([d.raw for _, d in level_effects(specs, shifted)])
    grads = (values[:, :q] - values[:, q:]) / (2 * steps)
    rng = np.random.default_rng(seed)
    ok = np.all(np.isfinite(cov_theta))
    draws = rng.multivariate_normal(theta, cov_theta, MC_DRAWS, method="eigh") if ok else None
    mc = level_effects(specs, draws) if ok else None
    defined, effects = [], []
    for k, (level, d) in enumerate(point):
        est, std = float(d.raw), float(d.std)
        se = float(np.sqrt(grads[k] @ cov_theta @ grads[k])) if ok else np.nan
        z = est / se if se > 0 else np.nan
        p = 2 * sstats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        lo, hi = np.quantile(mc[k][1].raw, [0.025, 0.975]) if ok else (np.nan, np.nan)
        slo, shi = np.quantile(mc[k][1].std, [0.025, 0.975]) if ok else (np.nan, np.nan)
        effects.append(
            {
                "effect": d.effect.name,
                "kind": d.kind,
                "level": level,
                "path": d.path,
                "est": est,
                "se": se,
                "ci_lower": est - Z95 * se,
                "ci_upper": est + Z95 * se,
                "ci_method": "wald (delta method)",
                "std_est": std,
                "std_ci_lower": float(slo),
                "std_ci_upper": float(shi),
                "pvalue": p,
                "mc_lower": float(lo),
                "mc_upper": float(hi),
            }
        )
        spec = specs.within_spec if level == "within" else specs.between_spec
        name = f"{defined_name(d.effect.name, d.kind)}_{level}"
        defined.append(
            {
                "lhs": name,
                "op": ":=",
                "rhs": spec.effect_expression(d.effect, d.kind),
                "level": level,
                "label": name,
                "est": est,
                "se": se,
                "z": z,
                "pvalue": p,
                "ci_lower": est - Z95 * se,
                "ci_upper": est + Z95 * se,
                "std_est": std,
            }
        )
    effects = pd.DataFrame(effects)
    extra = [c for c in effects.columns if c not in EFFECT_COLUMNS]
    return pd.DataFrame(defined), effects[EFFECT_COLUMNS + extra]
