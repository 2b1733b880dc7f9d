"""Two-level models with blank answers integrated out (continuous items, no level-1 covariates):
the filled-in likelihood at the blank answers' conditional means plus the log-determinant
correction (`kernels/twolevel_blanks.py`) equals scipy's normal density of each cluster's
observed answers, with and without random slopes, and its gradient with respect to every
parameter equals finite differences (the filling carries no gradient: envelope theorem)."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayeslead.bayes.kernels.twolevel import twolevel_loglik
from bayeslead.bayes.kernels.twolevel_blanks import blank_cells, blank_terms
from bayeslead.bayes.models.twolevel.blanks import (
    INTEGRATED_CELLS,
    integrated_moments,
    missing_statement,
    moments_with_blanks,
)
from tests.bayes.test_twolevel_blanks import P, _data, _density, _parameters

NAMES = ("lam", "theta_w", "theta_b", "psi_w", "psi_b", "beta_w", "beta_b")


def _function(y, cluster, n_slopes, intercepts_only=False):
    """The graph's log-likelihood and its gradient as a function of the parameters."""
    moments, blanks = moments_with_blanks(y, cluster)
    inputs = [pt.dmatrix("lam"), pt.dvector("theta_w"), pt.dvector("theta_b")]
    inputs += [pt.dmatrix(n) for n in ("psi_w", "psi_b", "beta_w", "beta_b")]
    slopes, mu, offsets = pt.dmatrix("slopes"), pt.dvector("mu"), pt.dmatrix("offsets")
    rows, cols = np.array([1] * n_slopes, dtype=int), np.array([0] * n_slopes, dtype=int)
    lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b = inputs
    shift = mu[None, :] if intercepts_only else mu[None, :] + offsets  # (1, p) or (J, p)
    matrices = (*inputs, slopes, rows, cols, 2)
    *data, correction = integrated_moments(moments, blanks, matrices, shift)
    total = correction + twolevel_loglik(
        *inputs, slopes, rows, cols, mu, moments, 2, offsets=offsets, data=data, fixed_data=True
    )
    everything = [*inputs, slopes, mu, offsets]
    grads = pytensor.grad(total, everything)
    return pytensor.function(everything, [total, *grads], mode="FAST_COMPILE"), blanks


@pytest.mark.parametrize("n_slopes", [0, 1])
def test_integrated_likelihood_is_the_observed_density_and_its_gradient_exact(n_slopes):
    rng = np.random.default_rng(5)
    par = _parameters(rng)
    y, cluster = _data(rng)
    function, blanks = _function(y, cluster, n_slopes)
    assert blanks.cells is not None and len(blanks.item) >= 5
    slopes = np.array([[0.1], [-0.2], [0.05], [0.15]])[:, :n_slopes]
    mu = rng.normal(size=P)
    offsets = np.zeros((4, P))
    values = [par[n] for n in NAMES] + [slopes, mu, offsets]
    total, *grads = function(*values)
    # without offsets the graph passes the intercepts alone (1, p): the same value and gradient
    alone = _function(y, cluster, n_slopes, intercepts_only=True)[0](*values)
    np.testing.assert_allclose(alone[0], total, rtol=1e-12)
    np.testing.assert_allclose(alone[-2], grads[-2], rtol=1e-9)
    scipy_slopes = slopes if n_slopes else np.zeros((4, 1))
    # the kernels omit the 2 pi constants: scipy's density less (blank cells) x log(2 pi) / 2
    constant = 0.5 * len(blanks.item) * np.log(2 * np.pi)
    observed = _density(par, scipy_slopes, mu, y, cluster, observed_only=True) - constant
    assert total == pytest.approx(observed, abs=1e-9)
    # offsets shift the cluster means: the density of y - offsets
    offsets = rng.normal(scale=0.3, size=(4, P))
    shifted = y - offsets[np.unique(cluster, return_inverse=True)[1]]
    total = function(*values[:-1], offsets)[0]
    observed = _density(par, scipy_slopes, mu, shifted, cluster, observed_only=True) - constant
    assert total == pytest.approx(observed, abs=1e-9)
    values[-1] = offsets
    _, *grads = function(*values)
    for k, value in enumerate(values):
        if k in (1, 2):  # theta_w, theta_b: every entry
            entries = range(value.size)
        else:
            entries = [i for i in range(value.size) if value.flat[i] != 0.0] or range(value.size)
        for i in list(entries)[:6]:
            up = [v.copy() for v in values]
            down = [v.copy() for v in values]
            up[k].flat[i] += 1e-6
            down[k].flat[i] -= 1e-6
            numeric = (function(*up)[0] - function(*down)[0]) / 2e-6
            names = (*NAMES, "slopes", "mu", "offsets")
            assert grads[k].flat[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6), names[k]


def test_cells_sorted_by_cluster_and_a_failure_is_minus_infinity():
    """Cells come cluster by cluster; a within covariance that is not positive definite gives
    -inf and zero gradients."""
    members = np.ones((2, 2))
    cells, order = blank_cells(
        np.array([1, 0, 1]), np.array([0, 1, 0]), np.array([1, 0, 0]), members, 2
    )
    assert cells.start.tolist() == [0, 1, 3] and order.tolist() == [1, 2, 0]
    assert cells.item.tolist() == [0, 0, 1] and cells.observed[1, 0].tolist() == [0.0, 0.0]
    bad = -np.eye(2)[None]
    total, d_w, d_b, fill = blank_terms(
        bad,
        np.eye(2),
        np.array([2.0, 2.0]),
        np.zeros((2, 2, 2)),
        *[np.asarray(a) for a in (cells.start, cells.member, cells.item)],
    )
    assert total == -np.inf and not d_w.any() and not d_b.any() and not fill.any()
    _, blanks = moments_with_blanks(np.array([[1.0, np.nan], [2.0, 3.0]]), np.array([1, 1]))
    assert missing_statement(False, blanks, 0).endswith(
        "integrated out analytically (missing at random)"
    )


def test_blank_answers_are_sampled_with_many_blanks_in_a_cluster():
    """A cluster with more than INTEGRATED_CELLS blank cells: the blank answers are sampled."""
    y = np.ones((10, 5))
    cluster = np.repeat([1, 2], 5)
    y[:5, 1:] = np.nan  # cluster 1: 20 blank cells
    assert moments_with_blanks(y, cluster)[1].cells is not None
    y[5:, 2:] = np.nan
    y[0, 0] = np.nan
    y[0, 1] = 1.0  # cluster 1: 20, cluster 2: 15 blank cells
    assert moments_with_blanks(y, cluster)[1].cells is not None
    big = np.ones((30, 1))
    big[:, 0] = np.nan
    y = np.hstack([np.ones((30, 1)), big])  # one cluster of 30 rows, 30 blank cells
    _, blanks = moments_with_blanks(y, np.ones(30))
    assert INTEGRATED_CELLS < 30 and blanks.cells is None
    assert "sampled as latent values" in missing_statement(False, blanks, 0)
