"""Posterior predictive quantities: pointwise log-likelihoods against lavaan's logl."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.bayes.ppc import missing_chisq_ppp, pointwise_loglik
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.mvnorm import f_ml_stack
from bayeslead.core.partable import build_partable
from bayeslead.sem.fiml import fit_fiml
from tests.conftest import reference_table

SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}


PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


def test_pointwise_loglik_sums_to_lavaan_logl():
    """At the ML estimates with the sample means, the respondents' log-densities sum to lavaan's
    logl (serial_mediation/fit.csv: the saturated-mean convention of the README)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table = build_partable(spec)
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    cov = np.cov(x.T, bias=True)
    theta = fit_ml(table, cov, table.start_values(cov)).theta
    loglik = pointwise_loglik(x, table.sigma(theta)[None])
    ref = dict(reference_table("serial_mediation", "fit.csv").itertuples(index=False))
    np.testing.assert_allclose(loglik.sum(), ref["logl"], atol=0.01)
    np.testing.assert_allclose(
        f_ml_stack(table.sigma(theta), cov) * len(x), ref["chisq"], atol=0.01
    )


def test_pointwise_loglik_in_blocks_of_draws_equals_all_draws_at_once():
    """Blocks of draws (memory) give the same values, bit for bit, with and without blanks; each
    value is the exact marginal normal density of the respondent's observed items."""
    from scipy import stats

    rng = np.random.default_rng(3)
    p, n, draws = 5, 40, 23
    root = rng.normal(size=(draws, p, p)) / 2
    sigma = root @ np.swapaxes(root, 1, 2) + np.eye(p)
    mu = rng.normal(size=(draws, p))
    z = rng.normal(size=(n, p))
    z[rng.random((n, p)) < 0.15] = np.nan
    z[0] = np.nan  # a respondent without answers contributes 0
    for means in (None, mu):
        whole = pointwise_loglik(z, sigma, means, block=draws)
        np.testing.assert_array_equal(pointwise_loglik(z, sigma, means, block=4), whole)
        np.testing.assert_array_equal(pointwise_loglik(z, sigma, means), whole)
    seen = ~np.isnan(z[7])
    exact = stats.multivariate_normal(mu[5][seen], sigma[5][np.ix_(seen, seen)]).logpdf(z[7][seen])
    assert whole[0, 0] == 0.0
    np.testing.assert_allclose(whole[5, 7], exact, rtol=1e-12)


def test_replicates_with_blanks_are_summarised_as_the_observed_data():
    """With blanks, one replicated data set's item means, SDs and correlations are those pandas
    gives (available cases, pairwise-complete correlations), as for the observed data."""
    from bayeslead.bayes.ppc import _replicated_with_blanks

    rng = np.random.default_rng(5)
    sigma = np.array([[1.0, 0.5, 0.3], [0.5, 2.0, 0.4], [0.3, 0.4, 1.5]])
    mu = np.array([1.0, -2.0, 0.5])
    seen = rng.random((200, 3)) > 0.3
    mean, sd, corr = _replicated_with_blanks(sigma[None], mu[None], seen, np.random.default_rng(1))
    y = np.random.default_rng(1).multivariate_normal(mu, sigma, size=200)
    frame = pd.DataFrame(np.where(seen, y, np.nan))
    np.testing.assert_allclose(mean[0], frame.mean(), rtol=1e-12)
    np.testing.assert_allclose(sd[0], frame.std(), rtol=1e-12)
    np.testing.assert_allclose(corr[0], frame.corr(), rtol=1e-12)


def test_missing_data_ppp_against_the_em_saturated_model():
    """With blank cells the discrepancy is -2logL(model) - -2logL(EM saturated): at lavaan's
    FIML estimates it is lavaan's FIML chi-square (bootstrap_fiml: 20.857, df 24). Replicates
    with the same blank cells drawn at fixed parameters are not refitted, so their discrepancy
    is chi-square with as many df as saturated moments (9 means + 45 covariances = 54)."""
    spec = build_spec(
        RunConfig(
            name="m",
            constructs={"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3"], "Y": ["y1", "y2", "y3"]},
            paths={"M": ["X"], "Y": ["M", "X"]},
        )
    )
    table = build_partable(spec)
    x = reference_table("bootstrap_fiml", "data.csv")[list(spec.manifest)].to_numpy(float)
    phi = fit_fiml(table, x).solution.theta
    sigma = np.repeat(table.sigma(phi[: table.n_free])[None], 400, axis=0)
    mu = np.repeat(phi[table.n_free :][None], 400, axis=0)
    result = missing_chisq_ppp(sigma, mu, x, np.random.default_rng(7))
    ref = dict(reference_table("bootstrap_fiml", "fit_fiml.csv").itertuples(index=False))
    np.testing.assert_allclose(result["chisq_observed_mean"], ref["chisq"], atol=0.01)
    assert result["ppp_draws"] == 400
    assert abs(result["chisq_replicated_mean"] - 54) < 2.5  # SD of the mean 0.52
    assert result["ppp"] > 0.99
    unanswered = np.vstack([x, np.full((1, x.shape[1]), np.nan)])  # a respondent with no answers
    again = missing_chisq_ppp(sigma, mu, unanswered, np.random.default_rng(7))
    assert again["chisq_observed_mean"] == result["chisq_observed_mean"]


def test_missing_data_ppp_on_complete_data_is_the_ml_discrepancy():
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table = build_partable(spec)
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    cov = np.cov(x.T, bias=True)
    sigma = table.sigma(fit_ml(table, cov, table.start_values(cov)).theta)
    result = missing_chisq_ppp(sigma[None], x.mean(axis=0)[None], x, np.random.default_rng(1))
    np.testing.assert_allclose(result["chisq_observed_mean"], len(x) * f_ml_stack(sigma, cov))
