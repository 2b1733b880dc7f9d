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
