"""A Bayesian method factor: the single-level continuous model plus one common method factor.

On z-scored items (complete data), ``Sigma = Sigma_model(theta) + lambda_m^2 1 1'``: one method
factor of variance 1, orthogonal to the constructs, loading `lambda_m` on every standardised
item (the Bayesian ULMC). Its sign is not identified, so `lambda_m` is positive with the prior
class ``method_loading`` (default ``halfnormal(0.5)``: a standardised method loading rarely
exceeds 1; `bayeslead.bayes.priors`). The structural effects are read from the substantive
parameters, so they are corrected for the method variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.parameters import free_parameters, rv
from bayeslead.bayes.blocks.ram import implied_covariance
from bayeslead.bayes.data import continuous_data
from bayeslead.bayes.kernels.moments import complete_moments
from bayeslead.bayes.kernels.ops import pattern_loglik
from bayeslead.bayes.posterior import convergence
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import continuous_start
from bayeslead.config import BayesConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import ModelSpec


@dataclass(frozen=True)
class MethodFactorFit:
    """Posterior draws (chain, draw) of the method loading and of every named effect's
    standardised value, with R-hat and bulk ESS of the method loading."""

    method_loading: np.ndarray
    std_effects: dict[tuple[str, str], np.ndarray]  # (effect, kind) -> draws
    rhat: float
    ess: float
    prior: str


def fit_method_factor(
    spec: ModelSpec, x: np.ndarray, settings: BayesConfig, progress: bool = False
) -> MethodFactorFit:
    """Sample the model of `spec` with a common method factor on complete items `x` (N x p)."""
    table = build_partable(spec, "std.lv")
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    data = continuous_data(x)
    p = table.n_manifest
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        loading = rv("method_loading", priors.classes["method_loading"])
        sigma = implied_covariance(table, theta)[:p, :p] + loading**2 * pt.ones((p, p))
        pm.Potential(
            "loglik", pattern_loglik(sigma, pt.zeros(p), complete_moments(data.scatter, data.n))
        )
    initial = continuous_start(spec, table, priors, data) | {"method_loading": np.array(0.1)}
    result = sample(
        model, initial, settings, var_names=["theta", "method_loading"], progress=progress
    )
    posterior = result.idata.posterior
    draws = posterior["theta"].values
    loading_draws = posterior["method_loading"].values
    effects = {(d.effect.name, d.kind): d.std for d in effect_draws(spec, table, draws)}
    check = convergence(loading_draws[..., None]).iloc[0]
    return MethodFactorFit(
        loading_draws,
        effects,
        float(check.rhat),
        float(check.ess_bulk),
        str(priors.classes["method_loading"]),
    )
