"""Polychoric correlations, thresholds and their asymptotic covariance (`bayeslead.core.polychoric`)
against lavaan 0.6-14 (`estimator = "WLSMV", missing = "pairwise"`; R scripts and provenance in
tests/reference/polychoric/)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayeslead.core.bivariate import bvn_cdf
from bayeslead.core.polychoric import polychoric
from tests.conftest import REFERENCE

FOLDER = REFERENCE / "polychoric"
REVERSED = ("A1", "C4", "C5", "E1", "E2", "O2", "O5")


def _matrix(name: str) -> np.ndarray:
    return pd.read_csv(FOLDER / name, index_col=0).to_numpy()


def _items(name: str) -> pd.DataFrame:
    return pd.read_csv(FOLDER / f"{name}.csv")


@pytest.fixture(scope="module", params=["bfi", "small"])
def case(request):
    x = _items(request.param).to_numpy(dtype=float)
    return request.param, polychoric(x)


def test_bivariate_normal_cdf_matches_scipy():
    rng = np.random.default_rng(3)
    for _ in range(200):
        h, k = rng.normal(size=2) * 1.5
        r = rng.uniform(-0.995, 0.995)
        expected = stats.multivariate_normal(cov=[[1, r], [r, 1]]).cdf([h, k])
        assert bvn_cdf(h, k, r) == pytest.approx(expected, abs=1e-9)


def test_correlations_match_lavaan(case):
    name, pc = case
    assert np.abs(pc.corr - _matrix(f"{name}_polychoric_lavaan.csv")).max() < 1e-6


def test_thresholds_match_lavaan(case):
    name, pc = case
    expected = pd.read_csv(FOLDER / f"{name}_thresholds_lavaan.csv", index_col=0).th.to_numpy()
    assert np.abs(np.concatenate(pc.thresholds) - expected).max() < 1e-10


def test_asymptotic_covariance_matches_lavaan_on_small_data():
    """The whole NACOV (thresholds and correlations) of 400 x 8 items with blanks, 2 to 7
    categories and an unused lowest category."""
    pc = polychoric(_items("small").to_numpy(dtype=float))
    expected = _matrix("small_gamma_lavaan.csv")
    assert pc.gamma.shape == expected.shape
    assert np.abs(pc.gamma - expected).max() < 1e-6 * np.abs(expected).max()
    k = pc.n_thresholds
    block = expected[k:, k:]
    scale = np.sqrt(np.outer(np.diag(block), np.diag(block)))
    assert (np.abs(pc.gamma_rho - block) / scale).max() < 1e-6


def test_dwls_weights_match_lavaan_on_bfi():
    """lavaan's DWLS weights (wls.v) are 1 / diag(NACOV): every threshold and correlation."""
    x = _items("bfi")
    pc = polychoric(x.to_numpy(dtype=float))
    items = list(x.columns)
    names = [
        f"{item}|t{t + 1}"
        for item, th in zip(items, pc.thresholds, strict=True)
        for t in range(len(th))
    ]
    names += [f"{items[i]}~~{items[j]}" for i, j in pc.pairs]
    mine = pd.Series(1.0 / np.diag(pc.gamma), index=names)
    weights = pd.read_csv(FOLDER / "bfi_wls_v_diag_lavaan.csv")
    # lavaan names a pair in its model's item order (A2~~A1): look both orders up
    flipped = {f"{b}~~{a}": f"{a}~~{b}" for a, b in (n.split("~~") for n in names if "~~" in n)}
    keys = [flipped.get(name, name) for name in weights.name]
    assert np.abs(mine[keys].to_numpy() / weights.wls_v_diag.to_numpy() - 1).max() < 1e-6


def test_reverse_scoring_flips_polychorics_exactly():
    raw = _items("bfi")
    keyed = raw.copy()
    for item in REVERSED:
        keyed[item] = 7 - keyed[item]
    a = polychoric(raw.to_numpy(dtype=float), acov=False)
    b = polychoric(keyed.to_numpy(dtype=float), acov=False)
    sign = np.array([-1.0 if item in REVERSED else 1.0 for item in raw.columns])
    assert np.abs(b.corr - a.corr * np.outer(sign, sign)).max() < 1e-7


def test_too_few_categories_is_refused():
    x = np.column_stack([np.ones(20), np.arange(20) % 3])
    with pytest.raises(ValueError, match="fewer than two observed categories"):
        polychoric(x)
