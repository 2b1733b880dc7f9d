"""The ML engine: ModelSpec + responses -> FitResult with lavaan's estimates and fit measures.

Complete data: semopy's ML solution refined by Fisher scoring to lavaan's optimum, standard
errors from the expected (lavaan's default) or observed information, fit measures, and a
nonparametric bootstrap of every parameter and effect. Missing values: full-information ML
(`bayeslead.sem.fiml`) with observed-information standard errors, as lavaan's
``missing = "ml"``; `sem.missing: listwise` drops incomplete rows instead (and says so).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bayeslead.config import SemConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.meanstructure import (
    intercept_errors,
    manifest_intercepts,
    saturated_covariance,
)
from bayeslead.core.ml import (
    expected_information,
    fit_ml,
    observed_information,
    positive_definite_start,
)
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem
from bayeslead.results import FitResult
from bayeslead.sem import fiml
from bayeslead.sem.bootstrap import (
    bootstrap,
)
from bayeslead.sem.conditional import project
from bayeslead.sem.fitmeasures import complete_data_fit
from bayeslead.sem.product_indicators import (
    product_factors,
    product_indicator_spec,
    renamed,
    with_products,
)
from bayeslead.sem.quality import measurement_quality
from bayeslead.sem.semopy_backend import semopy_start
from bayeslead.sem.tables import (
    bootstrap_columns,
    effect_tables,
    estimates_table,
    intercept_rows,
    r2_rows,
)


def fit_sem(
    spec: ModelSpec, data: ResponseData, settings: SemConfig, progress: bool = True
) -> FitResult:
    """Fit `spec` by ML and return estimates, effects, fit measures and reliability."""
    if settings.estimator == "WLSMV":
        from bayeslead.sem.ordinal import fit_sem_ordinal

        return fit_sem_ordinal(spec, data, settings)
    if spec.cluster:
        from bayeslead.sem.twolevel import fit_sem_twolevel

        return fit_sem_twolevel(spec, data, settings)
    if spec.group:
        from bayeslead.sem.groups import fit_sem_groups

        return fit_sem_groups(spec, data, settings)
    started = time.perf_counter()
    model_spec, products = spec, product_factors(spec)
    frame = data.frame[list(spec.manifest)]
    if products:  # latent interactions: the linear model of the product indicators
        model_spec = product_indicator_spec(spec, products)
        frame = with_products(frame, products)[list(model_spec.manifest)]
    table = build_partable(model_spec)
    problems: list[Problem] = []
    check_identified(model_spec, table)
    # missing: fiml fits the mean structure by FIML even on complete data (lavaan's missing = "ml")
    use_fiml = settings.missing == "fiml" or (data.has_missing and settings.missing == "auto")
    info: dict[str, object] = {"estimator": "ML", "n_input": int(len(frame))}
    if data.has_missing and not use_fiml:
        frame = frame.dropna()
        dropped = info["n_input"] - len(frame)
        problems.append(
            Problem("data", f"listwise deletion dropped {dropped} incomplete rows", "warning")
        )
    x = frame.to_numpy(dtype=float)
    n = x.shape[0]
    info["n"] = int(n)
    if use_fiml:
        estimate = _fit_fiml(model_spec, table, x, problems, info)
    else:
        estimate = _fit_complete(model_spec, table, frame, x, settings, problems, info)
    theta, cov_theta, fit, intercepts, inverse_hessian = estimate
    info["n_free"] = table.n_free
    if intercepts is None and spec.intercepts:
        intercepts = _saturated_means(model_spec, table, theta, cov_theta, x, fit)
    estimates = estimates_table(table, theta, cov_theta)
    draws = effect_draws(model_spec, table, theta)
    boot = None
    if settings.bootstrap > 0:
        boot_started = time.perf_counter()
        boot = bootstrap(
            table,
            x[~np.isnan(x).all(axis=1)] if use_fiml else x,
            theta,
            settings.bootstrap,
            settings.seed,
            settings.workers,
            progress,
            means=intercepts[0] if use_fiml else None,
            inverse_hessian=inverse_hessian,
        )
        info["bootstrap"] = {
            "requested": settings.bootstrap,
            "failed": boot.n_failed,
            "seed": settings.seed,
            "seconds": round(time.perf_counter() - boot_started, 3),
            "refit": "FIML (rows resampled with their missing cells)" if use_fiml else "ML",
        }
        if boot.n_failed:
            problems.append(
                Problem(
                    "bootstrap",
                    f"{boot.n_failed} of {settings.bootstrap} bootstrap replicates did not converge "
                    "and were left out of the intervals",
                    "warning",
                )
            )
    defined, effects = effect_tables(model_spec, table, theta, cov_theta, draws, boot)
    estimates = pd.concat([estimates, defined], ignore_index=True)
    if boot is not None:
        estimates = bootstrap_columns(estimates, table, model_spec, boot)
    if intercepts is not None:  # after the parameters (no bootstrap replicates of the means)
        if use_fiml:  # FIML's means -> lavaan's intercepts (inverse_hessian = cov * n / 2)
            mu, cov_joint = intercepts[0], inverse_hessian * 2.0 / n
            intercepts = (
                manifest_intercepts(table, theta, mu),
                intercept_errors(table, theta, mu, cov_joint),
            )
        rows = intercept_rows(table, theta, *intercepts)
        k = len(table.params)
        estimates = pd.concat([estimates[:k], rows, estimates[k:]], ignore_index=True)
    estimates = pd.concat([estimates, r2_rows(table, theta, boot)], ignore_index=True)
    problems += heywood_cases(table, theta)
    reliability, htmt, correlations = measurement_quality(spec, frame)
    kept = boot.theta[boot.ok] if boot is not None else None
    extra = {} if correlations is None else {"latent_correlations": correlations}
    if products:
        names = renamed(products)
        info["interactions"] = (
            "unconstrained double-mean-centred product indicators (Marsh, Wen & Hau 2004; "
            "Lin et al. 2010), items matched in questionnaire order"
        )
        q = project(spec, table, names, theta, cov_theta, boot, settings.seed)
        estimates = pd.concat([estimates, q.defined], ignore_index=True)
        estimates[["lhs", "rhs"]] = estimates[["lhs", "rhs"]].replace(names)
        effects = pd.concat([effects, q.effects], ignore_index=True)
        theta, cov_theta, kept = q.theta, q.theta_cov, q.draws
        extra |= q.tables
    return FitResult(
        engine="sem",
        estimates=estimates,
        effects=effects,
        fit=fit,
        info=info,
        reliability=reliability,
        htmt=htmt,
        extra_tables=extra,
        problems=problems,
        timings={"estimation_s": round(time.perf_counter() - started, 3)},
        theta=theta,
        theta_cov=cov_theta,
        draws=kept,
        draws_kind="bootstrap" if kept is not None else "",
    )


# --- estimation ------------------------------------------------------------------------------
def _fit_complete(spec, table, frame, x, settings, problems, info):
    n = x.shape[0]
    cov = np.cov(x.T, bias=True)
    check_sample_covariance(cov, list(table.manifest))
    solution, info["start"] = fit_from_starts(spec, table, frame, cov)
    solution.record(info, problems)
    if settings.information == "expected":
        unit_info = expected_information(table, solution.theta)
    else:
        unit_info = observed_information(table, solution.theta, cov)
    info["se"] = f"standard ({settings.information} information)"
    info["missing"] = "none (complete data)" if info["n_input"] == n else "listwise"
    cov_theta = _invert_information(n * unit_info, table, problems)
    exogenous = set(spec.exogenous())
    fixed_x = tuple(i for i, name in enumerate(table.manifest) if name in exogenous)
    sigma = table.sigma(solution.theta)
    fit = complete_data_fit(n, cov, sigma, solution.fmin, table.n_free, fixed_x)
    return solution.theta, cov_theta, fit, None, None


def fit_from_starts(spec: ModelSpec, table: ParameterTable, frame: pd.DataFrame, cov: np.ndarray):
    """Fisher scoring from lavaan-like simple starts, then from semopy's solution (slower: its
    SLSQP fit costs more than ours), each with its covariances damped until the implied
    covariance is positive definite; the first start that converges wins (else the lowest F_ML,
    reported as not converged)."""
    starts = [
        ("simple", lambda: table.start_values(cov)),
        ("semopy", lambda: semopy_start(spec, table, frame)),
    ]
    if spec.settings or spec.equalities or spec.label_values:
        starts = starts[:1]  # semopy's model has no labels or fixed values
    tried = []
    for name, make in starts:
        start = make()
        if start is None:
            continue
        solution = fit_ml(table, cov, positive_definite_start(table, start))
        if solution.converged:
            return solution, name
        tried.append((solution, name))
    best = min(tried, key=lambda t: t[0].fmin if np.isfinite(t[0].fmin) else np.inf)
    return best[0], f"{best[1]} (no start converged)"


def _saturated_means(spec, table, theta, cov_theta, x, fit):
    """Intercepts of a model with '~ 1' rows on complete data (lavaan's meanstructure):
    saturated, so the implied means are the sample means (SE sqrt(Sigma_ii / N), observed
    predictors' means fixed as lavaan's fixed.x) and the intercepts follow from them
    (`core.meanstructure`); npar, AIC and BIC count them, the other fit measures are
    unchanged."""
    n, p = x.shape
    fit["npar"] += p
    fit["aic"] += 2 * p
    fit["bic"] += np.log(n) * p
    exogenous = set(spec.exogenous()) & set(spec.observed)
    fixed = np.array([name in exogenous for name in table.manifest])
    means = x.mean(axis=0)
    se = intercept_errors(
        table, theta, means, saturated_covariance(table, theta, cov_theta, n, fixed)
    )
    return manifest_intercepts(table, theta, means), se


def _fit_fiml(spec, table, x, problems, info):
    result = fiml.fit_fiml(table, x)
    result.solution.record(info, problems)
    info["missing"] = "FIML (full-information ML over missing-data patterns)"
    info["se"] = "standard (observed information)"
    info["patterns"] = result.n_patterns
    q = table.n_free
    full = _invert_information(result.information, table, problems, size=len(result.solution.theta))
    means = (result.solution.theta[q:], np.sqrt(np.clip(np.diag(full)[q:], 0, None)))
    # inverse Hessian of -2logL / n (information = n/2 * Hessian): the bootstrap's Newton steps
    inverse_hessian = full * info["n"] / 2
    return result.solution.theta[:q], full[:q, :q], result.fit, means, inverse_hessian


def _invert_information(information, table, problems, size=None) -> np.ndarray:
    size = size or table.n_free
    try:
        full = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        problems.append(
            Problem("estimation", "the information matrix is singular: no standard errors")
        )
        return np.full((size, size), np.nan)
    cov = full[:size, :size]
    if np.any(np.diag(cov) < 0):
        problems.append(
            Problem("estimation", "negative sampling variances: standard errors unreliable")
        )
    return cov


def check_identified(spec: ModelSpec, table: ParameterTable) -> None:
    """Raise `InputError` when the model has more parameters than moments or is locally
    unidentified (singular information at start values), naming the parameters involved."""
    p = len(spec.manifest)
    moments = p * (p + 1) // 2
    if table.n_free > moments:
        raise InputError(
            f"The model is not identified: it has {table.n_free} free parameters but the "
            f"{p} observed variables give only {moments} variances and covariances "
            f"(df = {moments - table.n_free}). Add indicators or fix parameters."
        )
    theta = identification_point(table)
    info = expected_information(table, theta)
    vals, vecs = np.linalg.eigh(info)
    if vals[0] < 1e-10 * max(vals[-1], 1e-300):
        null = vecs[:, 0]
        involved = [
            table.free_params[k].key for k in np.argsort(-np.abs(null))[:4] if abs(null[k]) > 0.1
        ]
        raise InputError(
            "The model is not identified: these parameters cannot be told apart from the data: "
            + ", ".join(involved)
            + ". Check constructs with fewer than 3 indicators (a 2-indicator construct needs "
            "a correlate) and second-order constructs with 2 dimensions."
        )


def identification_point(table: ParameterTable) -> np.ndarray:
    """A generic parameter point with a positive-definite implied covariance, for the local
    identification check: loadings and paths in [0.5, 1], variances 1, covariances small
    (fixed seed, so the check is reproducible)."""
    rng = np.random.default_rng(20240614)
    theta = np.ones(table.n_free)
    for p in table.free_params:
        if p.matrix == "A":
            theta[p.free] = rng.uniform(0.5, 1.0)
        elif p.row != p.col:
            theta[p.free] = rng.uniform(0.05, 0.15)
    return positive_definite_start(table, theta)


def check_sample_covariance(cov: np.ndarray, names: list[str]) -> None:
    """Raise `InputError` when the sample covariance is not positive definite, naming items."""
    variances = np.diag(cov)
    constant = [names[i] for i in np.flatnonzero(variances <= 1e-12)]
    if constant:
        raise InputError(
            f"Columns with no variance (every respondent gave the same answer): {', '.join(constant)}; "
            "the sample covariance matrix is not positive definite."
        )
    corr = cov / np.sqrt(np.outer(variances, variances))
    vals, vecs = np.linalg.eigh(corr)
    if vals[0] < 1e-8:
        null = vecs[:, 0]
        involved = [names[k] for k in np.argsort(-np.abs(null)) if abs(null[k]) > 0.1][:6]
        raise InputError(
            "The sample covariance matrix is not positive definite (smallest eigenvalue "
            f"{vals[0]:.2g}): these columns are linearly dependent: {', '.join(involved)}. "
            "Remove duplicated or derived columns."
        )


def heywood_cases(table: ParameterTable, theta: np.ndarray) -> list[Problem]:
    """Negative variance estimates (Heywood cases) and non-positive-definite latent covariances."""
    problems = []
    for p in table.free_params:
        if p.op == "~~" and p.lhs == p.rhs and theta[p.free] < 0:
            problems.append(
                Problem(
                    p.key,
                    f"Heywood case: negative variance estimate {theta[p.free]:.4f}; the model is "
                    "misspecified or a construct has too few or too weak indicators",
                )
            )
    return problems
