"""Ordinal thresholds (`blocks.ordinal.threshold_cuts`): sampled as each item's first cut and the
gaps, or (anchored, two-level models) as its middle cut and the gaps outward, with exactly the
prior of the first cut + gaps parameterisation."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayeslead.bayes.blocks.ordinal import sampled_cuts, threshold_cuts
from bayeslead.bayes.blocks.parameters import rv
from bayeslead.bayes.data import ordinal_data
from bayeslead.bayes.priors import prior_set

CATEGORIES = [2, 3, 4, 5, 7]  # items with 1 to 6 cut points


def _data():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.permutation(np.arange(60) % k) for k in CATEGORIES]).astype(float)
    return ordinal_data(x)


@pytest.mark.parametrize(("anchored", "shifted"), [(False, False), (True, False), (True, True)])
def test_both_parameterisations_have_the_density_of_first_cut_and_gaps(anchored, shifted):
    """At random cut vectors, the model's log-density (unconstrained: the sampled cuts, anchors
    or first cuts, and log gaps) equals that of the first cut + gaps parameterisation (the
    model that samples the first cut and the gaps with their priors, normal(0, 1.5) on the
    first cut, plus the shift when the cuts are relative to one, and lognormal(0, 1) on every
    gap), and the cuts are the cut vector itself. PyMC evaluates the priors' float32 constants in float32 (log 1.5), so the
    closed form from scipy agrees to 1e-7 only."""
    data = _data()
    assert list(data.n_categories) == CATEGORIES
    priors = prior_set({}, set())
    shift = np.linspace(-0.6, 0.9, len(CATEGORIES)) if shifted else None
    with pm.Model(coords={"item": [f"y{j}" for j in range(len(CATEGORIES))]}) as model:
        cuts = threshold_cuts(data, priors, shift, anchored)
    cut_fn = model.compile_fn(model.replace_rvs_by_values([cuts])[0], on_unused_input="ignore")
    logp_fn = model.compile_logp()
    with pm.Model(coords=model.coords) as old:  # the first cut + gaps parameterisation
        first = rv("threshold_first", priors.classes["thresholds"], dims="item")
        rv("threshold_gaps", priors.classes["threshold_gaps"], shape=int(sum(CATEGORIES)) - 10)
        if shift is not None:
            moved = pm.logp(first, first + shift) - pm.logp(first, first)
            pm.Potential("shift", pt.sum(moved))
    old_logp = old.compile_logp()
    name, middle = sampled_cuts(data, anchored)
    assert list(middle) == ([0, 1, 1, 2, 3] if anchored else [0] * 5)
    rng = np.random.default_rng(1)
    for _ in range(5):
        first = rng.normal(0.0, 1.5, len(CATEGORIES))
        gaps = [rng.lognormal(0.0, 1.0, k - 2) for k in CATEGORIES]
        item_cuts = [f + np.r_[0.0, np.cumsum(g)] for f, g in zip(first, gaps, strict=True)]
        point = {
            name: np.array([c[m] for c, m in zip(item_cuts, middle, strict=True)]),
            "threshold_gaps_log__": np.log(np.concatenate(gaps)),
        }
        np.testing.assert_allclose(cut_fn(point), np.concatenate(item_cuts), rtol=1e-12)
        g = np.concatenate(gaps)
        old_point = {"threshold_first": first, "threshold_gaps_log__": np.log(g)}
        assert logp_fn(point) == pytest.approx(old_logp(old_point), rel=1e-10, abs=1e-10)
        reference = stats.norm(0.0, 1.5).logpdf(first + (0.0 if shift is None else shift)).sum()
        reference += stats.lognorm(1.0).logpdf(g).sum() + np.log(g).sum()  # + log-Jacobian
        assert logp_fn(point) == pytest.approx(reference, abs=1e-7)


def test_cuts_relative_to_a_shift_are_anchored():
    """A shift (two-level models' relative cuts) moves the first cut's prior, which only the
    anchored parameterisation carries: without it, a clear error."""
    data = _data()
    coords = {"item": [f"y{j}" for j in range(len(CATEGORIES))]}
    with pm.Model(coords=coords), pytest.raises(ValueError, match="anchored"):
        threshold_cuts(data, prior_set({}, set()), np.zeros(len(CATEGORIES)))
