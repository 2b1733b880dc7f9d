"""The single-level family's own tables: posterior predictive checks (chi-square PPP, PSIS-LOO
and WAIC, item-level checks of continuous items, category shares of ordinal items) and the
latent-response variances that put ordinal items on the y* scale."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from bayeslead.bayes.data import ContinuousData
from bayeslead.bayes.posterior import relative_ess
from bayeslead.bayes.ppc import (
    chisq_ppp,
    missing_chisq_ppp,
    ordinal_category_checks,
    pointwise_loglik,
)
from bayeslead.core.conditional import product_moments
from bayeslead.core.meanstructure import conditional_means
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import Problem

PPC_DRAWS = 300  # posterior draws used for the item-level predictive checks


def ppc_subset(theta_std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    total = theta_std.shape[0] * theta_std.shape[1]
    return np.sort(rng.choice(total, size=min(PPC_DRAWS, total), replace=False))


def ordinal_checks(table, theta_std, subset, idata, odata, spec, rng) -> pd.DataFrame:
    """Category-share checks: correlations and effective loadings of the first-order
    constructs from each draw, thresholds from the trace."""
    flat = theta_std.reshape(-1, theta_std.shape[-1])[subset]
    p = table.n_manifest
    factor = np.array(
        [next(q.col for q in table.params if q.kind == "loading" and q.row == j) for j in range(p)]
    )
    first = np.array(sorted(set(factor)))
    phi = table.implied(flat)[:, first][:, :, first]
    sd = np.sqrt(np.diagonal(phi, axis1=1, axis2=2))
    corr = phi / (sd[:, :, None] * sd[:, None, :])
    column = np.searchsorted(first, factor)
    a, _ = table.matrices(flat)
    weights = a[:, np.arange(p), factor] * sd[:, column]
    cuts = idata.posterior["thresholds"].values.reshape(-1, int(np.sum(odata.n_categories - 1)))[
        subset
    ]
    bounds = np.cumsum(np.concatenate([[0], odata.n_categories - 1]))
    thresholds = [cuts[:, bounds[j] : bounds[j + 1]] for j in range(p)]
    return ordinal_category_checks(
        corr, weights, thresholds, column, odata, list(spec.manifest), rng
    )


def predictive_checks(table, theta_std, cdata, settings, idata):
    """Chi-square PPP (against the EM saturated model with missing data) and, on request, pointwise log-likelihoods with PSIS-LOO
    and WAIC. Returns fit measures and problems worth reporting."""
    import arviz as az

    problems = []
    fit: dict[str, float] = {}
    flat = theta_std.reshape(-1, theta_std.shape[-1])
    sigma = table.sigma(flat)
    rng = np.random.default_rng(settings.seed)
    mu = None
    if cdata.complete:
        fit |= chisq_ppp(sigma, cdata.scatter, cdata.n, rng)
    else:
        mu = idata.posterior["intercepts"].values.reshape(len(flat), -1)
        fit |= missing_chisq_ppp(sigma, mu, cdata.z, rng)
    if settings.loo:
        loglik = pointwise_loglik(cdata.z, sigma, mu)
        loglik -= np.nansum(np.where(np.isnan(cdata.z), 0.0, np.log(cdata.sd)), axis=1)[None, :]
        shape = theta_std.shape[:2]
        idata.add_groups(
            {
                "log_likelihood": xr.Dataset(
                    {"y": (("chain", "draw", "respondent"), loglik.reshape(*shape, -1))}
                )
            }
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # ArviZ's relative ESS, computed for all parameters at once (bayes.posterior)
            reff = relative_ess([v.values for v in idata.posterior.data_vars.values()])
            loo = az.loo(idata, pointwise=True, reff=reff)  # its Pareto k warning: counted below
            waic = az.waic(idata)
        bad = int(np.sum(loo.pareto_k.values > 0.7))
        if any("posterior variance of the log predictive" in str(w.message) for w in caught):
            problems.append(
                Problem(
                    "waic",
                    "WAIC is unreliable for this run (ArviZ: for some respondents the posterior "
                    "variance of the log-likelihood exceeds 0.4); compare models with PSIS-LOO "
                    "(elpd_loo) instead",
                    "warning",
                )
            )
        fit |= {
            "elpd_loo": float(loo.elpd_loo),
            "se_elpd_loo": float(loo.se),
            "p_loo": float(loo.p_loo),
            "waic": float(-2 * waic.elpd_waic),
            "pareto_k_over_0.7": bad,
        }
        if bad:
            problems.append(
                Problem(
                    "loo",
                    f"{bad} respondents have Pareto k > 0.7: PSIS-LOO is unreliable for them",
                    "warning",
                )
            )
    return fit, problems


def ystar_variances(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Total variances of the items' latent responses (theta parameterisation), the latent
    products' variances included (with them `table.implied` is only the linear part)."""
    if table.products:
        _, omega = product_moments(table, *table.matrices(theta))
    else:
        omega = table.implied(theta)
    return np.diagonal(omega, axis1=-2, axis2=-1)[..., : table.n_manifest]


def mean_draws(
    spec: ModelSpec,
    table: ParameterTable,
    theta: np.ndarray,
    cdata: ContinuousData,
    idata,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws (chain, draw, p) of the manifest means in raw units, one per draw of `theta`
    (lavaan's marker metric, raw units): with complete data the item means are integrated out
    under a flat prior, so they are drawn from their exact conditional posterior
    (`core.meanstructure.conditional_means`); with missing data they are the sampled
    intercepts. Means of exogenous observed variables stay at their sample values (fixed.x)."""
    shape = theta.shape[:2]
    flat = theta.reshape(-1, theta.shape[-1])
    exogenous = set(spec.exogenous()) & set(spec.observed)
    fixed = np.array([name in exogenous for name in table.manifest])
    if cdata.complete:
        mu = conditional_means(cdata.mean, table.sigma(flat), cdata.n, fixed, rng)
    else:
        z = idata.posterior["intercepts"].values.reshape(len(flat), -1)
        mu = cdata.mean + cdata.sd * z
        mu[:, fixed] = cdata.mean[fixed]
    return mu.reshape(*shape, -1)
