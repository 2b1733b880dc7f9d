"""Two-level Bayesian SEM with continuous items: the model builder.

Within-cluster model: the single-level std.lv parameterisation (loadings shared by both levels,
structural paths, unit latent residual variances). Between-cluster model: level-specific paths
(or the within paths with `bayes.between_paths: shared`), free latent (residual) SDs, LKJ
correlations of the exogenous constructs, item residual SDs and item means. Random slopes on
listed within paths: u_j = diag(tau) L z_j with z_j ~ N(0, I) (non-centred), L the Cholesky
factor of an LKJ correlation matrix when there are several slopes.

The clusters' sizes, means and centred rows are data containers (`moment_containers`), so the
compiled model depends on the structure only: the number of clusters is structure only with
random slopes (their cluster values are parameters). With observed covariates or blank answers
(integrated out exactly, `blanks.py`) the data are still graph constants (a refit of the same
data re-uses the compiled model).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.lkj import lkj_vine_shapes, vine_cholesky
from bayeslead.bayes.blocks.parameters import free_parameters, initial_values, rv
from bayeslead.bayes.blocks.ram import diagonal, diagonal_matrix, path_depth, ram_matrices
from bayeslead.bayes.data import ContinuousData
from bayeslead.bayes.kernels.twolevel import ClusterMoments, twolevel_loglik
from bayeslead.bayes.models.twolevel.blanks import (
    Blanks,
    blank_moments,
    joined_scatter,
)
from bayeslead.bayes.models.twolevel.covariates import (
    Covariates,
    cluster_offsets,
    covariate_effects,
    within_scatter_term,
)
from bayeslead.bayes.models.twolevel.latent_means import between_effects, sampled_latent_means
from bayeslead.bayes.models.twolevel.level3 import Level3, level3_offsets
from bayeslead.bayes.priors import PriorSet
from bayeslead.bayes.start import ml_on_z
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError


def slope_positions(
    spec: ModelSpec, table: ParameterTable, random_slopes: list[tuple[str, str]]
) -> list[tuple[int, int]]:
    """Positions (row, column) in the latent block of B of each random slope [predictor, outcome]."""
    p = table.n_manifest
    out = []
    for k, (predictor, outcome) in enumerate(random_slopes):
        if spec.regression(outcome, predictor) is not None and predictor in spec.observed:
            raise InputError(
                f"Config: bayes.random_slopes[{k}]: [{predictor}, {outcome}]: random slopes of "
                "observed covariates are not estimated by engine: bayes yet (slopes between "
                "constructs only)"
            )
        if spec.regression(outcome, predictor) is None:
            paths = ", ".join(f"[{r.predictor}, {r.outcome}]" for r in spec.regressions)
            raise InputError(
                f"Config: bayes.random_slopes[{k}]: [{predictor}, {outcome}] is not a path of the model; "
                f"paths are [predictor, outcome]: {paths}"
            )
        out.append((table.variables.index(outcome) - p, table.variables.index(predictor) - p))
    return out


def build_twolevel_model(
    spec: ModelSpec,
    table: ParameterTable,
    moments: ClusterMoments,
    priors: PriorSet,
    positions: list[tuple[int, int]],
    between_paths: str,
    level3: Level3 | None = None,
    covariates: Covariates | None = None,
    blanks: Blanks | None = None,
) -> pm.Model:
    """PyMC model of the two-level SEM with random slopes (see the module docstring); with
    `level3`, clusters nested in level-3 units with their own construct intercepts
    (`level3.py`); with `covariates`, observed within-only and between-only covariates
    (`covariates.py`); with `blanks`, the blank answers integrated out (`blanks.py`)."""
    p = table.n_manifest
    k = len(spec.items)  # the items come first among the manifest variables
    latents = list(table.variables[p:])
    coords = {
        "item": list(table.manifest[:k]),
        "latent": latents,
        "cluster": [str(c) for c in moments.labels],
    }
    with pm.Model(coords=coords) as model:
        theta = free_parameters(spec, table, priors)
        a, s = ram_matrices(table, theta)
        lam, beta_w, psi_w = a[:k, p:], a[p:, p:], s[p:, p:]
        theta_w = diagonal(s, len(table.variables))[:k]
        beta_b, psi_b = between_structure(spec, table, priors, beta_w, between_paths)
        theta_b = rv("between_residual_sd", priors.classes["between_residual_sd"], dims="item") ** 2
        mu = rv("intercepts", priors.classes["intercepts"], dims="item")
        rows = np.array([r for r, _ in positions], dtype=int)
        cols = np.array([c for _, c in positions], dtype=int)
        depth = max(path_depth(table) - 1, 1)
        offsets = level3_offsets(table, priors, lam, level3) if level3 else None
        a_w = None
        if covariates is not None and covariates.names:
            a_w, a_b = covariate_effects(covariates, a, lam, beta_w, beta_b, p, depth)
            a_x = x_b = None
            if covariates.both:  # latent cluster means and their between effects
                x_b = sampled_latent_means(covariates.latent)
                a_x = between_effects(
                    spec,
                    table,
                    priors,
                    covariates.both,
                    covariates.both_cols,
                    a,
                    lam,
                    beta_b,
                    depth,
                    between_paths,
                )
            shift = cluster_offsets(covariates, a_w, a_b, a_x, x_b)
            offsets = shift if offsets is None else offsets + shift
        slopes = random_slopes(table, priors, positions, len(moments.labels))
        data = None
        if blanks is not None:  # integrated out: the rows at the blanks' conditional means
            parameters = (lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes, rows, cols)
            data = blank_moments(moments, blanks, (*parameters, mu), depth, offsets, a_w)
        if a_w is not None and covariates.level1:  # within scatter less the covariates' effects
            moments = replace(moments, centred=np.zeros_like(moments.centred))
            scatter = None
            if data is not None:  # the blanks' within additions join the graph's scatter
                scatter = joined_scatter(data.centred, blanks, data.extra_within)
                data = replace(
                    data,
                    centred=moments.centred,
                    extra_within=pt.zeros_like(data.extra_within),
                )
            within = within_scatter_term(
                covariates, a_w, lam, beta_w, psi_w, theta_w, depth, scatter
            )
            pm.Potential("within_scatter", within)
        if data is None and (covariates is None or not covariates.names):
            moments = moment_containers(moments)
        loglik = twolevel_loglik(
            lam,
            theta_w,
            theta_b,
            psi_w,
            psi_b,
            beta_w,
            beta_b,
            slopes,
            rows,
            cols,
            mu,
            moments,
            depth,
            offsets=offsets,
            data=data,
        )
        pm.Potential("loglik", loglik)
    return model


def moment_containers(moments: ClusterMoments) -> ClusterMoments:
    """`moments` with the clusters' sizes, means and centred rows as data containers
    ("cluster_counts", "cluster_means", "cluster_rows"), inside a model: the compiled model then
    depends on the structure only (the number of clusters only through random slopes' or
    level-3 parameters), so other data of that structure re-use it."""
    return replace(
        moments,
        counts=pm.Data("cluster_counts", moments.counts),
        means=pm.Data("cluster_means", moments.means),
        centred=pm.Data("cluster_rows", moments.centred),
    )


def between_structure(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, beta_w, between_paths: str
) -> tuple:
    """Between-cluster paths and latent (residual) covariance, (m, m) each, inside a model.

    Paths are level-specific (variable `between_paths`) when `between_paths` is "specific",
    else the within ones; SDs are `between_sd`, exogenous correlations LKJ (`between_partial`).
    Registers the deterministics `beta_between` and `psi_between`.
    """
    model = pm.modelcontext(None)
    p = table.n_manifest
    latents = list(table.variables[p:])
    m = len(latents)
    regressions = latent_regressions(spec)
    structural = [
        (table.variables.index(r.outcome) - p, table.variables.index(r.predictor) - p)
        for r in regressions
    ]
    if between_paths == "specific" and structural:
        model.add_coord("between_path", [r.key for r in regressions])
        paths_b = rv("between_paths", priors.classes["paths"], dims="between_path")
        basis = np.zeros((len(structural), m, m))
        mask = np.ones((m, m))
        for k, (row, col) in enumerate(structural):
            basis[k, row, col] = 1.0
            mask[row, col] = 0.0
        beta_b = beta_w * mask + pt.tensordot(paths_b, basis, axes=1)
    else:
        beta_b = beta_w
    sd_b = rv("between_sd", priors.classes["between_sd"], dims="latent")
    psi_b = diagonal_matrix(sd_b**2, m)
    exogenous = [latents.index(n) for n in spec.exogenous() if n in latents]
    if len(exogenous) > 1:
        shapes = lkj_vine_shapes(len(exogenous), priors.classes["latent_correlation"].args[0])
        partial = pm.Beta("between_partial", alpha=shapes, beta=shapes, shape=len(shapes))
        chol = vine_cholesky(2.0 * partial - 1.0, len(exogenous))
        block = (chol @ chol.T) * sd_b[exogenous][:, None] * sd_b[exogenous][None, :]
        psi_b = pt.set_subtensor(psi_b[np.ix_(exogenous, exogenous)], block)
    pm.Deterministic("beta_between", beta_b)
    pm.Deterministic("psi_between", psi_b)
    return beta_b, psi_b


def latent_regressions(spec: ModelSpec) -> list:
    """The paths between constructs (covariates' paths belong to one level only)."""
    latents = set(spec.latents)
    return [r for r in spec.regressions if r.predictor in latents]


def random_slopes(
    table: ParameterTable, priors: PriorSet, positions: list[tuple[int, int]], n_clusters: int
):
    """Cluster deviations (n_clusters, r) of the random slopes at `positions`, inside a model:
    ``diag(slope_sd) L slope_z`` with `slope_z` standard normal (non-centred) and L the Cholesky
    factor of an LKJ correlation matrix (`slope_corr`) when there are several slopes."""
    if not positions:
        return pt.zeros((n_clusters, 0))
    tau = slope_sd(table, priors, positions)
    z = pm.Normal("slope_z", 0.0, 1.0, dims=("cluster", "slope"))
    chol = slope_correlation(priors, len(positions))
    return (z if chol is None else z @ chol.T) * tau[None, :]


def slope_sd(table: ParameterTable, priors: PriorSet, positions: list[tuple[int, int]]):
    """The SDs `slope_sd` of the random slopes at `positions` (coordinate `slope`), in a model."""
    latents = list(table.variables[table.n_manifest :])
    pm.modelcontext(None).add_coord("slope", [f"{latents[r]}~{latents[c]}" for r, c in positions])
    return rv("slope_sd", priors.classes["slope_sd"], dims="slope")


def slope_correlation(priors: PriorSet, r: int):
    """Cholesky factor of the LKJ correlation matrix of r random slopes (`slope_partial`,
    deterministic `slope_corr`), in a model; None for a single slope."""
    if r == 1:
        return None
    shapes = lkj_vine_shapes(r, priors.classes["latent_correlation"].args[0])
    partial = pm.Beta("slope_partial", alpha=shapes, beta=shapes, shape=len(shapes))
    chol = vine_cholesky(2.0 * partial - 1.0, r)
    pm.Deterministic("slope_corr", chol @ chol.T)
    return chol


def between_start(
    spec: ModelSpec,
    table: ParameterTable,
    paths: np.ndarray,
    n_clusters: int,
    positions: list[tuple[int, int]],
    between_paths: str,
) -> dict[str, np.ndarray]:
    """Initial values of `between_structure` and `random_slopes`: between SDs 0.3, between paths
    at the within values `paths` (`latent_regressions` order), slope SDs 0.1 and slopes near
    zero."""
    m = len(table.variables) - table.n_manifest
    initial = {"between_sd": np.full(m, 0.3)}
    if between_paths == "specific" and latent_regressions(spec):
        initial["between_paths"] = np.asarray(paths, dtype=float)
    if positions:
        shape = (n_clusters, len(positions))
        initial["slope_sd"] = np.full(len(positions), 0.1)
        # a small fixed perturbation: nutpie rejects starting points with an exactly zero gradient
        initial["slope_z"] = 0.01 * np.random.default_rng(0).standard_normal(shape)
    return initial


def twolevel_start(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    between_paths: str,
    cdata: ContinuousData,
    moments: ClusterMoments,
    positions: list[tuple[int, int]],
) -> dict[str, np.ndarray]:
    """ML estimates of the single-level model as within values; between parts small."""
    full, estimates, _ = ml_on_z(spec, cdata.z)
    # the single-level solution in `table`'s layout (which fixes the covariates' moments)
    theta = np.array([estimates[full.index(p.key)] for p in table.free_params])
    initial = initial_values(spec, table, priors, theta)
    paths = np.array([theta[table.index(r.key)] for r in latent_regressions(spec)])
    initial |= between_start(spec, table, paths, len(moments.counts), positions, between_paths)
    initial["between_residual_sd"] = np.full(moments.means.shape[1], 0.2)
    initial["intercepts"] = moments.means.mean(axis=0)
    return initial
