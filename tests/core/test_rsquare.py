"""R-squared against lavaan's inspect(fit, "r2") and closed forms."""

from __future__ import annotations

import numpy as np

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.core.rsquare import endogenous, r_squared

PD = RunConfig(
    name="pd",
    constructs={"ind60": ["x1", "x2", "x3"], "dem60": ["y1", "y2"], "dem65": ["y5", "y6"]},
    second_order={},
    paths={"dem60": ["ind60"], "dem65": ["ind60", "dem60"]},
)


def test_endogenous_variables_are_lavaans():
    table = build_partable(build_spec(PD))
    assert endogenous(table) == ("x1", "x2", "x3", "y1", "y2", "y5", "y6", "dem60", "dem65")
    cfa = build_spec(
        RunConfig(
            name="hs",
            constructs={"a": ["x1", "x2", "x3"], "b": ["x4", "x5", "x6"]},
            second_order={"g": ["a", "b"]},
        )
    )
    assert endogenous(build_partable(cfa))[-2:] == ("a", "b")


def test_r_squared_closed_form_and_batch():
    """One factor, loading l, factor variance v, residual e: R2 = l^2 v / (l^2 v + e)."""
    spec = build_spec(RunConfig(name="one", constructs={"f": ["a", "b", "c"]}))
    table = build_partable(spec)
    theta = np.zeros(table.n_free)
    values = {"f =~ b": 0.8, "f =~ c": 1.5, "a ~~ a": 0.5, "b ~~ b": 0.2, "c ~~ c": 1.0}
    values["f ~~ f"] = 2.0
    for key, value in values.items():
        theta[table.index(key)] = value
    expected = [2 / 2.5, 0.64 * 2 / (0.64 * 2 + 0.2), 2.25 * 2 / (2.25 * 2 + 1)]
    np.testing.assert_allclose(r_squared(table, theta), expected)
    batch = np.stack([theta, theta])
    assert r_squared(table, batch).shape == (2, 3)
