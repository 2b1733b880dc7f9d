"""The sampler's start-failure message."""

from __future__ import annotations

import numpy as np

from bayeslead.bayes.priors import prior_set
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from tests.conftest import reference_table

SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}


PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


def test_start_failure_names_the_variable():
    """A starting point with an impossible value gets a message naming the variable."""
    from bayeslead.bayes.data import continuous_data
    from bayeslead.bayes.models.single.build import build_continuous_model
    from bayeslead.bayes.sampling import start_failure

    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table = build_partable(spec, "std.lv")
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    priors = prior_set({}, {p.key for p in table.free_params})
    model = build_continuous_model(spec, table, continuous_data(x), priors)
    message = start_failure(model, {"paths": np.full(6, np.inf)})
    assert "the sampler could not start" in message and "paths" in message


def test_nutpie_samples_with_one_blas_thread(monkeypatch):
    """The chains are the parallelism: during nutpie's sampling every BLAS library runs one
    thread (a threaded OpenBLAS call inside a gradient left its helper thread spinning)."""
    import nutpie
    import scipy.linalg  # noqa: F401  (numba's BLAS: scipy's OpenBLAS, loaded by every fit)
    from threadpoolctl import threadpool_info

    from bayeslead.bayes.sampling import _nutpie_sample
    from bayeslead.config import BayesConfig

    seen = []
    monkeypatch.setattr(
        nutpie,
        "sample",
        lambda *a, **k: seen.extend(
            i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
        ),
    )
    _nutpie_sample(None, None, {}, BayesConfig(), 2, 1, False)
    assert seen and set(seen) == {1}


def test_a_start_with_an_exactly_zero_gradient_is_moved_off_the_zeros(monkeypatch):
    """nuts-rs refuses a start where a gradient entry is exactly 0 (here every entry: a standard
    normal at its mode); the fit starts 0.001 away instead, the same start every run."""
    import pymc as pm

    from bayeslead.bayes.nutpie_cache import ENV
    from bayeslead.bayes.sampling import nudged_start, sample
    from bayeslead.config import BayesConfig

    monkeypatch.setenv(ENV, "off")
    with pm.Model() as model:
        pm.Normal("a", 0.0, 1.0, shape=3)
        pm.HalfNormal("b", 1.0)
    start = nudged_start(model, {"b": 1.0})
    assert np.array_equal(np.abs(start), [0.001, 0.001, 0.001, 0.001])
    settings = BayesConfig(chains=2, draws=50, tune=50, seed=5, cores=1)
    first, again = (sample(model, {"b": 1.0}, settings, progress=False) for _ in range(2))
    draws = first.idata.posterior["a"].values
    assert draws.shape == (2, 50, 3) and np.isfinite(draws).all()
    np.testing.assert_array_equal(draws, again.idata.posterior["a"].values)
    assert nudged_start(model, {"b": np.inf}) is None
