"""Two-level Bayesian SEM: model builder and the summaries that only two-level fits have.

Within-cluster model: the single-level std.lv parameterisation (loadings shared by both levels,
structural paths, unit latent residual variances). Between-cluster model: level-specific paths
(or the within paths with `bayes.between_paths: shared`), free latent (residual) SDs, LKJ
correlations of the exogenous constructs, item residual SDs and item means. Random slopes on
listed within paths: u_j = diag(tau) L z_j with z_j ~ N(0, I) (non-centred), L the Cholesky
factor of an LKJ correlation matrix when there are several slopes.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.model import (
    _rv,
    free_parameters,
    lkj_vine_shapes,
    path_depth,
    ram_matrices,
    vine_cholesky,
)
from bayeslead.bayes.priors import PriorSet
from bayeslead.bayes.twolevel import ClusterMoments, twolevel_loglik
from bayeslead.errors import InputError
from bayeslead.partable import ParameterTable
from bayeslead.spec import ModelSpec


def slope_positions(
    spec: ModelSpec, table: ParameterTable, random_slopes: list[tuple[str, str]]
) -> list[tuple[int, int]]:
    """Positions (row, column) in the latent block of B of each random slope [predictor, outcome]."""
    p = table.n_manifest
    out = []
    for k, (predictor, outcome) in enumerate(random_slopes):
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
) -> pm.Model:
    """PyMC model of the two-level SEM with random slopes (see the module docstring)."""
    p = table.n_manifest
    latents = list(table.variables[p:])
    m = len(latents)
    structural = [
        (table.variables.index(r.outcome) - p, table.variables.index(r.predictor) - p)
        for r in spec.regressions
    ]
    coords = {
        "item": list(table.manifest),
        "latent": latents,
        "cluster": [str(c) for c in moments.labels],
    }
    with pm.Model(coords=coords) as model:
        theta = free_parameters(spec, table, priors)
        a, s = ram_matrices(table, theta)
        lam, beta_w, psi_w = a[:p, p:], a[p:, p:], s[p:, p:]
        theta_w = pt.diagonal(s)[:p]
        if between_paths == "specific" and structural:
            model.add_coord("between_path", [r.key for r in spec.regressions])
            paths_b = _rv("between_paths", priors.classes["paths"], dims="between_path")
            basis = np.zeros((len(structural), m, m))
            mask = np.ones((m, m))
            for k, (row, col) in enumerate(structural):
                basis[k, row, col] = 1.0
                mask[row, col] = 0.0
            beta_b = beta_w * mask + pt.tensordot(paths_b, basis, axes=1)
        else:
            beta_b = beta_w
        sd_b = _rv("between_sd", priors.classes["between_sd"], dims="latent")
        psi_b = pt.diag(sd_b**2)
        exogenous = [latents.index(n) for n in spec.exogenous() if n in latents]
        if len(exogenous) > 1:
            shapes = lkj_vine_shapes(len(exogenous), priors.classes["latent_correlation"].args[0])
            partial = pm.Beta("between_partial", alpha=shapes, beta=shapes, shape=len(shapes))
            chol = vine_cholesky(2.0 * partial - 1.0, len(exogenous))
            block = (chol @ chol.T) * sd_b[exogenous][:, None] * sd_b[exogenous][None, :]
            psi_b = pt.set_subtensor(psi_b[np.ix_(exogenous, exogenous)], block)
        theta_b = (
            _rv("between_residual_sd", priors.classes["between_residual_sd"], dims="item") ** 2
        )
        mu = _rv("intercepts", priors.classes["intercepts"], dims="item")
        rows = np.array([r for r, _ in positions], dtype=int)
        cols = np.array([c for _, c in positions], dtype=int)
        if positions:
            model.add_coord("slope", [f"{latents[r]}~{latents[c]}" for r, c in positions])
            tau = _rv("slope_sd", priors.classes["slope_sd"], dims="slope")
            z = pm.Normal("slope_z", 0.0, 1.0, dims=("cluster", "slope"))
            if len(positions) > 1:
                shapes = lkj_vine_shapes(
                    len(positions), priors.classes["latent_correlation"].args[0]
                )
                partial = pm.Beta("slope_partial", alpha=shapes, beta=shapes, shape=len(shapes))
                chol = vine_cholesky(2.0 * partial - 1.0, len(positions))
                pm.Deterministic("slope_corr", chol @ chol.T)
                slopes = (z @ chol.T) * tau[None, :]
            else:
                slopes = z * tau[None, :]
        else:
            slopes = pt.zeros((len(moments.counts), 0))
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
            max(path_depth(table) - 1, 1),
        )
        pm.Potential("loglik", loglik)
        pm.Deterministic("beta_between", beta_b)
        pm.Deterministic("psi_between", psi_b)
    return model


def expected_product(means: np.ndarray, cov: np.ndarray, random: list[int]) -> np.ndarray:
    """E[prod_k (means_k + u_k)] with u jointly normal, zero-mean, covariance `cov` over the
    links listed in `random` (Isserlis' theorem; exact). Batched over leading axes of `means`
    (..., L) and `cov` (..., r, r)."""
    links = means.shape[-1]
    total = np.zeros(means.shape[:-1])
    for size in range(0, len(random) + 1, 2):
        for subset in combinations(range(len(random)), size):
            fixed = [k for k in range(links) if k not in [random[i] for i in subset]]
            term = np.prod(means[..., fixed], axis=-1) if fixed else np.ones(means.shape[:-1])
            total = total + term * _pairings(cov, list(subset))
    return total


def _pairings(cov: np.ndarray, idx: list[int]) -> np.ndarray:
    """Sum over perfect matchings of idx of the product of covariances (E of a product of
    zero-mean normals)."""
    if not idx:
        return np.ones(cov.shape[:-2])
    first, rest = idx[0], idx[1:]
    total = np.zeros(cov.shape[:-2])
    for k, other in enumerate(rest):
        total = total + cov[..., first, other] * _pairings(cov, rest[:k] + rest[k + 1 :])
    return total


def icc_table(phi_b: np.ndarray, phi_w: np.ndarray, latents: list[str]) -> pd.DataFrame:
    """Latent ICC = between / (between + within) variance of each construct; draws on axis 0."""
    between = np.diagonal(phi_b, axis1=-2, axis2=-1)
    within = np.diagonal(phi_w, axis1=-2, axis2=-1)
    icc = between / (between + within)
    return pd.DataFrame(
        {
            "construct": latents,
            "icc": icc.mean(axis=0),
            "ci_lower": np.quantile(icc, 0.025, axis=0),
            "ci_upper": np.quantile(icc, 0.975, axis=0),
            "between_variance": between.mean(axis=0),
            "within_variance": within.mean(axis=0),
        }
    )
