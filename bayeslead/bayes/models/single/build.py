"""Building the PyMC model of a ModelSpec (no sampling here).

Identification: standardised latent variables (every latent residual variance 1) with the first
loading of each construct positive, on standardised items. This removes the reflection
(sign-flip) indeterminacy; the engine converts draws to lavaan's marker metric afterwards.

Continuous items: the likelihood is marginal over the latent variables. With complete data it
uses only the scatter matrix W of the z-scored items, with the item means integrated out under a
flat prior: ``-(N-1)/2 log|Sigma| - tr(Sigma^-1 W)/2``, so a gradient costs the same at any N.
With missing values it is exact too (item intercepts are then sampled), written as low-rank
corrections of the complete-data factorisation per respondent (`bayes.kernels.missing`), so
scattered blanks cost about as much as complete data.

Latent interactions (continuous items): given the scores of the products' components, the model
is linear, so only those scores are sampled and everything else (the other constructs, the item
intercepts, the disturbances) is integrated out exactly; see `build_interaction_model`.

Ordinal items: ordered probit (or logit) on latent responses ``y* = lambda * eta + e`` with
Var(e) = 1 (theta parameterisation), per-item thresholds (first cut + positive gaps), and
centred latent scores eta ~ MvNormal(0, model-implied latent covariance), whose mean the products
of latent interactions shift (`product_shift`). The responses are data containers
(`blocks.ordinal.response_bounds`); the number of respondents is structure (one score row each).

Ordinal items, limited information (`bayes.ordinal: polychoric`): the same model with the latent
responses integrated out pairwise; the data enter only as the two-step polychoric correlations r
with the diagonal of their asymptotic covariance (see `models/single/limited.py`).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.containers import row_containers
from bayeslead.bayes.blocks.ordinal import ordinal_loglik
from bayeslead.bayes.blocks.parameters import free_parameters, rv
from bayeslead.bayes.blocks.ram import (
    diagonal,
    implied_covariance,
    manifest_covariance,
    path_depth,
    ram_covariance,
    ram_inverse,
    ram_matrices,
)
from bayeslead.bayes.blocks.scores import (
    first_order_constructs,
    normal_rows_logp,
    product_components,
)
from bayeslead.bayes.data import ContinuousData, OrdinalData
from bayeslead.bayes.kernels.missing_op import RowsLoglik
from bayeslead.bayes.kernels.missing_rows import row_data
from bayeslead.bayes.kernels.moments import PatternMoments, complete_moments
from bayeslead.bayes.kernels.ops import PatternLoglik, pattern_loglik
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.polychoric import Polychoric
from bayeslead.core.spec import ModelSpec


def build_continuous_model(
    spec: ModelSpec, table: ParameterTable, data: ContinuousData, priors: PriorSet
) -> pm.Model:
    """PyMC model of continuous (z-scored) items, likelihood marginal over the latents.

    The data enter as `pm.Data` containers, so the compiled model depends on the structure
    only: a fit of the same structure on other data (or a simulation study's replicates, via
    `with_data`) re-uses it. Complete data: the scatter matrix and its weight ("scatter",
    "weight"); with blanks, the respondents' arrays for the missing-data kernel ("rows_stats",
    ..., see `blocks.containers.row_containers`).
    """
    p = table.n_manifest
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        sigma = manifest_covariance(table, theta)
        if not data.complete:
            intercepts = rv("intercepts", priors.classes["intercepts"], dims="item")
            rows = row_containers(row_data(data.z))
            pm.Potential("loglik", RowsLoglik()(sigma, intercepts, *rows)[0])
            return model
        moments = complete_moments(data.scatter, data.n)
        scatter = pm.Data("scatter", moments.scatter)
        weight = pm.Data("weight", moments.weight)
        pm.Potential("loglik", pattern_loglik(sigma, pt.zeros(p), moments, scatter, weight))
    return model


def build_ordinal_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: OrdinalData,
    priors: PriorSet,
    link: str = "probit",
) -> pm.Model:
    """PyMC model of ordinal items: ordered probit/logit with standardised latent scores.

    Only constructs measured directly by items get scores (second-order constructs are
    integrated out exactly), and the scores are standardised: u ~ N(0, R) with R the
    model-implied correlation matrix of the first-order constructs, and each item's latent
    response is (loading x construct SD) x u + e. This keeps the scores' scale fixed while the
    structural parameters move (centred scores of endogenous or second-order constructs mix
    poorly because their variance depends on the paths). The prior is written with the
    likelihood Op on the scores' scatter matrix.
    """
    p = table.n_manifest
    first_order = first_order_constructs(table)
    latents = [table.variables[k] for k in first_order]
    m = len(latents)
    with pm.Model(coords={"item": list(table.manifest), "latent": latents}) as model:
        theta = free_parameters(spec, table, priors)
        a, s = ram_matrices(table, theta, first=p)  # latent block only
        phi = ram_covariance(a, s, max(path_depth(table) - 1, 0))
        index = np.array(first_order) - p
        phi_first = phi[np.ix_(index, index)]
        sd = pt.sqrt(diagonal(phi_first, m))
        corr = phi_first / (sd[:, None] * sd[None, :])
        scores = pm.Flat("scores", shape=(data.n, m))
        shifted = scores
        if table.products:  # latent interactions: the products shift the scores' prior mean
            t = ram_inverse(a, max(path_depth(table) - 1, 0))
            shifted = scores - product_shift(table, t, first_order, scores, sd)
        pm.Potential("scores_prior", normal_rows_logp(corr, shifted, data.n, m))
        pm.Potential("loglik", ordinal_loglik(table, theta, data, priors, phi_first, scores, link))
    return model


def build_polychoric_model(
    spec: ModelSpec,
    table: ParameterTable,
    pc: Polychoric,
    priors: PriorSet,
) -> pm.Model:
    """PyMC model of ordinal items with a diagonal-weight normal likelihood for the polychoric
    correlations: ``r_k ~ N(rho_k(theta), Gamma_kk / N)``, rho the correlations of the latent
    responses implied by the theta-parameterised table (unit residual variances).

    The correlations and their weights are `pm.Data` containers ("polychorics", "weight"), so
    the compiled model depends on the structure only and is re-used with other data.
    """
    p = table.n_manifest
    upper = np.triu_indices(p, 1)
    weight = pc.n / np.diag(pc.gamma_rho)
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        sigma = implied_covariance(table, theta)[:p, :p]
        sd = pt.sqrt(diagonal(sigma, p))
        rho = (sigma / (sd[:, None] * sd[None, :]))[upper]
        r, w = pm.Data("polychorics", pc.rho), pm.Data("weight", weight)
        pm.Potential("loglik", -0.5 * pt.sum(w * (r - rho) ** 2))
    return model


def product_shift(table: ParameterTable, t, first_order: list[int], scores, sd):
    """The products' part of the standardised scores' mean, ``D^-1 H c(D u)`` (H: effects of
    the products on the first-order constructs, from ``t = (I - B)^-1`` of the latent block).
    The map from disturbances to scores stays unit-triangular (a product only reaches its
    components' descendants), so N(u; shift, R) is the exact density of the scores."""
    p = table.n_manifest
    eta = scores * sd[None, :]
    left = [first_order.index(k) for _, k, _ in table.products]
    right = [first_order.index(k) for _, _, k in table.products]
    products = np.array([k for k, _, _ in table.products]) - p
    h = t[np.array(first_order) - p][:, products]
    return ((eta[:, left] * eta[:, right]) @ h.T) / sd[None, :]


def build_interaction_model(
    spec: ModelSpec, table: ParameterTable, data: ContinuousData, priors: PriorSet
) -> pm.Model:
    """PyMC model of continuous items with latent interactions (complete data).

    The scores eta_S of the products' components are sampled (centred, on the std.lv metric);
    given them, v_i = (y_i, eta_S,i) is normal with mean (nu + Lambda H c_i, H_S c_i) and a
    covariance shared by all respondents, ``Sigma = [[Lambda Phi Lambda' + Theta,
    Lambda Phi_.S], [Phi_S. Lambda', Phi_SS]]`` (c_i the products, H their effects on every
    latent, Phi the latent covariance of the linear part). The model is recursive and a product
    only enters its components' descendants, so this is exact. With the item intercepts flat
    and the score means 0 the log-density is ``-(N-1)/2 log|Sigma| - tr(Sigma^-1 W)/2 -
    log|Phi_SS|/2 - N rbar' Phi_SS^-1 rbar / 2`` with W the scatter of v_i - G c_i about its
    mean rbar: two calls of the likelihood Op, no solve in the graph. The centred items and
    their scatter are `pm.Data` containers ("items", "items_scatter"), so data sets of the same
    shape re-use the compiled model.
    """
    n, p = data.z.shape
    yc = data.z - data.z.mean(axis=0)
    scored, left, right = product_components(table)
    index = np.array(scored) - p  # positions in the latent block
    products = np.array([product for product, _, _ in table.products]) - p
    m = len(scored)
    joint = complete_moments(np.zeros((p + m, p + m)), n)
    means = PatternMoments(
        np.ones((1, m)), np.ones(1), np.array([float(n)]), np.zeros((1, m, m)), np.zeros((1, m))
    )
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        items = pm.Data("items", yc)
        items_scatter = pm.Data("items_scatter", yc.T @ yc)
        theta = free_parameters(spec, table, priors)
        a, s = ram_matrices(table, theta)
        lam, residuals = a[:p, p:], s[:p, :p]
        t = ram_inverse(a[p:, p:], max(path_depth(table) - 1, 0))
        phi = t @ s[p:, p:] @ t.T  # the products have no variance here: the linear part
        h = t[:, products]  # effect of each product on every latent
        eta = pm.Flat("scores", shape=(n, m))
        c = eta[:, left] * eta[:, right]
        lam_phi = lam @ phi[:, index]
        sigma = pt.concatenate(
            [
                pt.concatenate([lam @ phi @ lam.T + residuals, lam_phi], axis=1),
                pt.concatenate([lam_phi.T, phi[index][:, index]], axis=1),
            ],
            axis=0,
        )
        g = pt.concatenate([lam @ h, h[index]], axis=0)
        ec, cc = eta - eta.mean(axis=0), c - c.mean(axis=0)
        y_e = items.T @ ec
        vv = pt.concatenate(
            [
                pt.concatenate([items_scatter, y_e], axis=1),
                pt.concatenate([y_e.T, ec.T @ ec], axis=1),
            ],
            axis=0,
        )
        cross = pt.concatenate([items.T @ cc, ec.T @ cc], axis=0) @ g.T
        scatter = vv - cross - cross.T + g @ (cc.T @ cc) @ g.T
        pm.Potential("loglik", pattern_loglik(sigma, pt.zeros(p + m), joint, scatter[None]))
        rbar = eta.mean(axis=0) - c.mean(axis=0) @ h[index].T
        phi_ss, zeros = phi[index][:, index], pt.zeros(m)
        terms = (means.observed, means.weight, means.count, means.scatter)
        pm.Potential("score_means", PatternLoglik()(phi_ss, zeros, *terms, rbar[None])[0])
    return model
