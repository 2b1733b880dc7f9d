"""Compile once per machine: nutpie's entry points from the persistent cache (`nutpie_cache`)
equal plain nutpie's, survive processes, are safe under concurrent processes, fall back to plain
nutpie when its private API differs, and give the same draws bitwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from bayeslead.bayes.nutpie_cache import ENV, cache_dir, compile_model
from bayeslead.bayes.nutpie_source import call_expand, call_logp

ROOT = Path(__file__).parents[2]

# a model with a pm.Data container, a transformed parameter and a deterministic (expanded)
TINY = """
import numpy as np
import pymc as pm

def tiny_model(n, seed=1):
    y = np.random.default_rng(seed).normal(1.0, 2.0, size=n)
    with pm.Model() as model:
        data = pm.Data("y", y)
        mu = pm.Normal("mu", 0.0, 5.0)
        sigma = pm.HalfNormal("sigma", 3.0)
        pm.Deterministic("precision", 1.0 / sigma**2)
        pm.Normal("obs", mu, sigma, observed=data)
    return model
"""
namespace: dict = {}
exec(TINY, namespace)  # noqa: S102  (the same model in this process and in the subprocesses)
tiny_model = namespace["tiny_model"]


def _expand(compiled, x: np.ndarray) -> np.ndarray:
    code, out = call_expand(compiled, x)
    assert code == 0
    return out


POINTS = [np.array([0.3, -0.2]), np.array([1.5, 0.7]), np.array([-2.0, 1.1])]


def test_cached_log_density_and_gradient_equal_plain_nutpies(tmp_path):
    """At several points the cached entry points give nutpie's log-density, gradient and expanded
    values (to 1e-12), also after `with_data` with another sample size."""
    import nutpie

    model = tiny_model(40)
    cached, info = compile_model(model, directory=tmp_path)
    plain = nutpie.compile_pymc_model(model, jitter_rvs=set())
    assert info.status == "miss" and info.key
    assert (cached.n_dim, cached.n_expanded, cached.shapes) == (
        plain.n_dim,
        plain.n_expanded,
        plain.shapes,
    )
    other = np.random.default_rng(7).normal(size=123)
    for a, b in [(cached, plain), (cached.with_data(y=other), plain.with_data(y=other))]:
        for x in POINTS:
            code_a, logp_a, grad_a = call_logp(a, x)
            code_b, logp_b, grad_b = call_logp(b, x)
            assert code_a == code_b == 0
            np.testing.assert_allclose(logp_a, logp_b, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(grad_a, grad_b, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(_expand(a, x), _expand(b, x), rtol=1e-12, atol=1e-12)
    # another data set changes the log-density (the records point at the new data)
    assert call_logp(cached.with_data(y=other), POINTS[0])[1] != call_logp(cached, POINTS[0])[1]


SCRIPT = TINY + textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from bayeslead.bayes.nutpie_cache import compile_model

    compiled, info = compile_model(tiny_model(int(sys.argv[2]), int(sys.argv[3])), directory=Path(sys.argv[1]))
    code = compiled.compiled_logp_func.ctypes  # callable: the entry point is usable
    print(json.dumps({"status": info.status, "key": info.key, "reason": info.reason}))
    """
)


def _run(directory: Path, n: int, seed: int) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(directory), str(n), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_concurrent_processes_both_succeed_and_a_new_process_hits_the_cache(tmp_path):
    """Two processes compiling the same structure at once both succeed (one module file); a
    third process with other data (another N, another seed) loads the machine code without
    rewriting the graphs: a structure hit."""
    first, second = _run(tmp_path, 30, 1), _run(tmp_path, 30, 2)
    a, b = _result(first), _result(second)
    assert a["key"] == b["key"] and {a["status"], b["status"]} <= {"miss", "hit"}
    assert len(list(tmp_path.glob("nutpie_*.py"))) == 1
    assert not list(tmp_path.glob(".tmp_*"))  # no temporary file left behind
    third = _result(_run(tmp_path, 77, 3))
    assert third == third | {"status": "hit", "key": a["key"], "reason": ""}


def test_falls_back_to_plain_nutpie_when_its_private_api_differs(tmp_path, monkeypatch):
    """A nutpie without one of the private names the cache uses: the model still compiles
    (plain nutpie) and the info says why."""
    import nutpie.compile_pymc

    from bayeslead.bayes import nutpie_cache

    renamed = (*nutpie_cache.NUTPIE_NAMES, "_make_functions_renamed_in_a_later_nutpie")
    monkeypatch.setattr(nutpie_cache, "NUTPIE_NAMES", renamed)
    compiled, info = compile_model(tiny_model(20), directory=tmp_path)
    assert info.status == "fallback" and "_make_functions_renamed" in info.reason
    assert info.describe().startswith("fallback (CacheUnavailable: nutpie")
    assert type(compiled) is nutpie.compile_pymc.CompiledPyMCModel
    code, logp, _ = call_logp(compiled, POINTS[0])
    assert code == 0 and np.isfinite(logp)
    assert not list(tmp_path.glob("nutpie_*.py"))


def test_entry_points_inline_pytensors_graph_function():
    """`inlined_graph` unwraps PyTensor's jitted function to the graph function it calls, marked
    for inlining into the entry point, with the same values; anything else is not unwrapped."""
    import numba
    import pytensor
    import pytensor.tensor as pt

    from bayeslead.bayes.nutpie_source import inlined_graph

    x = pt.dvector("x")
    function = pytensor.function([x], [pt.exp(x).sum(), 2 * x], mode="NUMBA")
    graph = inlined_graph(function.vm.jit_fn)
    assert graph is not None and graph.targetoptions["inline"] == "always"
    at = np.array([0.5, -1.0, 2.0])
    value, doubled = graph(at)
    np.testing.assert_array_equal(doubled, 2 * at)
    assert value == function(at)[0]
    assert inlined_graph(numba.njit(lambda v: v)) is None
    assert inlined_graph(lambda v: v) is None


def test_cache_directory_and_switch(monkeypatch, tmp_path):
    """BAYESLEAD_NUTPIE_CACHE names the directory or switches the cache off; by default it sits
    in PyTensor's base_compiledir beside PyTensor's own numba cache."""
    import pytensor

    monkeypatch.delenv(ENV, raising=False)
    assert cache_dir() == Path(pytensor.config.base_compiledir) / "bayeslead_nutpie"
    monkeypatch.setenv(ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv(ENV, "off")
    assert cache_dir() is None


def test_same_seed_gives_the_same_draws_with_and_without_the_cache(tmp_path, monkeypatch):
    """A bayeslead model (the serial SEM's pattern likelihood Op) sampled with the same seed
    from where a fit starts (the ML estimates): plain nutpie, a cache miss and a cache hit give
    bitwise identical draws."""
    from bayeslead.bayes.data import continuous_data
    from bayeslead.bayes.models.single.build import build_continuous_model
    from bayeslead.bayes.priors import prior_set
    from bayeslead.bayes.sampling import sample
    from bayeslead.bayes.start import continuous_start
    from bayeslead.config import BayesConfig, RunConfig
    from bayeslead.core.from_config import build_spec
    from bayeslead.core.partable import build_partable
    from tests.conftest import reference_table

    constructs = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ"]}
    spec = build_spec(
        RunConfig(name="s", constructs=constructs, paths={"SENS": ["TL"], "SEIZ": ["SENS"]})
    )
    table = build_partable(spec, "std.lv")
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    priors = prior_set({}, {p.key for p in table.free_params})
    settings = BayesConfig(chains=2, draws=150, tune=150, seed=11, cores=1)
    initial = continuous_start(spec, table, priors, continuous_data(x))
    runs = {}
    for label, value in [("off", "off"), ("miss", str(tmp_path)), ("hit", str(tmp_path))]:
        monkeypatch.setenv(ENV, value)
        model = build_continuous_model(spec, table, continuous_data(x), priors)
        runs[label] = sample(model, initial, settings, progress=False)
    assert [r.compile_cache for r in runs.values()] == [
        "off (BAYESLEAD_NUTPIE_CACHE=off)",
        "miss",
        "hit",
    ]
    reference = runs["off"].idata
    for label in ("miss", "hit"):
        idata = runs[label].idata
        for group in ("posterior", "sample_stats"):
            ours, theirs = idata[group], reference[group]
            assert set(ours.data_vars) == set(theirs.data_vars)
            for name in theirs.data_vars:
                np.testing.assert_array_equal(ours[name].values, theirs[name].values)


FIT = textwrap.dedent(
    """
    import json, sys
    from bayeslead.api import fit
    from tests.bayes.test_nutpie_cache import draws_digest, hs_config, hs_data

    result = fit(hs_config(), hs_data(sys.argv[1])).fit_result
    print(json.dumps({"cache": result.info["compile_cache"], "draws": draws_digest(result.idata)}))
    """
)


def hs_config() -> dict:
    """Holzinger-Swineford's three-factor CFA, a short run."""
    items = {
        "visual": ["x1", "x2", "x3"],
        "textual": ["x4", "x5", "x6"],
        "speed": ["x7", "x8", "x9"],
    }
    bayes = {"chains": 2, "draws": 150, "tune": 150, "seed": 4, "cores": 1}
    return {"name": "hs", "constructs": items, "engine": "bayes", "bayes": bayes}


def hs_data(which: str):
    """Two data sets of the same structure: all 301 pupils ("a") or a resample of 200 ("b")."""
    from tests.conftest import reference_table

    frame = reference_table("holzinger1939", "data.csv")
    if which == "b":
        frame = frame.sample(n=200, replace=True, random_state=9).reset_index(drop=True)
    return frame


def draws_digest(idata) -> str:
    """A hash of every posterior draw and sampler statistic (bitwise)."""
    import hashlib

    digest = hashlib.sha256()
    for group in ("posterior", "sample_stats"):
        for name in sorted(idata[group].data_vars):
            digest.update(name.encode() + np.ascontiguousarray(idata[group][name].values).tobytes())
    return digest.hexdigest()


def _fit_in_new_process(directory: Path, which: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(ROOT), ENV: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", FIT, which], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fit_on_other_data_of_the_same_structure_compiles_nothing(tmp_path, monkeypatch):
    """The cache key is the model's structure: the data enter as `pm.Data` containers. A new
    process fitting Holzinger-Swineford's CFA on other data (another N) loads the machine code
    stored by the first fit, and its draws equal an uncached fit's bitwise."""
    from bayeslead.api import fit

    first = _fit_in_new_process(tmp_path, "a")
    second = _fit_in_new_process(tmp_path, "b")
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert len(list(tmp_path.glob("nutpie_*.py"))) == 1  # one structure, one module
    monkeypatch.setenv(ENV, "off")
    uncached = fit(hs_config(), hs_data("b")).fit_result
    assert uncached.info["compile_cache"] == "off (BAYESLEAD_NUTPIE_CACHE=off)"
    assert draws_digest(uncached.idata) == second["draws"]
    assert first["draws"] != second["draws"]
