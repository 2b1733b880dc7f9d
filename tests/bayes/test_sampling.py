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
    from bayeslead.bayes.start_point import start_failure

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
    from bayeslead.bayes.sampling import sample
    from bayeslead.bayes.start_point import nudged_start
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


def _serial_fit(tmp_path, bayes: dict, diagnostics: dict | None = None):
    """The continuous serial-mediation model on its reference data, saved to a run folder:
    (FitResult, manifest, diagnostics.json)."""
    import json

    from bayeslead.api import fit

    config = {"name": "serial", "constructs": SERIAL, "paths": PATHS, "engine": "bayes"}
    config |= {"bayes": {"seed": 7} | bayes} | ({"diagnostics": diagnostics} if diagnostics else {})
    result = fit(config, reference_table("serial_mediation", "data.csv"))
    folder = result.save(tmp_path / "run")
    read = lambda name: json.loads((folder / name).read_text())  # noqa: E731
    return result.fit_result, read("manifest.json"), read("diagnostics.json")


def test_unset_draws_stop_at_1000_with_the_draws_of_a_fixed_run(tmp_path):
    """bayes.draws unset: a fit whose R-hat and ESS gates pass on the first 1,000 draws per chain
    keeps exactly the draws of `draws: 1000` (bitwise: same config and seed, same chains), and
    its manifest and diagnostics say how many and why."""
    from tests.bayes.test_nutpie_cache import draws_digest

    until, manifest, diagnostics = _serial_fit(tmp_path / "until", {})
    fixed, fixed_manifest, _ = _serial_fit(tmp_path / "fixed", {"draws": 1000})
    assert draws_digest(until.idata) == draws_digest(fixed.idata)
    assert until.idata.posterior.sizes["draw"] == 1000 and until.diagnostics["passed"]
    assert manifest["info"]["draws"] == 1000
    assert manifest["info"]["draws_rule"] == (
        "1,000 per chain: the R-hat and ESS gates passed at 1,000"
    )
    assert fixed_manifest["info"]["draws_rule"] == "1,000 per chain (a fixed number)"
    assert diagnostics["draws_per_chain"] == 1000
    assert diagnostics["draws_checks"] == [{"draws": 1000, "reason": None, "extend": True}]


def test_unset_draws_extend_the_same_chains_until_the_gates_pass(tmp_path):
    """An ESS gate of 3,000 fails on the first 1,000 draws per chain (min bulk ESS about 2,100
    of 4,000 draws) and passes on 2,000: the same chains draw on, and the kept draws are exactly
    the first 2,000 of a `draws: 2000` run with the same seed (no new warm-up; the result
    depends on the config and seed only). A gate no number of draws can reach (ESS 100,000:
    under it by more than DRAWS_MAX / 1,000 = 4 times) is not chased."""
    from tests.bayes.test_nutpie_cache import draws_digest

    gates = {"ess_min": 3000}
    until, manifest, diagnostics = _serial_fit(tmp_path / "until", {}, gates)
    fixed, _, _ = _serial_fit(tmp_path / "fixed", {"draws": 2000}, gates)
    assert draws_digest(until.idata) == draws_digest(fixed.idata)
    assert until.diagnostics["passed"] and until.diagnostics["min_ess_bulk"] >= 3000
    first, second = diagnostics["draws_checks"]
    assert (
        first["draws"] == 1000
        and first["extend"]
        and second
        == {
            "draws": 2000,
            "reason": None,
            "extend": True,
        }
    )
    assert 1500 < float(first["reason"].split("bulk ESS ")[1].split()[0]) < 3000
    rule = manifest["info"]["draws_rule"]
    assert rule.startswith("2,000 per chain: at 1,000: bulk ESS ")
    assert rule.endswith("; the R-hat and ESS gates passed at 2,000")
    hopeless, manifest, _ = _serial_fit(tmp_path / "hopeless", {}, {"ess_min": 100000})
    assert hopeless.idata.posterior.sizes["draw"] == 1000 and not hopeless.diagnostics["passed"]
    assert manifest["info"]["draws_rule"].startswith(
        "1,000 per chain (longer chains would not mend it): at 1,000: bulk ESS "
    )
