"""A structure hit (`nutpie_structure`: the key of the un-rewritten graphs) loads the entry points
without rewriting and computes exactly what a miss computes; another structure (another prior,
likelihood, item count, constant, dimension, stored variables) has another key; a wrong index
entry is caught by the check and the graphs are rewritten."""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import pytest

from bayeslead.bayes.nutpie_cache import compile_model
from bayeslead.bayes.nutpie_source import call_expand, call_logp
from bayeslead.bayes.nutpie_structure import structure


def tiny(n=40, seed=1, prior_sd=5.0, student=False, constant=False, k=1, stored=True):
    """A model with a pm.Data container (or the data as a constant), a transformed parameter, a
    vector of `k` means and a deterministic (stored unless `stored` is False)."""
    y = np.random.default_rng(seed).normal(1.0, 2.0, size=n)
    with pm.Model(coords={"k": list(range(k))}) as model:
        data = y if constant else pm.Data("y", y)
        mu = pm.Normal("mu", 0.0, prior_sd, dims="k")
        sigma = pm.HalfNormal("sigma", 3.0)
        if stored:
            pm.Deterministic("precision", 1.0 / sigma**2)
        if student:
            pm.StudentT("obs", nu=4.0, mu=mu.sum(), sigma=sigma, observed=data)
        else:
            pm.Normal("obs", mu.sum(), sigma, observed=data)
    return model


def key(model, var_names=None) -> str:
    from nutpie.compile_pymc import _compute_shapes

    return structure(model, var_names, _compute_shapes(model), "versions").key


def test_a_structure_hit_computes_bitwise_what_a_miss_computes(tmp_path):
    """The second model of a structure (other data, another N) is a structure hit (PyTensor's
    functions not even built) whose log-density, gradient and expanded values at random points
    equal the first model's entry points given the same data, bit for bit."""
    first, info = compile_model(tiny(40), directory=tmp_path)
    assert info.describe() == "miss" and first.logp_func is not None
    second, info = compile_model(tiny(55, seed=2), directory=tmp_path)
    assert info.describe() == "hit" and second.logp_func is None
    assert (second.n_dim, second.n_expanded, second.shapes) == (
        first.n_dim,
        first.n_expanded,
        first.shapes,
    )
    assert list(second.coords["unconstrained_parameter"]) == list(
        first.coords["unconstrained_parameter"]
    )
    same = first.with_data(y=second.shared_data["y"])
    for x in np.random.default_rng(3).normal(size=(6, first.n_dim)):
        (code_a, logp_a, grad_a), (code_b, logp_b, grad_b) = (
            call_logp(same, x),
            call_logp(second, x),
        )
        assert code_a == code_b == 0 and logp_a == logp_b
        np.testing.assert_array_equal(grad_a, grad_b)
        np.testing.assert_array_equal(call_expand(same, x)[1], call_expand(second, x)[1])
    np.testing.assert_array_equal(second.initial_point_func(0), first.initial_point_func(0))


@pytest.mark.parametrize(
    "other",
    [
        {"prior_sd": 6.0},
        {"student": True},
        {"k": 2},
        {"stored": False},
        {"constant": True},
    ],
)
def test_another_structure_has_another_key(other):
    """The key follows the structure, not the data held in containers."""
    base = key(tiny(40))
    assert key(tiny(40)) == base == key(tiny(70, seed=5))  # same structure, other data
    assert key(tiny(40, **other)) != base


def test_constants_and_stored_variables_are_in_the_key():
    """Data held as constants is structure (another value, another key), and so is which
    variables are stored."""
    assert key(tiny(40, constant=True)) == key(tiny(40, constant=True))
    assert key(tiny(40, constant=True)) != key(tiny(40, seed=2, constant=True))
    assert key(tiny(40), ["mu", "sigma"]) != key(tiny(40))


def test_bayeslead_models_of_other_items_or_priors_have_other_keys():
    """Holzinger-Swineford's CFA with three or four items per factor, or another loading prior."""
    from bayeslead.bayes.data import continuous_data
    from bayeslead.bayes.models.single.build import build_continuous_model
    from bayeslead.bayes.priors import prior_set
    from bayeslead.config import RunConfig
    from bayeslead.core.from_config import build_spec
    from bayeslead.core.partable import build_partable
    from tests.conftest import reference_table

    frame = reference_table("holzinger1939", "data.csv")

    def model_key(items: int, priors: dict) -> str:
        names = [f"x{i}" for i in range(1, 10)]
        constructs = {"visual": names[:items], "textual": names[4:7], "speed": names[7:]}
        spec = build_spec(RunConfig(name="hs", constructs=constructs))
        table = build_partable(spec, "std.lv")
        x = frame[list(spec.manifest)].to_numpy(float)
        chosen = prior_set(priors, {p.key for p in table.free_params})
        return key(build_continuous_model(spec, table, continuous_data(x), chosen))

    base = model_key(3, {})
    assert model_key(3, {}) == base
    assert model_key(4, {}) != base
    assert model_key(3, {"loadings": "normal(0, 2)"}) != base


def test_a_wrong_index_entry_is_caught_and_the_graphs_rewritten(tmp_path):
    """An index entry naming another structure's module (of the same layout) fails the check:
    the graphs are rewritten, the entry points compute this model and the entry is replaced."""
    import nutpie

    compile_model(tiny(40), directory=tmp_path)
    (other,) = tmp_path.glob("structure_*.json")
    compile_model(tiny(40, prior_sd=6.0), directory=tmp_path)
    (path,) = set(tmp_path.glob("structure_*.json")) - {other}
    mine = path.read_text()
    path.write_text(other.read_text())
    model = tiny(40, prior_sd=6.0)
    compiled, info = compile_model(model, directory=tmp_path)
    assert info.describe().startswith("hit (graphs rewritten: the cached log-density")
    plain = nutpie.compile_pymc_model(model, jitter_rvs=set())
    for x in ([0.3, -0.2], [-1.0, 0.8]):
        assert call_logp(compiled, np.array(x))[1] == pytest.approx(
            call_logp(plain, np.array(x))[1], rel=1e-12
        )
    assert json.loads(path.read_text()) == json.loads(mine)
