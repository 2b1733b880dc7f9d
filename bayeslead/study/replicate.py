"""One replicate of a study, as run on a Dask worker: simulate, fit, and summarise the fit as a
JSON-ready record. A replicate that fails is recorded with its error, never raised.

Continuous single-level Bayesian models are compiled once per worker process (nutpie, with the
scatter matrix in `pm.Data` containers) and re-sampled with each replicate's data; ordinal and
two-level models are compiled per replicate (their data enter the graph's shapes).
"""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bayeslead.bayes.data import ContinuousData, continuous_data
from bayeslead.bayes.gates import sampler_statistics
from bayeslead.bayes.models.single.fit import SingleData, SingleLevel
from bayeslead.bayes.recipe import Checked, Graph, Setup, make_setup
from bayeslead.bayes.sampling import CompiledModel, compile_once, sample_compiled
from bayeslead.core.effects import defined_name
from bayeslead.core.partable import build_partable
from bayeslead.data import ResponseData
from bayeslead.hypotheses import evaluate
from bayeslead.results import FitResult
from bayeslead.simulate import simulate_responses
from bayeslead.study.design import SBC_DRAWS, Replicate, StudyModel

_COMPILED: dict[str, CompiledModel] = {}  # per worker process: token -> compiled model


def run_replicate(model: StudyModel, replicate: Replicate) -> dict:
    """Simulate, fit and summarise one replicate; failures become a record with the error."""
    started = time.perf_counter()
    record: dict = {
        "n": replicate.n,
        "rep": replicate.rep,
        "seed": replicate.seed,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    try:
        with threadpool_limits(1):
            body = (
                sbc_replicate(model, replicate)
                if model.kind == "sbc"
                else fit_replicate(model, replicate)
            )
        record |= {"status": "ok"} | body
    except Exception as exc:  # noqa: BLE001  (the study records every failure and goes on)
        record |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record


def fit_replicate(model: StudyModel, replicate: Replicate) -> dict:
    """Simulate a data set from the truth and fit it with the study's engine."""
    spec = model.spec
    frame = simulate_responses(
        spec,
        model.truth,
        model.scales,
        replicate.n,
        replicate.seed,
        id_column="",
        continuous=model.responses == "continuous",
    )
    data = ResponseData(
        frame=frame[list(spec.manifest)].astype(float),
        raw=frame,
        path=None,
        sha256="",
        ranges={},
        clusters=frame[[spec.cluster]] if spec.cluster else None,
    )
    if model.engine == "sem":
        from bayeslead.sem.engine import fit_sem

        started = time.perf_counter()
        settings = model.sem.model_copy(update={"seed": replicate.seed})  # own bootstrap draws
        result = fit_sem(spec, data, settings, progress=False)
        timings = {"compile_s": 0.0, "fit_s": time.perf_counter() - started}
    elif model.bayes.indicators == "continuous" and not spec.cluster:
        result, timings = _fit_compiled(model, data, replicate.seed)
    else:
        from bayeslead.bayes.engine import family_of

        settings = model.bayes.model_copy(update={"seed": replicate.seed})
        result = family_of(spec).fit(spec, data, settings, model.gates, progress=False)
        timings = {
            "compile_s": result.timings.get("compile_s", 0.0),
            "fit_s": result.timings.get("sampling_s", 0.0),
        }
    record = {
        "compile_s": round(timings["compile_s"], 3),
        "fit_s": round(timings["fit_s"], 3),
        "effects": _effect_rows(result.effects),
    }
    if model.kind == "recovery":
        defined = {k: v[:3] for k, v in record["effects"].items()}
        record["parameters"] = _parameter_rows(result.estimates) | defined
    if model.hypotheses:
        table = evaluate(list(model.hypotheses), spec, build_partable(spec), result)
        record["hypotheses"] = {
            row.hypothesis: row.supported == "supported" for row in table.itertuples()
        }
    if result.diagnostics:
        record["diagnostics"] = {
            "max_rhat": result.diagnostics["max_rhat"],
            "min_ess_bulk": result.diagnostics["min_ess_bulk"],
            "divergences": result.diagnostics["divergences"],
            "passed": result.diagnostics["passed"],
        }
    return record


def _fit_compiled(model: StudyModel, data: ResponseData, seed: int):
    """Posterior of a continuous single-level model: the single-level family's steps of the fit
    recipe around the worker's compiled model (no predictive checks)."""
    spec, settings = model.spec, model.bayes
    family = SingleLevel()
    prepared = family.prepare(spec, data, settings)
    setup = make_setup(spec, settings)
    compiled, compile_s = _compiled(model, setup, prepared)
    graph = Graph(model=compiled.model)
    initial = family.start(setup, prepared, graph)
    moments = _moments(prepared.continuous, bool(spec.interactions))
    checked = Checked(lambda idata: family.summarise(setup, prepared, graph, idata), model.gates)
    sampled = sample_compiled(compiled, moments, initial, settings, seed, check=checked.check)
    summary, diagnostics = checked(sampled.idata)
    flat = summary.theta.reshape(-1, summary.theta.shape[-1])
    result = FitResult(
        engine="bayes",
        estimates=summary.estimates,
        effects=summary.effects,
        fit={},
        info={},
        diagnostics=diagnostics,
        theta=flat.mean(axis=0),
        draws=flat,
        draws_kind="posterior",
    )
    return result, {"compile_s": compile_s, "fit_s": sampled.sampling_s}


def _compiled(model: StudyModel, setup: Setup, data: SingleData) -> tuple[CompiledModel, float]:
    """The worker's compiled model for `model.token`, compiling it on first use; returns the
    compile seconds paid by this call (0 when re-used)."""
    if model.token in _COMPILED:
        return _COMPILED[model.token], 0.0
    graph = SingleLevel().build(setup, data)
    compiled = compile_once(graph.model, ["theta"], graph.low_rank_mass_matrix)
    _COMPILED[model.token] = compiled
    return compiled, compiled.compile_s


def _moments(cdata: ContinuousData, items: bool = False) -> dict[str, np.ndarray]:
    """The data containers' values: the scatter matrix and its weight, or (latent
    interactions) the centred items and their scatter."""
    if items:
        centred = cdata.z - cdata.z.mean(axis=0)
        return {"items": centred, "items_scatter": centred.T @ centred}
    return {"scatter": cdata.scatter[None], "weight": np.array([cdata.n - 1.0])}


def sbc_replicate(model: StudyModel, replicate: Replicate) -> dict:
    """Simulation-based calibration (Talts et al. 2018): draw the parameters from the prior,
    data from the model given them, sample the posterior, and rank the prior draw among
    `SBC_DRAWS` evenly thinned posterior draws (sampling parameterisation, raw data)."""
    import pymc as pm

    setup = make_setup(model.spec, model.bayes)
    std_table = setup.table
    p = std_table.n_manifest
    rng = np.random.default_rng(replicate.seed)
    placeholder = rng.standard_normal((replicate.n, p))
    compiled, compile_s = _compiled(model, setup, raw_data(placeholder))
    true_theta = np.asarray(pm.draw(compiled.model["theta"], random_seed=rng))
    sigma = std_table.implied(true_theta)[:p, :p]
    x = rng.multivariate_normal(np.zeros(p), sigma, size=replicate.n, method="cholesky")
    data = raw_data(x)
    initial = SingleLevel().start(setup, data, Graph(model=compiled.model))
    sampled = sample_compiled(
        compiled, _moments(data.continuous), initial, model.bayes, replicate.seed
    )
    draws = sampled.idata.posterior["theta"].values.reshape(-1, len(true_theta))
    keep = np.linspace(0, len(draws) - 1, SBC_DRAWS).round().astype(int)
    ranks = (draws[keep] < true_theta).sum(axis=0)
    stats = sampler_statistics(sampled.idata.sample_stats)
    return {
        "compile_s": round(compile_s, 3),
        "fit_s": round(sampled.sampling_s, 3),
        "ranks": {q.key: int(r) for q, r in zip(std_table.free_params, ranks, strict=True)},
        "diagnostics": {"divergences": stats["divergences"]},
    }


def raw_data(x: np.ndarray) -> SingleData:
    """Simulated items as the single-level family's data, centred but not standardised: the
    likelihood of the raw data, as simulation-based calibration requires."""
    return SingleData(frame=pd.DataFrame(x), x=x, continuous=continuous_data(x, standardize=False))


def _parameter_rows(estimates: pd.DataFrame) -> dict[str, list[float]]:
    """Free parameters: key -> [est, ci_lower, ci_upper] (fixed ones have se 0; R-squared rows
    are not parameters)."""
    return {
        f"{r.lhs} {r.op} {r.rhs}": [float(r.est), float(r.ci_lower), float(r.ci_upper)]
        for r in estimates.itertuples()
        if r.op not in (":=", "r2") and r.se > 0
    }


def _effect_rows(effects: pd.DataFrame) -> dict[str, list[float]]:
    """Named effects: defined name (with its level in two-level models, e.g.
    ``serial (average)``) -> [est, ci_lower, ci_upper, std_est]."""
    rows = {}
    for r in effects.itertuples():
        level = r.level if isinstance(r.level, str) and r.level else ""
        key = defined_name(r.effect, r.kind) + (f" ({level})" if level else "")
        rows[key] = [float(r.est), float(r.ci_lower), float(r.ci_upper), float(r.std_est)]
    return rows
