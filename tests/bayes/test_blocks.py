"""PyMC building blocks: the LKJ vine construction."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy import stats

from bayeslead.bayes.blocks.lkj import lkj_vine_shapes, vine_cholesky, vine_partials


def test_vine_construction_is_lkj():
    """Lewandowski, Kurowicka & Joe (2009): with Beta partial correlations the correlation matrix
    is LKJ(eta), whose marginal correlations are Beta(eta - 1 + k/2, eta - 1 + k/2) on (-1, 1)."""
    k, eta = 3, 2.0
    rng = np.random.default_rng(8)
    shapes = lkj_vine_shapes(k, eta)
    partials = 2 * rng.beta(shapes, shapes, size=(4000, len(shapes))) - 1
    z = pt.dvector()
    chol_fn = pytensor.function([z], vine_cholesky(z, k))
    corr = np.array([(c := chol_fn(row)) @ c.T for row in partials])
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, atol=1e-12)
    marginal = stats.beta(eta - 1 + k / 2, eta - 1 + k / 2, loc=-1, scale=2)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert stats.kstest(corr[:, i, j], marginal.cdf).pvalue > 0.001
    np.testing.assert_allclose(vine_partials(corr[0]), partials[0], atol=1e-10)
