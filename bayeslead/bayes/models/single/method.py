"""A Bayesian method factor: the single-level continuous model plus one common method factor.

On z-scored items (complete data), ``Sigma = Sigma_model(theta) + lambda_m^2 1 1'``: one method
factor of variance 1, orthogonal to the constructs, loading `lambda_m` on every standardised
item (the Bayesian ULMC). The structural effects are read from the substantive parameters, so
they are corrected for the method variance.

Parameterisation. The likelihood depends on ``lambda_m^2`` only, so the sign of the loading is
not identified. Sampling ``|lambda_m|`` under the positive prior (on the log scale) put a
boundary at 0 that data without method variance press against (a funnel in the log-loading's
left tail). On the reference data (`tests/reference/cmv_marker`, 4 x 1000 draws) the method
loading missed the gates: R-hat 1.017 (method) and 1.023 (no method) when first measured;
measured again, R-hat 1.009 with bulk ESS 485 (method) and 1.009 with ESS 364 (no method),
whose trees the funnel lengthened (284 s of sampling against 37 s, on the busy shared machine).
Here the sampler moves a signed loading on the real line with the prior class
``method_loading`` reflected (density ``p(|lambda_m|) / 2``; for ``halfnormal(s)`` exactly
``normal(0, s)``) and the reported loading is ``|lambda_m|``, whose posterior is the one under
the positive prior: no boundary, and since every reported quantity depends on ``lambda_m^2``,
chains in either sign's mode agree. The chains start at the ML ULMC's method loading with the
model's ML estimates on the correlations minus the method part. The method loading trades off
against the constructs' loadings and correlations (a constant added to every correlation), a
correlated direction that nutpie's low-rank modified mass matrix follows: with the diagonal
metric the method loading's bulk ESS was 579-630 and R-hat up to 1.0099 (reference data with a
method factor, seeds 1-3), with the low-rank metric 1,073-1,173 and at most 1.005. The
acceptance target is `TARGET_ACCEPT` unless the config sets one (the low-rank metric at the
default 0.8 gave 129 divergences on the data with a method factor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.parameters import free_parameters, initial_values, prior_distribution
from bayeslead.bayes.blocks.ram import implied_covariance
from bayeslead.bayes.data import continuous_data
from bayeslead.bayes.gates import check_gates, more_draws
from bayeslead.bayes.kernels.moments import complete_moments
from bayeslead.bayes.kernels.ops import pattern_loglik
from bayeslead.bayes.posterior import convergence
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import ml_on_moments
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import ModelSpec

MIN_START = 0.05  # a start at 0 would sit on the saddle between the two signs' modes
TARGET_ACCEPT = 0.95
"""The method factor's acceptance target unless `bayes.target_accept` is set: without method
variance the posterior of the signed loading is flat at 0 and steep beyond (the likelihood sees
``lambda_m^2``); on 20,000 simulated respondents without a method factor the default 0.8 gave
57 and 59 divergent transitions (seeds 1, 2; diagonal metric), 0.95 none."""


@dataclass(frozen=True)
class MethodFactorFit:
    """Posterior draws (chain, draw) of the method loading and of every named effect's
    standardised value, R-hat and bulk ESS of the method loading, and the gate report over
    every sampled parameter (`bayeslead.bayes.gates.check_gates`)."""

    method_loading: np.ndarray
    std_effects: dict[tuple[str, str], np.ndarray]  # (effect, kind) -> draws
    rhat: float
    ess: float
    prior: str
    gates: dict[str, Any]


def fit_method_factor(
    spec: ModelSpec,
    x: np.ndarray,
    settings: BayesConfig,
    diagnostics: DiagnosticsConfig | None = None,
    start_loading: float = 0.1,
    progress: bool = False,
) -> MethodFactorFit:
    """Sample the model of `spec` with a common method factor on complete items `x` (N x p);
    `start_loading`: the ML ULMC's standardised method loading (the chains' start)."""
    table = build_partable(spec, "std.lv")
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    prior = priors.classes["method_loading"]
    kind, args = prior_distribution(prior)
    data = continuous_data(x)
    p = table.n_manifest
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        signed = pm.Flat("method_loading_signed")
        pm.Potential("method_loading_prior", pm.logp(kind.dist(**args), pt.abs(signed)))
        pm.Deterministic("method_loading", pt.abs(signed))
        sigma = implied_covariance(table, theta)[:p, :p] + signed**2 * pt.ones((p, p))
        pm.Potential(
            "loglik", pattern_loglik(sigma, pt.zeros(p), complete_moments(data.scatter, data.n))
        )
    if "target_accept" not in settings.model_fields_set:
        settings = settings.model_copy(update={"target_accept": TARGET_ACCEPT})
    loading0 = max(float(start_loading), MIN_START)
    _, theta0 = ml_on_moments(spec, data.scatter / data.n - loading0**2)
    initial = initial_values(spec, table, priors, theta0)
    initial["method_loading_signed"] = np.array(loading0)
    gates = diagnostics or DiagnosticsConfig()
    names = ["method_loading", *(q.key for q in table.free_params)]

    def judged(idata) -> tuple[pd.DataFrame, dict]:
        """Convergence of the method loading and the parameters, and the gates."""
        posterior = idata.posterior
        both = [posterior["method_loading"].values[..., None], posterior["theta"].values]
        rows = convergence(np.concatenate(both, axis=-1)).set_axis(names)
        return rows, check_gates(rows, idata.sample_stats, gates)

    result = sample(
        model,
        initial,
        settings,
        var_names=["theta", "method_loading"],
        progress=progress,
        low_rank=True,
        check=lambda idata: more_draws(judged(idata)[1], idata.posterior.sizes["draw"]),
    )
    posterior = result.idata.posterior
    draws = posterior["theta"].values
    loading_draws = posterior["method_loading"].values
    effects = {(d.effect.name, d.kind): d.std for d in effect_draws(spec, table, draws)}
    check, gates = judged(result.idata)
    return MethodFactorFit(
        loading_draws,
        effects,
        float(check.rhat.iloc[0]),
        float(check.ess_bulk.iloc[0]),
        str(prior),
        gates,
    )
