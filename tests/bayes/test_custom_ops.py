"""Each custom Op (likelihood kernels, RAM covariance) is computed once per log-density +
gradient in the function nutpie compiles, on the cached and the cache-off paths (issues 21, 22).

PyTensor's diagonals (`pt.diagonal`, `pt.diag`) have the OpFromGraph `AllocDiag` in their
gradient; PyTensor 2.38 inlines it late through `clone_replace`, which copied the likelihood Op,
and the copies were not merged again: the likelihood ran twice per gradient. The model graphs
build their diagonals with `blocks/ram.py`'s `diagonal` and `diagonal_matrix` instead; with
PyTensor's diagonals put back (the graphs before), the log-density and gradient are the same
to 1e-12."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.builders import OpFromGraph
from pytensor.graph.traversal import io_toposort

import bayeslead.bayes.blocks.ordinal as blocks_ordinal
import bayeslead.bayes.models.single.build as single_build
import bayeslead.bayes.models.twolevel.build as twolevel_build
import bayeslead.bayes.models.twolevel.covariates as twolevel_covariates
import bayeslead.bayes.models.twolevel.ordinal as twolevel_ordinal
from bayeslead.api import fit
from bayeslead.bayes import recipe
from bayeslead.bayes.nutpie_cache import ENV, compile_model
from tests.bayes.test_structure_cache import config, simulate

# family -> extra config (on test_structure_cache's families); each compiles three times (minutes)
CASES = {
    "twolevel": {},
    "twolevel_covariate": {
        "observed": ["x"],
        "paths": {"F2": ["F1", "x"]},
        "bayes": {"random_slopes": []},
    },
    "ordinal": {},
    "polychoric": {"bayes": {"ordinal": "polychoric"}},
    "twolevel_ordinal": {},
}
BASE = {"twolevel_covariate": "twolevel", "polychoric": "ordinal"}


class Built(Exception):
    """Raised in place of sampling, carrying the PyMC model."""

    def __init__(self, model):
        self.model = model


def built_model(case: str, monkeypatch):
    """The PyMC model a fit of `case` samples (the fit stops there)."""
    family = BASE.get(case, case)
    settings = config(family)
    extra = CASES[case]
    settings |= {key: extra[key] for key in ("observed", "paths") if key in extra}
    settings["bayes"] = settings["bayes"] | extra.get("bayes", {})
    data = simulate(1, family)
    data["x"] = np.random.default_rng(2).standard_normal(len(data)) + 0.4 * data["a1"]

    def stop(model, *args, **kwargs):
        raise Built(model)

    with monkeypatch.context() as patch:
        patch.setattr(recipe, "sample", stop)
        with pytest.raises(Built) as built:
            fit(settings, data)
    return built.value.model


def pytensors_diagonals(monkeypatch) -> None:
    """Put PyTensor's diagonals back where the model graphs used them before."""
    for module in (blocks_ordinal, single_build, twolevel_build, twolevel_ordinal):
        monkeypatch.setattr(module, "diagonal", lambda x, size: pt.diagonal(x, 0, -2, -1))
    for module in (twolevel_build, twolevel_covariates):
        monkeypatch.setattr(module, "diagonal_matrix", lambda v, size: pt.diag(v))


def bayeslead_ops(nodes) -> Counter:
    """How many nodes of each of bayeslead's Ops are among `nodes`."""
    ops = (type(node.op) for node in nodes)
    return Counter(op.__name__ for op in ops if op.__module__.startswith("bayeslead."))


def custom_nodes(compiled) -> Counter:
    """bayeslead's Op nodes in a compiled log-density + gradient, by Op."""
    return bayeslead_ops(compiled.logp_func.maker.fgraph.apply_nodes)


@pytest.mark.parametrize("case", CASES)
def test_no_pytensor_diagonal_in_the_log_density_or_its_gradient(case, monkeypatch):
    """The cause, cheaply (nothing compiled): no OpFromGraph (`AllocDiag`, the gradient of
    PyTensor's diagonals, is one) in a model's log-density + gradient graph."""
    model = built_model(case, monkeypatch)
    logp = model.logp()
    graph = [logp, *pytensor.grad(logp, model.value_vars)]
    nodes = io_toposort(model.value_vars, graph)
    assert not [node for node in nodes if isinstance(node.op, OpFromGraph)]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_each_custom_op_once_and_the_density_of_pytensors_diagonals(case, monkeypatch, tmp_path):
    """Each call of a custom Op in the log-density is one node of the compiled log-density +
    gradient, cached and cache-off; with PyTensor's diagonals (cache off) there were more, and
    the log-density and gradient are the same (1e-12) at random points."""
    model = built_model(case, monkeypatch)
    calls = bayeslead_ops(io_toposort(model.value_vars, [model.logp()]))
    cached, info = compile_model(model, directory=tmp_path)
    assert info.status == "miss"
    monkeypatch.setenv(ENV, "off")
    plain, info = compile_model(built_model(case, monkeypatch))
    assert info.status == "off"
    nodes = custom_nodes(plain)
    assert {op: nodes[op] for op in calls} == calls
    assert custom_nodes(cached) == nodes
    pytensors_diagonals(monkeypatch)
    before, _ = compile_model(built_model(case, monkeypatch))
    copies = custom_nodes(before)
    assert sum(copies[op] for op in calls) > sum(calls.values()) or not calls  # polychoric: none
    rng = np.random.default_rng(7)
    start = plain.initial_point_func(0)
    for _ in range(4):
        x = start + 0.2 * rng.standard_normal(len(start))
        (v0, g0), (v1, g1) = before.logp_func(x), plain.logp_func(x)
        np.testing.assert_allclose(v1, v0, rtol=1e-12)
        np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-12 * np.abs(g0).max())
