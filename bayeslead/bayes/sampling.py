"""The one module that runs MCMC: nutpie (default), numpyro or PyMC's own NUTS.

Chains start at the given initial values without random jitter (the ML estimates, so every chain
starts in the reflection mode of the data; warm-up then disperses them). Measured on the 2-core
development machine for the continuous serial-mediation SEM (4 chains x 2000 iterations):
nutpie (numba) sampled in about 2.5 s after a 15-20 s compilation; numpyro compiled for about 11 s
and sampled in about 5 s (vectorised chains); PyMC's NUTS on the C backend is far slower. nutpie is
therefore the default ("auto"); the others stay selectable with `bayes.sampler`.

`low_rank` switches on nutpie's low-rank modified mass matrix (a family asks for it when its
posterior has strongly correlated directions): on the bundled study with a latent interaction
(1,000 sampled scores) the diagonal metric failed the ESS gate (bulk ESS 348-385 on the
two-dimension second-order BI loadings, posterior correlation -0.88), the low-rank metric passed
every gate (bulk ESS 1,192-1,758) at 1.7x the sampling CPU (prototype measurements, issue 18).

nutpie samples with one BLAS thread (`threadpool_limits`): its chains are the parallelism, and
OpenBLAS threads even a 3 x 3 triangular solve (`dtrtrs`), so every gradient of a graph with
`pt.linalg.solve` / Cholesky Ops woke OpenBLAS's thread pool, whose helper thread then spun on a
core. Measured on the ordinal two-level model (150 firms x 8, 3 constructs, one random slope;
the same 4,914 gradients with the same seed either way): 17.1-18.2 ms of process CPU per
gradient with OpenBLAS's 2 threads, 1.18-1.29 ms with one (busy machine, load 16-18, nice 19).

nutpie's compiled entry points come from `nutpie_cache` (compile once per machine): a model whose
structure was compiled before, in any process, loads its machine code; `SamplingResult.compile_cache`
says which ("hit", "miss", "off", "fallback (why)") and the fit's info carries it to the manifest.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass

import arviz as az
import numpy as np
import pymc as pm
from pymc.initial_point import make_initial_point_fn
from threadpoolctl import threadpool_limits

from bayeslead.bayes.nutpie_cache import compile_model
from bayeslead.config import BayesConfig
from bayeslead.errors import FitProblemError, InputError
from bayeslead.phases import Phases


@dataclass(frozen=True)
class SamplingResult:
    idata: az.InferenceData
    sampler: str
    compile_s: float
    sampling_s: float
    compile_cache: str = ""  # nutpie: how the entry points were obtained (CacheInfo.describe)

    def timings(self, setup_s: float) -> dict[str, float]:
        """`FitResult.timings` of a fit: model building, compilation and sampling seconds."""
        return {
            "setup_s": round(setup_s, 3),
            "compile_s": round(self.compile_s, 3),
            "sampling_s": round(self.sampling_s, 3),
        }


def sample(
    model: pm.Model,
    initial: dict,
    settings: BayesConfig,
    var_names: list[str] | None = None,
    progress: bool = True,
    phases: Phases | None = None,
    low_rank: bool = False,
) -> SamplingResult:
    """Sample `model` with the configured sampler; `var_names` limits what is stored.
    Compiling and sampling are the phases "compile_s" and "sampling_s" of `phases` (shown on a
    terminal when `phases.show`, else when `progress`); `low_rank`: nutpie's low-rank modified
    mass matrix (ignored by the other samplers)."""
    sampler = "nutpie" if settings.sampler == "auto" else settings.sampler
    cores = settings.cores or os.cpu_count() or 1
    phases = phases or Phases(show=progress)
    progress = phases.show
    drawing = f"Sampling {settings.chains} chains x {settings.tune} + {settings.draws} draws"
    if sampler == "nutpie":
        started = time.perf_counter()
        with phases.step("compile_s", "Compiling the model"):
            compiled, cache = compile_model(
                model, initial, var_names, on_miss=lambda: _announce_compilation(phases)
            )
        compiled_at = time.perf_counter()
        with phases.step("sampling_s", drawing, spinner=False):
            idata = _nutpie_sample(
                compiled,
                model,
                initial,
                settings,
                min(cores, settings.chains),
                settings.seed,
                progress,
                low_rank,
            )
        done = time.perf_counter()
        return SamplingResult(
            idata, sampler, compiled_at - started, done - compiled_at, cache.describe()
        )
    kwargs = {
        "draws": settings.draws,
        "tune": settings.tune,
        "chains": settings.chains,
        "random_seed": settings.seed,
        "target_accept": settings.target_accept,
        "initvals": initial,
        "progressbar": progress,
        "var_names": var_names,
        "compute_convergence_checks": False,
    }
    if sampler == "numpyro":
        try:
            import bayeslead.bayes.kernels.jax_ops  # noqa: F401  (registers the JAX likelihoods)
        except ImportError:
            raise InputError(
                "bayes.sampler: 'numpyro' needs JAX and numpyro: pip install 'bayeslead[jax]'"
            ) from None
    started = time.perf_counter()
    with (
        model,
        phases.step("sampling_s", f"Compiling the model; {drawing}", spinner=False),
    ):
        if sampler == "numpyro":
            idata = pm.sample(
                nuts_sampler="numpyro", nuts_sampler_kwargs={"chain_method": "vectorized"}, **kwargs
            )
        else:
            idata = pm.sample(cores=min(cores, settings.chains), **kwargs)
    # numpyro and PyMC compile inside pm.sample; their compile time is part of sampling_s
    return SamplingResult(idata, sampler, 0.0, time.perf_counter() - started)


@dataclass(frozen=True)
class CompiledModel:
    """A model compiled once by nutpie whose `pm.Data` containers take new values per fit."""

    model: pm.Model
    compiled: object  # nutpie's CompiledPyMCModel
    compile_s: float
    low_rank: bool = False  # sample with nutpie's low-rank metric
    compile_cache: str = ""  # how the entry points were obtained (CacheInfo.describe)


def compile_once(
    model: pm.Model, var_names: list[str] | None = None, low_rank: bool = False
) -> CompiledModel:
    """Compile `model` with nutpie (numba) for repeated sampling with new data; the entry
    points come from the per-machine cache when the structure was compiled before."""
    started = time.perf_counter()
    compiled, cache = compile_model(model, var_names=var_names)
    return CompiledModel(model, compiled, time.perf_counter() - started, low_rank, cache.describe())


def _announce_compilation(phases: Phases) -> None:
    """The progress message of a cache miss (compiling takes 5-30 s, once per machine)."""
    if phases.show:
        phases.console.print(
            "Compiling the sampler for this model structure (once per machine) ...",
            highlight=False,
        )


def sample_compiled(
    target: CompiledModel,
    data: dict[str, np.ndarray],
    initial: dict,
    settings: BayesConfig,
    seed: int,
    cores: int = 1,
) -> SamplingResult:
    """Sample a compiled model with new `data` (container name -> value), starting the
    chains at `initial` (values of the sampled variables, as for `sample`)."""
    started = time.perf_counter()
    start = _flat_start(target.model, initial)
    compiled = dataclasses.replace(
        target.compiled.with_data(**data), initial_point_func=lambda _seed: start.copy()
    )
    idata = _nutpie_sample(
        compiled, target.model, initial, settings, cores, seed, False, target.low_rank
    )
    return SamplingResult(idata, "nutpie", 0.0, time.perf_counter() - started)


def _nutpie_sample(compiled, model, initial, settings, cores, seed, progress, low_rank=False):
    """nutpie's sampler. nuts-rs refuses to start where a gradient entry is exactly zero (its
    `array_all_finite_and_nonzero` check, nuts-rs 0.17-0.18 = nutpie 0.16.8-0.16.11); such a
    start is moved off the zeros once (`nudged_start`) and sampled; a start it still rejects
    becomes a FitProblemError naming the culprits."""
    try:
        return _draw(compiled, settings, cores, seed, progress, low_rank)
    except RuntimeError as exc:
        if "initialization" not in str(exc):
            raise
    start = nudged_start(model, initial)
    if start is not None:
        moved = dataclasses.replace(compiled, initial_point_func=lambda _seed: start.copy())
        try:
            return _draw(moved, settings, cores, seed, progress, low_rank)
        except RuntimeError as exc:
            if "initialization" not in str(exc):
                raise
    raise FitProblemError(start_failure(model, initial)) from None


def _draw(compiled, settings, cores, seed, progress, low_rank):
    import nutpie

    # one BLAS thread: the chains are the parallelism (see the module docstring)
    with threadpool_limits(limits=1, user_api="blas"):
        return nutpie.sample(
            compiled,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=progress,
            save_warmup=False,
            low_rank_modified_mass_matrix=low_rank,
        )


def nudged_start(model: pm.Model, initial: dict, rounds: int = 5) -> np.ndarray | None:
    """`initial` on the unconstrained scale (flat, nutpie's order) with every coordinate whose
    log-density gradient is exactly zero moved by 0.001 (fixed signs: the same start every
    run), repeated while zeros remain; None if the log-density or its gradient is not finite
    there (nothing to mend: `start_failure` explains)."""
    point = _start_point(model, initial)
    flat = _flatten(model, point)
    names = [value.name for value in model.value_vars]  # the free variables' order, as nutpie's
    shapes = [np.shape(point[name]) for name in names]
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    signs = np.where(np.random.default_rng(0).random(flat.size) < 0.5, -1.0, 1.0)
    for _ in range(rounds):
        gradient = dlogp(point)
        if not (np.isfinite(logp(point)) and np.all(np.isfinite(gradient))):
            return None
        zero = gradient == 0
        if not zero.any():
            return flat
        flat[zero] += 1e-3 * signs[zero] * np.maximum(1.0, np.abs(flat[zero]))
        parts = zip(names, np.split(flat, ends), shapes, strict=True)
        point = {name: part.reshape(shape) for name, part, shape in parts}
    return None


def _flat_start(model: pm.Model, initial: dict) -> np.ndarray:
    """`initial` on the unconstrained scale, flattened in nutpie's order (the free variables'
    order in the model)."""
    return _flatten(model, _start_point(model, initial))


def _start_point(model: pm.Model, initial: dict) -> dict[str, np.ndarray]:
    """`initial` on the unconstrained scale, keyed by value-variable name (no jitter)."""
    return make_initial_point_fn(
        model=model, overrides=initial, jitter_rvs=set(), return_transformed=True
    )(0)


def _flatten(model: pm.Model, point: dict[str, np.ndarray]) -> np.ndarray:
    values = [np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs]
    return np.ascontiguousarray(np.concatenate(values), dtype="float64")


def start_failure(model: pm.Model, initial: dict) -> str:
    """Explain why the sampler could not start: which variables have a non-finite log-density
    term or a non-finite (or exactly zero) gradient at the initial values, and what to try."""
    point = _start_point(model, initial)
    terms = model.point_logps(point)
    bad_terms = [name for name, value in terms.items() if not np.isfinite(value)]
    gradient = model.compile_dlogp()(point)
    bad_grad, offset = [], 0
    for var in model.value_vars:
        size = int(np.prod(point[var.name].shape))
        part = gradient[offset : offset + size]
        if not np.all(np.isfinite(part)) or np.any(part == 0):
            bad_grad.append(var.name)
        offset += size
    where = ", ".join(bad_terms + [f"gradient of {n}" for n in bad_grad]) or "no single term"
    return (
        f"the sampler could not start: the log-density is not usable at the initial values ({where}). "
        "Check the data for constant or duplicated items, give the named parameters stronger priors "
        "(bayes.priors), or simplify the model (constructs with fewer than 3 items, second-order "
        "constructs with 2 dimensions)."
    )
