"""Initial values of the chains, from ML estimates (so every chain starts in the data's
reflection mode and warm-up is short)."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats

from bayeslead.bayes.blocks.ordinal import sampled_cuts
from bayeslead.bayes.blocks.parameters import initial_values
from bayeslead.bayes.blocks.scores import product_components
from bayeslead.bayes.data import ContinuousData, OrdinalData
from bayeslead.bayes.kernels.missing import em_moments
from bayeslead.bayes.kernels.missing_rows import row_data
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import ParameterTable, build_partable, rescale
from bayeslead.core.spec import ModelSpec


def ml_on_z(spec: ModelSpec, z: np.ndarray) -> tuple[ParameterTable, np.ndarray, np.ndarray | None]:
    """std.lv ML solution on z-scores (EM moments with missing data): table, theta, mean."""
    if np.isnan(z).any():
        mean, cov = saturated_moments(z)
    else:
        mean, cov = None, np.cov(z.T, bias=True)
    table, theta = ml_on_moments(spec, cov)
    return table, theta, mean


def ml_on_moments(spec: ModelSpec, cov: np.ndarray) -> tuple[ParameterTable, np.ndarray]:
    """std.lv ML solution on a covariance (or correlation) matrix: table, theta.

    The fit uses lavaan's marker identification (robust start values) and is then rescaled
    to standardised latents; if it does not converge, the marker start values are used.
    """
    marker = build_partable(spec)
    table = build_partable(spec, "std.lv")
    start = marker.start_values(cov)
    solution = fit_ml(marker, cov, start, max_iter=300)
    theta = solution.theta if solution.converged else start
    a, s = marker.matrices(theta)
    scales = np.ones(len(marker.variables))
    latent = np.arange(marker.n_manifest, len(marker.variables))
    scales[latent] = 1.0 / np.sqrt(np.clip(np.diag(s)[latent], 1e-3, None))
    return table, rescale(marker, table, theta, scales)


def saturated_moments(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ML (EM) mean and covariance of items with blanks (NaN; rows without answers dropped)."""
    rows = z[~np.isnan(z).all(axis=1)]
    mu, sigma = np.nanmean(rows, axis=0), np.diag(np.nanvar(rows, axis=0))
    mean, cov, _ = em_moments(row_data(rows), mu, sigma)
    return mean, cov


def continuous_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, data: ContinuousData
) -> dict:
    """Initial values of the continuous model: the ML estimates on the z-scored items."""
    _, theta, mean = ml_on_z(spec, data.z)
    initial = initial_values(spec, table, priors, theta)
    if mean is not None:
        initial["intercepts"] = mean
    return initial


def unit_residual_theta(
    table: ParameterTable, ml_table: ParameterTable, theta_ml: np.ndarray
) -> np.ndarray:
    """An std.lv ML solution moved to the theta parameterisation of `table` (item residual
    variances 1): each loading divided by its item's residual SD; parameters the solution does
    not have (the coefficients of latent interactions) start at 0."""
    _, s = ml_table.matrices(theta_ml)
    p = table.n_manifest
    residual_sd = np.sqrt(np.clip(np.diag(s)[:p], 0.05, None))
    by_key = {q.key: theta_ml[q.free] for q in ml_table.free_params}
    theta = np.array([by_key.get(q.key, 0.0) for q in table.free_params])
    for q in table.free_params:
        if q.op == "=~" and q.row < p:
            theta[q.free] = by_key[q.key] / residual_sd[q.row]
    return theta


def polychoric_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, corr: np.ndarray
) -> dict:
    """Initial values of the limited-information ordinal model: ML on the polychoric matrix
    `corr`, in the theta parameterisation, so chains start at the data's signs (nutpie's own
    start gave R-hat 2.4 on psych's bfi)."""
    ml_table, theta_ml = ml_on_moments(spec, corr)
    return initial_values(spec, table, priors, unit_residual_theta(table, ml_table, theta_ml))


def marker_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, data: ContinuousData
) -> dict:
    """Initial values of a constrained model sampled on the marker metric: the ML estimates of
    its own (constrained) table on the scaled items."""
    if data.complete:
        mean, cov = None, data.scatter / data.n
    else:
        mean, cov = saturated_moments(data.z)
    start = table.start_values(cov)
    solution = fit_ml(table, cov, start, max_iter=300)
    initial = initial_values(spec, table, priors, solution.theta if solution.converged else start)
    if mean is not None:
        initial["intercepts"] = mean
    return initial


def ordinal_start(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    x: np.ndarray,
    data: OrdinalData,
    anchored: bool = False,
) -> dict:
    """Initial values of the ordinal model from ML on z-scored responses.

    Loadings move to the theta parameterisation (unit residual variance of y*), thresholds
    (in units of the y* SD) are the normal quantiles of the cumulative category shares, and
    the standardised latent scores start at the standardised regression factor scores.
    `anchored`: the thresholds are sampled as each item's middle cut (`threshold_cuts`).
    """
    z = (x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0, ddof=1)
    # interaction coefficients start at 0; ML of the linear part is consistent for the rest
    ml_table, theta_ml, _ = ml_on_z(dataclasses.replace(spec, interactions=()), z)
    p = table.n_manifest
    initial = initial_values(spec, table, priors, unit_residual_theta(table, ml_table, theta_ml))
    name, sampled = sampled_cuts(data, anchored)
    anchors, gaps = [], []
    for j, anchor in enumerate(sampled):
        share = np.clip(np.cumsum(data.proportions[j])[:-1], 1e-4, 1 - 1e-4)
        cuts = stats.norm.ppf(share)  # thresholds in units of the y* SD
        cuts = np.maximum.accumulate(cuts + np.arange(len(cuts)) * 1e-3)
        anchors.append(cuts[anchor])
        gaps += list(np.maximum(np.diff(cuts), 1e-2))
    initial[name] = np.array(anchors)
    if gaps:
        initial["threshold_gaps"] = np.array(gaps)
    z_implied = ml_table.implied(theta_ml)
    first_order = sorted({q.col for q in ml_table.params if q.kind == "loading" and q.row < p})
    scores = np.nan_to_num(z) @ np.linalg.solve(z_implied[:p, :p], z_implied[:p, first_order])
    scores /= np.sqrt(np.diag(z_implied)[first_order])  # standardised scores
    # a small fixed perturbation: nutpie rejects starting points with an exactly zero gradient
    initial["scores"] = scores + 0.01 * np.random.default_rng(0).standard_normal(scores.shape)
    return initial


def interaction_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, data: ContinuousData
) -> dict:
    """Initial values of the latent-interaction model.

    ML of the linear part on the z-scored items is consistent for the linear parameters (a
    product of zero-mean normal constructs is uncorrelated with every normal variable, so the
    items' covariance is the linear model's with inflated outcome residuals); the sampled
    scores start at the regression factor scores and each interaction coefficient at the
    factor-score regression of its outcome on its predictors and the product.
    """
    linear = dataclasses.replace(spec, interactions=())
    ml_table, theta_ml, _ = ml_on_z(linear, data.z)
    by_key = {q.key: theta_ml[q.free] for q in ml_table.free_params}
    implied = ml_table.implied(theta_ml)
    p = table.n_manifest
    z = data.z - data.z.mean(axis=0)
    scores = z @ np.linalg.solve(implied[:p, :p], implied[:p, p:])  # every latent, std.lv
    column = {name: k for k, name in enumerate(ml_table.variables[p:])}
    for q in spec.interactions:
        predictors = [r.predictor for r in spec.regressions if r.outcome == q.outcome]
        x = [scores[:, column[name]] for name in predictors]
        x.append(scores[:, column[q.left]] * scores[:, column[q.right]])
        x = np.column_stack([np.ones(len(z)), *x])
        by_key[q.key] = np.linalg.lstsq(x, scores[:, column[q.outcome]], rcond=None)[0][-1]
    theta = np.array([by_key[q.key] for q in table.free_params])
    initial = initial_values(spec, table, priors, theta)
    components, _, _ = product_components(table)
    start = scores[:, [column[table.variables[k]] for k in components]]
    # a small fixed perturbation: nutpie rejects starting points with an exactly zero gradient
    initial["scores"] = start + 0.01 * np.random.default_rng(0).standard_normal(start.shape)
    return initial
