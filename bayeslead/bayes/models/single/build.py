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

Ordinal items: ordered probit (or logit) on latent responses ``y* = lambda * eta + e`` with
Var(e) = 1 (theta parameterisation), per-item thresholds (first cut + positive gaps), and
centred latent scores eta ~ MvNormal(0, model-implied latent covariance).

Ordinal items, limited information (`bayes.ordinal: polychoric`): the same model with the latent
responses integrated out pairwise; the data enter only as the two-step polychoric correlations r
with the diagonal of their asymptotic covariance (see `models/single/limited.py`).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.ordinal import ordinal_loglik
from bayeslead.bayes.blocks.parameters import free_parameters, rv
from bayeslead.bayes.blocks.ram import implied_covariance, path_depth, ram_covariance, ram_matrices
from bayeslead.bayes.blocks.scores import first_order_constructs, normal_rows_logp
from bayeslead.bayes.data import ContinuousData, OrdinalData
from bayeslead.bayes.kernels.missing import row_data
from bayeslead.bayes.kernels.missing_op import missing_loglik
from bayeslead.bayes.kernels.moments import complete_moments
from bayeslead.bayes.kernels.ops import pattern_loglik
from bayeslead.bayes.kernels.polychoric import Polychoric
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec


def build_continuous_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: ContinuousData,
    priors: PriorSet,
    data_containers: bool = False,
) -> pm.Model:
    """PyMC model of continuous (z-scored) items, likelihood marginal over the latents.

    With `data_containers` (complete data only) the scatter matrix and its weight are
    `pm.Data` containers named "scatter" and "weight", so a compiled model can be re-used
    with another data set's moments (simulation studies).
    """
    p = table.n_manifest
    if data_containers and not data.complete:
        raise ValueError("data containers need complete data")
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        sigma = implied_covariance(table, theta)[:p, :p]
        if not data.complete:
            intercepts = rv("intercepts", priors.classes["intercepts"], dims="item")
            pm.Potential("loglik", missing_loglik(sigma, intercepts, row_data(data.z)))
            return model
        moments = complete_moments(data.scatter, data.n)
        scatter = weight = None
        if data_containers:
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
        sd = pt.sqrt(pt.diagonal(phi_first))
        corr = phi_first / (sd[:, None] * sd[None, :])
        scores = pm.Flat("scores", shape=(data.n, m))
        pm.Potential("scores_prior", normal_rows_logp(corr, scores, data.n, m))
        pm.Potential("loglik", ordinal_loglik(table, theta, data, priors, phi_first, scores, link))
    return model


def build_polychoric_model(
    spec: ModelSpec,
    table: ParameterTable,
    pc: Polychoric,
    priors: PriorSet,
    data_containers: bool = False,
) -> pm.Model:
    """PyMC model of ordinal items with a diagonal-weight normal likelihood for the polychoric
    correlations: ``r_k ~ N(rho_k(theta), Gamma_kk / N)``, rho the correlations of the latent
    responses implied by the theta-parameterised table (unit residual variances).

    With `data_containers` the correlations and their weights are `pm.Data` containers named
    "polychorics" and "weight", so a compiled model can be re-sampled with other data.
    """
    p = table.n_manifest
    upper = np.triu_indices(p, 1)
    weight = pc.n / np.diag(pc.gamma_rho)
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        sigma = implied_covariance(table, theta)[:p, :p]
        sd = pt.sqrt(pt.diagonal(sigma))
        rho = (sigma / (sd[:, None] * sd[None, :]))[upper]
        r, w = pc.rho, weight
        if data_containers:
            r, w = pm.Data("polychorics", r), pm.Data("weight", w)
        pm.Potential("loglik", -0.5 * pt.sum(w * (r - rho) ** 2))
    return model
