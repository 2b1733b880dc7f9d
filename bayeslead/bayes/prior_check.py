"""Prior predictive check: what the default (or configured) priors imply before seeing data.

Parameters are drawn from the PyMC model's priors; each draw's model-implied item correlations,
standardised structural paths and effects (and, for ordinal items, category shares) are
computed in numpy and compared with the observed data when it is available.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
from scipy import stats

from bayeslead.bayes.data import continuous_data, ordinal_data
from bayeslead.bayes.models.single.build import build_continuous_model, build_ordinal_model
from bayeslead.bayes.priors import prior_set
from bayeslead.config import BayesConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData


@dataclass(frozen=True)
class PriorCheck:
    correlations: np.ndarray  # (draws, pairs) implied inter-item correlations
    observed_correlations: np.ndarray | None  # (pairs,)
    paths: pd.DataFrame  # draws x standardised paths
    effects: pd.DataFrame  # draws x standardised effects
    category_shares: np.ndarray | None  # (draws, categories) pooled over items (ordinal)
    observed_shares: np.ndarray | None

    def summary(self) -> pd.DataFrame:
        """Prior median and 95% interval of every standardised path and effect."""
        frame = pd.concat([self.paths, self.effects], axis=1)
        return pd.DataFrame(
            {
                "quantity": frame.columns,
                "median": frame.median().to_numpy(),
                "lower": frame.quantile(0.025).to_numpy(),
                "upper": frame.quantile(0.975).to_numpy(),
            }
        )


def prior_check(
    spec: ModelSpec,
    settings: BayesConfig,
    data: ResponseData | None,
    draws: int = 500,
    seed: int = 1,
) -> PriorCheck:
    """Draw from the priors of the Bayesian model of `spec` and summarise what they imply
    (compared with `data` when given)."""
    ordinal = settings.indicators == "ordinal"
    table = build_partable(spec, "std.lv", unit_residuals=ordinal)
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    x = data.frame[list(spec.manifest)].to_numpy(dtype=float) if data else None
    if ordinal:
        odata = ordinal_data(x)
        model = build_ordinal_model(spec, table, odata, priors, settings.link)
        names = ["theta", "threshold_first"] + (
            ["threshold_gaps"] if "threshold_gaps" in model.named_vars else []
        )
    else:
        model = build_continuous_model(spec, table, continuous_data(x), priors)
        names = ["theta"]
    with model, warnings.catch_warnings():
        # the Potentials are the likelihood (and exact latent-score priors): ignoring them is
        # what a prior predictive check means, so PyMC's warning does not apply here
        warnings.filterwarnings("ignore", message=".*Potentials.*", category=UserWarning)
        prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed).prior
    theta = prior["theta"].values.reshape(draws, -1)
    implied = table.implied(theta)
    p = table.n_manifest
    sd = np.sqrt(np.diagonal(implied, axis1=1, axis2=2)[:, :p])
    corr = implied[:, :p, :p] / (sd[:, :, None] * sd[:, None, :])
    rows, cols = np.triu_indices(p, k=1)
    observed = None
    if x is not None:
        observed = pd.DataFrame(x).corr().to_numpy()[rows, cols]
    std = table.standardized(theta)
    paths = pd.DataFrame(
        {f"{q.lhs} ~ {q.rhs}": std[:, k] for k, q in enumerate(table.params) if q.op == "~"}
    )
    effects = pd.DataFrame(
        {f"{d.effect.name} ({d.kind})": d.std for d in effect_draws(spec, table, theta)}
    )
    shares = observed_shares = None
    if ordinal:
        shares, observed_shares = _category_shares(prior, odata, table, theta, draws)
    return PriorCheck(corr[:, rows, cols], observed, paths, effects, shares, observed_shares)


def _category_shares(prior, data, table, theta, draws):
    """Prior predictive category shares of the first item (categories as observed)."""
    k = int(data.n_categories[0])
    first = prior["threshold_first"].values.reshape(draws, -1)[:, 0]
    cuts = first[:, None]
    if k > 2:
        gaps = prior["threshold_gaps"].values.reshape(draws, -1)[:, : k - 2]
        cuts = np.concatenate([cuts, first[:, None] + np.cumsum(gaps, axis=1)], axis=1)
    # thresholds are in units of the y* SD, so the marginal y* is standard normal
    cdf = np.concatenate([np.zeros((draws, 1)), stats.norm.cdf(cuts), np.ones((draws, 1))], axis=1)
    return np.diff(cdf, axis=1), data.proportions[0]
