"""Data-quality indices and flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis

from bayeslead.data import load_responses, missing_patterns, quality_table
from bayeslead.data.quality import longstring, mahalanobis, response_variability
from bayeslead.instrument import load_instrument
from tests.conftest import TESTS

FIXTURES = TESTS / "fixtures" / "instruments"


def test_quality_indices_against_direct_computations():
    rows = np.array(
        [
            [1, 1, 1, 1, 1, 1],
            [1, 2, 3, 4, 5, 6],
            [2, 2, 2, 5, 5, np.nan],
            [3, 4, 3, 4, 3, 4],
        ],
        dtype=float,
    )
    assert longstring(rows).tolist() == [6, 1, 3, 1]
    assert np.allclose(response_variability(rows)[:2], [0.0, np.std([1, 2, 3, 4, 5, 6])])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4))
    d2, pvalue = mahalanobis(x)
    inv = np.linalg.inv(np.cov(x.T))
    assert np.allclose(d2[7], scipy_mahalanobis(x[7], x.mean(axis=0), inv) ** 2)
    assert 0 < pvalue[7] < 1


def test_quality_table_flags_straightliners_and_attention_failures(tmp_path):
    inst = load_instrument(FIXTURES / "small.yaml")
    items = [i.id for i in inst.items()]
    rng = np.random.default_rng(1)
    body = rng.integers(2, 7, size=(40, len(items)))
    body[0] = 4  # a straightliner
    frame = pd.DataFrame(body, columns=items)
    frame["ATT1"] = 2
    frame.loc[5, "ATT1"] = 6  # failed the instructed response
    frame.loc[9, items[0]] = np.nan
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    data = load_responses(path, items, instrument=inst)
    table = quality_table(data)
    assert table.loc[0, "flag_irv"] and table.loc[0, "flag_longstring"]
    assert table.loc[5, "failed_attention"] == 1 and table.loc[5, "flag_attention"]
    assert table.loc[9, "n_missing"] == 1
    assert table["flag_attention"].sum() == 1
    patterns = missing_patterns(data.frame)
    assert patterns["n"].tolist() == [39, 1]
