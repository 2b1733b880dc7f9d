"""Posterior summaries of draws (chain, draw, k)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from bayeslead.bayes.posterior import probability_of_direction, summarize


def test_posterior_summaries():
    rng = np.random.default_rng(9)
    draws = rng.normal(loc=[0.0, 2.0], scale=1.0, size=(4, 2000, 2))
    table = summarize(draws)
    np.testing.assert_allclose(table.est, [0, 2], atol=0.05)
    np.testing.assert_allclose(table.ci_lower, [-1.96, 0.04], atol=0.08)
    assert (table.rhat < 1.01).all() and (table.ess_bulk > 5000).all()
    np.testing.assert_allclose(probability_of_direction(draws), [0.5, stats.norm.cdf(2)], atol=0.02)


def ar1_draws(rng, chains: int, draws: int, k: int, phi: float) -> np.ndarray:
    """AR(1) chains (chain, draw, k) with autocorrelation phi."""
    noise = rng.normal(size=(chains, draws, k))
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    for t in range(1, draws):
        out[:, t] = phi * out[:, t - 1] + noise[:, t]
    return out


def arviz_values(draws: np.ndarray) -> dict[str, np.ndarray]:
    import arviz as az
    import xarray as xr

    data = xr.Dataset({"x": xr.DataArray(draws, dims=("chain", "draw", "k"))})
    return {
        "rhat": az.rhat(data)["x"].values,
        "ess_bulk": az.ess(data, method="bulk")["x"].values,
        "ess_tail": az.ess(data, method="tail")["x"].values,
        "mcse_mean": az.mcse(data)["x"].values,
        "hdi": az.hdi(data, hdi_prob=0.95)["x"].values,
    }


def test_convergence_statistics_equal_arviz():
    """R-hat, bulk and tail ESS, MCSE and HDI of all columns at once equal ArviZ's loop over
    columns to 1e-12: independent, strongly and negatively autocorrelated chains, an odd number
    of draws, rounded draws with ties, a stuck chain, large means and a single chain."""
    from bayeslead.bayes import posterior

    rng = np.random.default_rng(3)
    cases = [
        rng.normal(size=(4, 1000, 4)) + [0.0, 1.0, 100.0, 1e3],
        ar1_draws(rng, 4, 1000, 3, 0.9),
        ar1_draws(rng, 4, 1000, 2, 0.99),
        ar1_draws(rng, 4, 1000, 2, -0.6),
        ar1_draws(rng, 3, 999, 3, 0.5),
        np.round(ar1_draws(rng, 4, 500, 3, 0.7), 1),
        np.concatenate([ar1_draws(rng, 3, 400, 2, 0.95), np.full((1, 400, 2), 5.0)]),
        ar1_draws(rng, 2, 7, 3, 0.3),
        ar1_draws(rng, 1, 400, 2, 0.5),
    ]
    for draws in cases:
        expected = arviz_values(draws)
        got = {
            "rhat": posterior.rank_rhat(draws),
            "ess_bulk": posterior.ess_bulk(draws),
            "ess_tail": posterior.ess_tail(draws),
            "mcse_mean": posterior.mcse_mean(draws),
            "hdi": posterior.highest_density_interval(draws),
        }
        for name, value in expected.items():
            np.testing.assert_allclose(got[name], value, rtol=1e-12, atol=0, err_msg=name)


def test_bfmi_equals_arviz():
    import arviz as az
    import xarray as xr

    from bayeslead.bayes.posterior import bfmi

    energy = ar1_draws(np.random.default_rng(4), 4, 1000, 1, 0.4)[..., 0] + 50.0
    stats_ = xr.Dataset({"energy": (("chain", "draw"), energy)})
    np.testing.assert_allclose(bfmi(energy), az.bfmi(stats_), rtol=1e-12, atol=0)


def test_summaries_of_constant_columns():
    """Fixed parameters (constant columns) have no convergence statistics; the others do."""
    from bayeslead.bayes.posterior import convergence

    draws = ar1_draws(np.random.default_rng(5), 4, 500, 2, 0.5)
    draws[..., 1] = 1.0
    table = convergence(draws)
    assert table.loc[1].isna().all() and table.loc[0].notna().all()
    expected = arviz_values(draws[..., :1])
    np.testing.assert_allclose(table.loc[0, "rhat"], expected["rhat"][0], rtol=1e-12)


def test_relative_ess_equals_arviz_loo_default():
    """PSIS-LOO's relative efficiency from `relative_ess` equals the one `az.loo` computes
    itself (mean ESS of the mean over every posterior element, per draw)."""
    import arviz as az

    from bayeslead.bayes.posterior import relative_ess

    rng = np.random.default_rng(6)
    posterior = {"a": ar1_draws(rng, 4, 500, 3, 0.6), "b": ar1_draws(rng, 4, 500, 1, -0.3)[..., 0]}
    loglik = rng.normal(size=(4, 500, 20)) - 1.0
    idata = az.from_dict(posterior=posterior, log_likelihood={"y": loglik})
    reff = relative_ess([idata.posterior[v].values for v in idata.posterior.data_vars])
    ess = az.ess(idata.posterior, method="mean")
    expected = np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / 2000
    np.testing.assert_allclose(reff, expected, rtol=1e-12)
    ours, theirs = az.loo(idata, reff=reff), az.loo(idata)
    np.testing.assert_allclose(ours.elpd_loo, theirs.elpd_loo, rtol=1e-12)
