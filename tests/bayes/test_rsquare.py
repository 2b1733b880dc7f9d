"""Bayesian R-squared: the posterior of R-squared computed draw by draw (not R-squared of the
posterior mean), summarised like every other row of estimates.csv."""

from __future__ import annotations

import numpy as np

from bayeslead.bayes.summaries import estimates_table
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.core.rsquare import r_squared


def test_r2_rows_summarise_per_draw_r_squared():
    spec = build_spec(
        RunConfig(
            name="m", constructs={"X": ["a", "b", "c"], "Y": ["d", "e", "f"]}, paths={"Y": ["X"]}
        )
    )
    table = build_partable(spec)
    rng = np.random.default_rng(4)
    theta = np.abs(rng.normal(0.8, 0.3, size=(2, 400, table.n_free)))
    rows, conv = estimates_table(table, theta, 0.9)
    r2 = rows[rows.op == "r2"].set_index("lhs")
    assert list(r2.index) == ["a", "b", "c", "d", "e", "f", "Y"]
    per_draw = r_squared(table, theta).reshape(-1, 7)
    np.testing.assert_allclose(r2.est, per_draw.mean(axis=0))
    np.testing.assert_allclose(r2.ci_lower, np.quantile(per_draw, 0.05, axis=0))
    np.testing.assert_allclose(r2.std_est, r2.est)
    mean_theta = theta.reshape(-1, table.n_free).mean(axis=0)
    assert not np.allclose(r2.est, r_squared(table, mean_theta))  # per draw, not of the mean
    assert (r2.se > 0).all() and r2.rhat.notna().all()
    assert len(conv) == table.n_free  # gates check parameters only


def test_standardized_intervals_are_posterior_quantiles():
    spec = build_spec(RunConfig(name="m", constructs={"X": ["a", "b", "c"]}))
    table = build_partable(spec)
    theta = np.abs(np.random.default_rng(1).normal(0.8, 0.2, size=(2, 300, table.n_free)))
    rows, _ = estimates_table(table, theta, 0.95)
    std = table.standardized(theta).reshape(-1, len(table.params))
    np.testing.assert_allclose(
        rows.std_ci_upper[: len(table.params)], np.quantile(std, 0.975, axis=0)
    )
