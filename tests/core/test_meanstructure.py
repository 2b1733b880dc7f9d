"""lavaan's saturated mean structure (`core.meanstructure`) against lavaan 0.6-14
(tests/reference/lavaan_meanstructure, written by its fit_meanstructure.R)."""

from __future__ import annotations

import numpy as np

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.meanstructure import conditional_means, manifest_intercepts
from bayeslead.core.partable import build_partable
from tests.conftest import REFERENCE, reference_table

FOLDER = "lavaan_meanstructure"


def lavaan_estimates(name: str):
    est = reference_table(FOLDER, f"{name}_estimates.csv").fillna({"rhs": ""})
    return est.set_index(["lhs", "op", "rhs"]).est


def test_intercepts_from_lavaans_parameters_are_lavaans():
    """With lavaan's estimates and the sample means, the intercepts are lavaan's `~1` rows:
    the means for the items of `visual`, which the observed age predicts, are not (x1: mean
    4.94, intercept 5.93 = 4.94 + 1 x 0.076 x mean(ageyr))."""
    text = (REFERENCE / FOLDER / "hs_predictor.lav").read_text()
    frame = reference_table("lavaan_constraints", "hs_data.csv")
    spec = build_spec(RunConfig(name="t", model=text), columns=list(frame.columns))
    table = build_partable(spec)
    est = lavaan_estimates("hs_predictor")
    theta = np.zeros(table.n_free)
    for p in table.free_params:
        key = (p.lhs, p.op, p.rhs) if (p.lhs, p.op, p.rhs) in est else (p.rhs, p.op, p.lhs)
        theta[p.free] = est[key]
    means = frame[list(table.manifest)].mean().to_numpy()
    alpha = manifest_intercepts(table, theta, means)
    expected = [est[(name, "~1", "")] for name in table.manifest]
    np.testing.assert_allclose(alpha, expected, atol=1e-6)
    assert abs(alpha[0] - means[0]) > 0.9


def test_conditional_means_hold_fixed_means_and_draw_the_others():
    """mu | Sigma ~ N(mean, Sigma / n) with the fixed means at their values: the draws of the
    others have the conditional mean and covariance given them."""
    rng = np.random.default_rng(1)
    sigma = np.array([[2.0, 0.6, 0.3], [0.6, 1.0, 0.2], [0.3, 0.2, 1.5]])
    mean = np.array([1.0, -2.0, 0.5])
    fixed = np.array([False, False, True])
    draws = conditional_means(mean, np.broadcast_to(sigma, (40000, 3, 3)), 10, fixed, rng)
    assert (draws[:, 2] == 0.5).all()
    np.testing.assert_allclose(draws[:, :2].mean(axis=0), mean[:2], atol=0.01)
    expected = (sigma[:2, :2] - np.outer(sigma[:2, 2], sigma[2, :2]) / sigma[2, 2]) / 10
    np.testing.assert_allclose(np.cov(draws[:, :2].T), expected, atol=0.004)
