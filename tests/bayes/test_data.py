"""What the Bayesian models read from the responses."""

from __future__ import annotations

import numpy as np


def test_ordinal_data_drops_empty_categories_and_missing_responses():
    from bayeslead.bayes.data import ordinal_data

    x = np.array(
        [[1, 5], [3, 5], [5, np.nan], [3, 4], [1, 2]], dtype=float
    )  # item 1: 2 and 4 unused
    data = ordinal_data(x)
    assert data.n_categories.tolist() == [3, 3]
    assert [v.tolist() for v in data.values] == [[1, 3, 5], [2, 4, 5]]
    assert len(data.respondent) == 9  # the missing response is left out
    np.testing.assert_array_equal(data.category[data.item == 0], [0, 1, 2, 1, 0])
    np.testing.assert_allclose(data.proportions[1], [0.25, 0.25, 0.5])
