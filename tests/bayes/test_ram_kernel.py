"""The RAM covariance Op (`bayes/kernels/ram.py`): Sigma and its gradient equal the PyTensor
RAM algebra (`blocks.ram.implied_covariance`, powers of A then B S B') on models with
second-order constructs, equality classes, residual covariances, observed paths and fixed
values; the bundled study's log-density and gradient equal those of the model written with
that algebra; the JAX twin gives the same Sigma."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayeslead.bayes.blocks import ram
from bayeslead.bayes.capabilities import CAPABILITIES
from bayeslead.bayes.engine import family_of
from bayeslead.bayes.models.single import build
from bayeslead.bayes.recipe import make_setup
from bayeslead.config import BayesConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.pipeline import load_inputs
from tests.conftest import REFERENCE, reference_table

BUNDLED = "configs/tl_dc_bi_bayes.yaml"
OBSERVED_PATHS = """
    visual  =~ x1 + x2 + x3
    textual =~ x4 + x5 + x6
    visual ~ x7
    textual ~ visual + x7 + x8
    x9 ~ textual
    x1 ~~ 0.2*x4
"""


def _lavaan_table(folder: str, data: str, text: str, metric: str) -> ParameterTable:
    frame = reference_table(folder, data)
    config = RunConfig(name="t", model=text, engine="bayes")
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    return build_partable(spec, metric)


def tables() -> dict[str, ParameterTable]:
    constraints = REFERENCE / "lavaan_constraints"
    hs = (constraints / "hs_equal.lav").read_text()
    poldem = (constraints / "poldem_labels.lav").read_text()
    bundled = load_inputs(BUNDLED, need_data=False).spec
    return {
        "bundled (second order, std.lv)": make_setup(bundled, BayesConfig()).table,
        "bundled (marker)": build_partable(bundled),
        "hs equal loadings (marker)": _lavaan_table(
            "lavaan_constraints", "hs_data.csv", hs, "marker"
        ),
        "poldem equal loadings, residual covariances": _lavaan_table(
            "lavaan_constraints", "poldem_data.csv", poldem, "marker"
        ),
        "observed paths, a fixed covariance": _lavaan_table(
            "lavaan_constraints", "hs_data.csv", OBSERVED_PATHS, "std.lv"
        ),
    }


def _theta(table: ParameterTable, rng) -> np.ndarray:
    theta = rng.uniform(-0.6, 0.9, table.n_free)
    for p in table.free_params:
        if p.matrix == "S" and p.row == p.col:
            theta[p.free] = rng.uniform(0.5, 1.5)
        elif p.matrix == "S":
            theta[p.free] = rng.uniform(-0.2, 0.2)
    return theta


@pytest.mark.parametrize("name", list(tables()))
def test_sigma_and_gradient_equal_the_ram_algebra(name):
    """Value to 1e-13 and d sum(G * Sigma) / d theta to 1e-12 (relative to its scale),
    through `perform` (PyMC's own samplers; the numba kernels themselves). PyTensor's numba
    mode, the sampler's, is compared on the bundled model below."""
    table = tables()[name]
    p = table.n_manifest
    theta = pt.dvector("theta")
    g = pt.dmatrix("g")
    new = ram.manifest_covariance(table, theta)
    old = ram.implied_covariance(table, theta)[:p, :p]
    outputs = []
    for sigma in (old, new):
        value = pt.sum(g * sigma)
        outputs += [sigma, pytensor.grad(value, theta)]
    rng = np.random.default_rng(7)
    f = pytensor.function([theta, g], outputs, mode="FAST_COMPILE")
    for _ in range(5):
        x, gx = _theta(table, rng), rng.normal(size=(p, p))
        s_old, d_old, s_new, d_new = f(x, gx)
        np.testing.assert_allclose(s_new, s_old, rtol=0, atol=1e-13)
        np.testing.assert_allclose(d_new, d_old, rtol=0, atol=1e-12 * np.abs(d_old).max())
        np.testing.assert_array_equal(s_new, s_new.T)
        np.testing.assert_allclose(s_new, table.implied(x)[:p, :p], rtol=0, atol=1e-13)


def test_bundled_log_density_and_gradient_equal_the_pytensor_algebra(monkeypatch):
    """The sampled density is unchanged: the bundled study's model with the Op (compiled as
    the sampler compiles it, PyTensor's numba mode) and with ``implied_covariance(...)[:p, :p]``
    (PyTensor's reference algebra, evaluated by its Python linker) give the same log-density
    (1e-10 relative) and gradient (1e-10 of its scale)."""
    inputs = load_inputs(BUNDLED)
    family, settings = family_of(inputs.spec), inputs.config.bayes
    data = family.prepare(inputs.spec, inputs.data, settings)
    setup = make_setup(inputs.spec, settings)
    models = [family.build(setup, data).model]
    monkeypatch.setattr(
        build,
        "manifest_covariance",
        lambda table, theta: ram.implied_covariance(table, theta)[
            : table.n_manifest, : table.n_manifest
        ],
    )
    models.append(family.build(setup, data).model)
    functions = []
    for model, mode in zip(models, ("NUMBA", "FAST_COMPILE"), strict=True):
        f = model.logp_dlogp_function(mode=mode, ravel_inputs=True)
        f.set_extra_values({})
        functions.append(f)
    point = models[0].initial_point()
    point.update(family.start(setup, data, None))
    x0 = np.concatenate([np.ravel(point[v.name]) for v in functions[0]._grad_vars])
    rng = np.random.default_rng(3)
    for k in range(10):
        x = x0 + (0.0 if k == 0 else rng.normal(0, 0.05, x0.size))
        (l_new, g_new), (l_old, g_old) = functions[0](x), functions[1](x)
        assert abs(l_new - l_old) <= 1e-10 * abs(l_old)
        np.testing.assert_allclose(g_new, g_old, rtol=0, atol=1e-10 * np.abs(g_old).max())


def test_jax_ram_covariance_matches_the_numba_kernel():
    """numpyro samples the JAX twins (the gradient Op by JAX's vjp): the same Sigma and
    gradient as the numba kernels."""
    pytest.importorskip("jax")
    import bayeslead.bayes.kernels.jax_ops  # noqa: F401  (registers the JAX twins)

    table = tables()["poldem equal loadings, residual covariances"]
    p = table.n_manifest
    theta, g = pt.dvector("theta"), pt.dmatrix("g")
    sigma = ram.manifest_covariance(table, theta)
    outputs = [sigma, pytensor.grad(pt.sum(g * sigma), theta)]
    rng = np.random.default_rng(2)
    x, gx = _theta(table, rng), rng.normal(size=(p, p))
    expected = pytensor.function([theta, g], outputs, mode="NUMBA")(x, gx)
    got = pytensor.function([theta, g], outputs, mode="JAX")(x, gx)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(np.asarray(a), b, rtol=0, atol=1e-12 * np.abs(b).max())
