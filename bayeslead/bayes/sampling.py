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

Draws until the gates pass (`bayes.draws` unset, nutpie, a `check` given): the chains draw
DRAWS_BLOCK (1,000) each; while `check` finds the R-hat or ESS gates failing on exactly the first
k x 1,000 draws of every chain, the same chains (same warm-up, step size and mass matrix) draw
1,000 more, to at most DRAWS_MAX (4,000), and exactly the checked draws are kept, so the result
depends on the config and seed only, never on timing. nutpie draws DRAWS_MAX per chain in the
background and is paused at each checkpoint once every chain has passed it (a chain's draws do
not depend on how many it is asked for, nor on the cores: the first 1,000 are bitwise those of a
fixed 1,000-draw run). Every chain then runs at once as a thread (nutpie starts chains beyond
`cores` only when earlier ones finish, so checkpoints would wait for them); the operating system
shares the cores. numpyro and PyMC draw a fixed number (DRAWS_BLOCK when unset).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import arviz as az
import numpy as np
import pymc as pm
from threadpoolctl import threadpool_limits

from bayeslead.bayes.nutpie_cache import compile_model
from bayeslead.bayes.start_point import flat_start, nudged_start, start_failure
from bayeslead.config import DRAWS_BLOCK, DRAWS_MAX, BayesConfig
from bayeslead.errors import FitProblemError, InputError
from bayeslead.phases import Phases


@dataclass(frozen=True)
class Checkpoint:
    """One check of draws until the gates pass: the draws per chain checked, why the chains need
    more (None: the R-hat and ESS gates passed) and whether more draws can mend it."""

    draws: int
    reason: str | None
    extend: bool = True


# what a checkpoint asks of the fit: (reason, extend) of `Checkpoint` for the draws so far
Check = Callable[[az.InferenceData], tuple[str | None, bool]]


@dataclass(frozen=True)
class SamplingResult:
    idata: az.InferenceData
    sampler: str
    compile_s: float
    sampling_s: float
    compile_cache: str = ""  # nutpie: how the entry points were obtained (CacheInfo.describe)
    checks: tuple[Checkpoint, ...] = ()  # draws until the gates pass: each checkpoint's verdict

    @property
    def draws(self) -> int:
        """Draws kept per chain."""
        return int(self.idata.posterior.sizes["draw"])

    def draws_note(self) -> str:
        """How many draws per chain were kept and why (the manifest's `draws_rule`)."""
        kept = f"{self.draws:,} per chain"
        if not self.checks:
            return f"{kept} (a fixed number)"
        history = "; ".join(f"at {c.draws:,}: {c.reason}" for c in self.checks if c.reason)
        last = self.checks[-1]
        if last.reason is None:
            passed = f"the R-hat and ESS gates passed at {last.draws:,}"
            return f"{kept}: {history}; {passed}" if history else f"{kept}: {passed}"
        why = "the most drawn" if last.draws >= DRAWS_MAX else "longer chains would not mend it"
        return f"{kept} ({why}): {history}"

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
    check: Check | None = None,
) -> SamplingResult:
    """Sample `model` with the configured sampler; `var_names` limits what is stored.
    Compiling and sampling are the phases "compile_s" and "sampling_s" of `phases` (shown on a
    terminal when `phases.show`, else when `progress`); `low_rank`: nutpie's low-rank modified
    mass matrix (ignored by the other samplers); `check`: whether the draws so far pass the
    R-hat and ESS gates, for draws until they pass (`bayes.draws` unset; module docstring)."""
    sampler = "nutpie" if settings.sampler == "auto" else settings.sampler
    cores = settings.cores or os.cpu_count() or 1
    phases = phases or Phases(show=progress)
    progress = phases.show
    draws = settings.draws or DRAWS_BLOCK
    drawing = f"Sampling {settings.chains} chains x {settings.tune} + {draws} draws"
    if sampler == "nutpie":
        until = check is not None and settings.draws is None
        if until:
            drawing += f" (+{DRAWS_BLOCK} while R-hat or ESS fail, to {DRAWS_MAX})"
        started = time.perf_counter()
        with phases.step("compile_s", "Compiling the model"):
            compiled, cache = compile_model(
                model, initial, var_names, on_miss=lambda: _announce_compilation(phases)
            )
        compiled_at = time.perf_counter()
        with phases.step("sampling_s", drawing, spinner=until) as show:
            idata, checks = _nutpie_sample(
                compiled,
                model,
                initial,
                settings,
                min(cores, settings.chains),
                settings.seed,
                progress,
                low_rank,
                check=check,
                show=lambda text: show(f"{drawing}: {text}"),
            )
        done = time.perf_counter()
        result = SamplingResult(
            idata, sampler, compiled_at - started, done - compiled_at, cache.describe(), checks
        )
        if checks:
            phases.note(f"Draws kept: {result.draws_note()}")
        return result
    kwargs = {
        "draws": draws,
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
    check: Check | None = None,
) -> SamplingResult:
    """Sample a compiled model with new `data` (container name -> value), starting the
    chains at `initial` (values of the sampled variables, as for `sample`); `check` as for
    `sample` (without one an unset `bayes.draws` draws DRAWS_BLOCK)."""
    started = time.perf_counter()
    start = flat_start(target.model, initial)
    compiled = dataclasses.replace(
        target.compiled.with_data(**data), initial_point_func=lambda _seed: start.copy()
    )
    idata, checks = _nutpie_sample(
        compiled, target.model, initial, settings, cores, seed, False, target.low_rank, check
    )
    return SamplingResult(idata, "nutpie", 0.0, time.perf_counter() - started, "", checks)


def _nutpie_sample(
    compiled, model, initial, settings, cores, seed, progress, low_rank=False, check=None, show=None
):
    """nutpie's sampler: (InferenceData, checkpoints). nuts-rs refuses to start where a gradient
    entry is exactly zero (its `array_all_finite_and_nonzero` check, nuts-rs 0.17-0.18 = nutpie
    0.16.8-0.16.11); such a start is moved off the zeros once (`nudged_start`) and sampled; a
    start it still rejects becomes a FitProblemError naming the culprits."""
    draw = (
        _draw_fixed
        if check is None or settings.draws is not None
        else lambda *a: _draw_until(*a, check=check, show=show or (lambda text: None))
    )
    try:
        return draw(compiled, settings, cores, seed, progress, low_rank)
    except RuntimeError as exc:
        if "initialization" not in str(exc):
            raise
    start = nudged_start(model, initial)
    if start is not None:
        moved = dataclasses.replace(compiled, initial_point_func=lambda _seed: start.copy())
        try:
            return draw(moved, settings, cores, seed, progress, low_rank)
        except RuntimeError as exc:
            if "initialization" not in str(exc):
                raise
    raise FitProblemError(start_failure(model, initial)) from None


def _draw_fixed(compiled, settings, cores, seed, progress, low_rank):
    """`bayes.draws` per chain (DRAWS_BLOCK when unset), no checkpoints."""
    import nutpie

    # one BLAS thread: the chains are the parallelism (see the module docstring)
    with threadpool_limits(limits=1, user_api="blas"):
        idata = nutpie.sample(
            compiled,
            draws=settings.draws or DRAWS_BLOCK,
            tune=settings.tune,
            chains=settings.chains,
            cores=cores,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=progress,
            save_warmup=False,
            low_rank_modified_mass_matrix=low_rank,
        )
    return idata, ()


def _draw_until(compiled, settings, cores, seed, progress, low_rank, check, show):
    """Draws until `check` passes (module docstring): every chain runs at once (`cores` is not
    used: see there), paused at each checkpoint while `check` reads exactly the first
    k x DRAWS_BLOCK draws of every chain."""
    import nutpie

    tune, draws = settings.tune, DRAWS_BLOCK
    progress = _Progress(tune + draws)
    with threadpool_limits(limits=1, user_api="blas"):
        sampler = nutpie.sample(
            _Reporting(compiled, progress.update),
            draws=DRAWS_MAX,
            tune=tune,
            chains=settings.chains,
            cores=settings.chains,
            seed=seed,
            target_accept=settings.target_accept,
            progress_bar=False,
            save_warmup=False,
            low_rank_modified_mass_matrix=low_rank,
            blocking=False,
        )
        try:
            checks = []
            while True:
                while not (progress.reached.wait(0.1) or _finished(sampler)):
                    show(progress.text(tune))
                sampler.pause()
                show(f"checking R-hat and ESS on {draws:,} draws per chain")
                idata = (sampler.wait() if _finished(sampler) else sampler.inspect()).isel(
                    draw=slice(0, draws)
                )
                checks.append(Checkpoint(draws, *check(idata)))
                if checks[-1].reason is None or not checks[-1].extend or draws >= DRAWS_MAX:
                    return idata, tuple(checks)
                draws += DRAWS_BLOCK
                progress.next(tune + draws)
                sampler.resume()
        finally:
            sampler.cancel()  # stops the chains (nothing to stop once every chain finished)


def _finished(sampler) -> bool:
    """Whether nutpie's background sampler has stopped, every chain done (a chain's error is
    raised); nutpie 0.16's `is_finished` waits 1 ms and raises TimeoutError while it runs."""
    try:
        return sampler.is_finished
    except TimeoutError:
        return False


class _Progress:
    """Each chain's finished draws (warm-up included), as nutpie reports them; `reached` is set
    once every chain has drawn `target`."""

    def __init__(self, target: int):
        self.counts: list[int] = []
        self.target = target
        self.reached = threading.Event()

    def update(self, text: str) -> None:
        counts = [int(n) for n in text.split()]
        self.counts = counts
        if counts and min(counts) >= self.target:
            self.reached.set()

    def next(self, target: int) -> None:
        self.target = target
        self.reached.clear()
        self.update(" ".join(map(str, self.counts)))

    def text(self, tune: int) -> str:
        done = min(self.counts, default=0)
        if done < tune:
            return f"warm-up {done:,} of {tune:,}"
        return f"{done - tune:,} of {self.target - tune:,} draws per chain"


# nutpie's progress template (https://github.com/pymc-devs/nutpie, sample.py's
# `_progress_template`): each chain's finished draws, reported every PROGRESS_MS
PROGRESS_TEMPLATE = "{% for chain in chains %}{{ chain.finished_draws }} {% endfor %}"
PROGRESS_MS = 10


class _Reporting:
    """nutpie's compiled model whose sampler reports each chain's finished draws to `report`
    (through nutpie's template progress callback, instead of a progress bar); everything else
    is the compiled model's. nutpie 0.16.8-0.16.11: `_make_sampler(settings, init_mean, cores,
    progress_type, store)` (pyproject.toml pins the range)."""

    def __init__(self, compiled, report: Callable[[str], None]):
        self._compiled = compiled
        self._report = report

    def __getattr__(self, name: str):
        return getattr(self._compiled, name)

    def _make_sampler(self, settings, init_mean, cores, progress_type, store):
        from nutpie import _lib

        progress = _lib.ProgressType.template_callback(
            PROGRESS_MS, PROGRESS_TEMPLATE, cores, self._report
        )
        return self._compiled._make_sampler(settings, init_mean, cores, progress, store)
