"""Functions of many draws computed a block of draws at a time give the same values, bit for
bit, as computed on all draws at once."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslead.config import RunConfig
from bayeslead.core import batches
from bayeslead.core.batches import in_blocks
from bayeslead.core.effects import defined_name, effect_draws, raw_effect_draws
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.core.rsquare import r_squared

CONSTRUCTS = {k: [f"{k.lower()}{i}" for i in range(1, 4)] for k in ["X", "M", "W", "Y"]}


def quantities(spec, table, theta) -> list[np.ndarray]:
    effects = effect_draws(spec, table, theta)
    return [
        table.implied(theta),
        table.sigma(theta),
        table.standardized(theta),
        r_squared(table, theta),
        *[d.raw for d in effects],
        *[d.std for d in effects],
    ]


@pytest.mark.parametrize("interaction", [False, True])
def test_blocks_of_draws_equal_all_draws_at_once(monkeypatch, interaction):
    """Implied moments, std.all values, R-squared and effects (with a latent interaction too)
    of 3 x 250 draws: blocks of 64 draws and one batch agree exactly, with the batch's shape."""
    paths = {"M": ["X"], "Y": ["M", "X"] + (["W", "M:W"] if interaction else [])}
    effects = {"ind": ["X", "M", "Y"]}
    spec = build_spec(RunConfig(name="b", constructs=CONSTRUCTS, paths=paths, effects=effects))
    table = build_partable(spec)
    theta = np.random.default_rng(2).uniform(0.2, 0.9, size=(3, 250, table.n_free))
    monkeypatch.setattr(batches, "BLOCK", 64)
    blocked = quantities(spec, table, theta)
    monkeypatch.setattr(batches, "BLOCK", 10_000)
    whole = quantities(spec, table, theta)
    assert len(blocked) == len(whole) >= 8
    for got, expected in zip(blocked, whole, strict=True):
        assert got.shape[:2] == (3, 250)
        np.testing.assert_array_equal(got, expected)


def test_in_blocks_joins_arrays_and_tuples_along_the_batch_axes():
    theta = np.arange(2 * 5 * 3, dtype=float).reshape(2, 5, 3)
    single = in_blocks(lambda t: t.sum(axis=-1), theta, block=3)
    np.testing.assert_array_equal(single, theta.sum(axis=-1))
    first, second = in_blocks(lambda t: (t * 2, t[..., :1]), theta, block=4)
    np.testing.assert_array_equal(first, theta * 2)
    np.testing.assert_array_equal(second, theta[..., :1])
    np.testing.assert_array_equal(in_blocks(lambda t: t + 1, theta[0, 0], block=1), theta[0, 0] + 1)


def test_raw_effect_draws_equal_effect_draws_bit_for_bit():
    """Hypotheses read only the raw effects (`raw_effect_draws`, no implied covariance): the
    same values as `effect_draws`, for indirect, direct and total effects and `:=` definitions."""
    paths = {"M": ["X"], "Y": ["M", "X"]}
    named = RunConfig(
        name="b", constructs=CONSTRUCTS, paths=paths, effects={"ind": ["X", "M", "Y"]}
    )
    syntax = RunConfig(
        name="b",
        model="X =~ x1 + x2 + x3\nM =~ m1 + m2 + m3\nY =~ y1 + y2 + y3\n"
        "M ~ a*X\nY ~ b*M + c*X\nab := a*b\n",
    )
    columns = [f"{k}{i}" for k in "xmy" for i in range(1, 4)]
    for config, names in (
        (named, {"ind", "ind_direct", "ind_total"}),
        (syntax, {"ab"}),
    ):
        spec = build_spec(config, columns=columns if config.model else None)
        table = build_partable(spec)
        theta = np.random.default_rng(3).uniform(0.2, 0.9, size=(2, 300, table.n_free))
        raw = raw_effect_draws(spec, table, theta)
        draws = effect_draws(spec, table, theta)
        assert set(raw) == names and len(draws) == len(raw)
        for d in draws:
            np.testing.assert_array_equal(raw[defined_name(d.effect.name, d.kind)], d.raw)
