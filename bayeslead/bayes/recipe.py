"""The fit recipe of the Bayesian engine, written once; each model family supplies its own steps.

    prepare -> parameter tables and priors -> build -> start -> sample -> summarise
            -> convergence gates -> marker draws into the InferenceData -> check -> FitResult

`Family.fit` runs these steps in this order for every family, as lifelines' fitters run one
shared ``_fit_model`` over the hazard and initial point each model supplies. A family
(`bayes/models/<family>/fit.py`) subclasses `Family` and supplies only:

- `prepare`: refuse what it does not support and read what its model needs from the responses;
- `build`: the PyMC graph (the family's `build.py`), with what building it found;
- `start`: initial values of the sampled variables (from ML estimates, so chains start in the
  data's reflection mode);
- `stored`: the variables the trace keeps;
- `summarise`: draws on lavaan's marker metric, the estimates and effects tables and the rows the
  gates check (the family's `summaries.py` over the shared `bayes.summaries`);
- `check`: what needs the gates or the InferenceData, e.g. predictive checks (optional);
- `info`: how the fit was made, for the run manifest.

Everything else (parameter tables, priors, sampling, gates, marker draws in the InferenceData,
problems, timings and the `FitResult`) happens here, once. The study's compile-once replicates
call the same `make_setup` and family steps around a compiled model.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm

from bayeslead.bayes.capabilities import needs_marker_metric, samples_marker_metric
from bayeslead.bayes.gates import check_gates, gate_problems, more_draws
from bayeslead.bayes.prior_table import prior_table
from bayeslead.bayes.priors import MARKER_DEFAULTS, PriorSet, prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.summaries import with_marker_draws
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.effects import EffectDraws
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.core.twolevel_model import fix_parameters
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem
from bayeslead.phases import Phases
from bayeslead.results import FitResult

FixedValues = dict[tuple[str, str, str], float]


@dataclass(frozen=True)
class Setup:
    """What every step after `prepare` reads: the model, both parameter tables and the priors."""

    spec: ModelSpec
    settings: BayesConfig
    table: ParameterTable  # std.lv: the sampled parameterisation
    marker: ParameterTable  # lavaan's marker metric: the reported one
    priors: PriorSet

    @property
    def on_marker_metric(self) -> bool:
        """Whether the marker metric itself is sampled (a constrained model)."""
        return self.table is self.marker


def make_setup(
    spec: ModelSpec,
    settings: BayesConfig,
    unit_residuals: bool = False,
    fixed: tuple[FixedValues, FixedValues] = ({}, {}),
) -> Setup:
    """Both parameter tables and the priors (`unit_residuals`: item residual variances fixed at
    1, the theta parameterisation of ordinal items). A constrained model
    (`samples_marker_metric`) samples the marker table itself, with the marker-metric priors.
    `fixed` holds values the data determine (e.g. moments of fixed covariates), for the std.lv
    table and the marker table: those rows are fixed and not sampled."""
    marker = fixed_table(build_partable(spec), fixed[1])
    if samples_marker_metric(spec, settings):
        priors = prior_set(settings.priors, {p.key for p in marker.free_params}, MARKER_DEFAULTS)
        return Setup(spec, settings, marker, marker, priors)
    table = fixed_table(build_partable(spec, "std.lv", unit_residuals=unit_residuals), fixed[0])
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    return Setup(spec, settings, table, marker, priors)


def fixed_table(table: ParameterTable, values: FixedValues) -> ParameterTable:
    """`table` with the rows of `values` fixed (unchanged without values)."""
    return fix_parameters(table, values) if values else table


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A family's data read from the responses; families subclass it with their arrays."""

    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Graph:
    """A family's PyMC model and what building it found; families may subclass it."""

    model: pm.Model
    problems: list[Problem] = field(default_factory=list)
    low_rank_mass_matrix: bool = False  # nutpie's low-rank metric (see `bayes.sampling`)


@dataclass(frozen=True, kw_only=True)
class Summary:
    """The posterior on lavaan's metric: what every family's `summarise` returns."""

    theta: np.ndarray  # (chain, draw, k) free parameters on lavaan's marker metric
    estimates: pd.DataFrame
    effects: pd.DataFrame
    convergence: pd.DataFrame  # rows the gates check: rhat, ess_bulk, ess_tail by name
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # the effects' draws of `theta` on the marker table, when `summarise` computed them
    effect_draws: list[EffectDraws] | None = None


@dataclass(frozen=True, kw_only=True)
class Checks:
    """What a family adds once the gates and the InferenceData exist."""

    fit: dict[str, float] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    reliability: pd.DataFrame | None = None
    htmt: pd.DataFrame | None = None


class Checked:
    """The summary and gates of draws, the last ones kept: with `bayes.draws` unset the last
    checkpoint's draws are the kept draws, summarised once."""

    def __init__(self, summarise: Callable[[az.InferenceData], Summary], gates: DiagnosticsConfig):
        self.summarise = summarise
        self.gates = gates
        self.last: tuple[az.InferenceData, Summary, dict] | None = None

    def __call__(self, idata: az.InferenceData) -> tuple[Summary, dict]:
        """The summary and gates (`check_gates`) of `idata`."""
        if self.last is None or self.last[0] is not idata:
            summary = self.summarise(idata)
            diagnostics = check_gates(summary.convergence, idata.sample_stats, self.gates)
            self.last = idata, summary, diagnostics
        return self.last[1], self.last[2]

    def check(self, idata: az.InferenceData) -> tuple[str | None, bool]:
        """A checkpoint's verdict (`sampling.Check`): `gates.more_draws` of `idata`."""
        return more_draws(self(idata)[1], int(idata.posterior.sizes["draw"]))


class Family(ABC):
    """One model family: `fit` is the recipe, the other methods are the steps it calls, in order."""

    # whether the family can sample a constrained model on the marker metric (`make_setup`)
    marker_metric: bool = False
    # whether the family reports lavaan's `~ 1` rows (`ModelSpec.intercepts`)
    intercepts: bool = False

    def fit(
        self,
        spec: ModelSpec,
        data: ResponseData,
        settings: BayesConfig,
        gates: DiagnosticsConfig,
        progress: bool = True,
        phases: Phases | None = None,
    ) -> FitResult:
        """Sample the posterior of `spec` with this family's model and summarise it on lavaan's
        metric (the recipe of the module docstring). Each step is a named phase of `phases`
        (shown on a terminal when `progress`), and the result's timings are the phases'."""
        phases = phases or Phases(show=progress)
        if needs_marker_metric(spec) and not self.marker_metric:
            raise InputError(
                "equality constraints, freed markers and non-zero fixed values are estimated "
                "by engine: bayes for single-level models only (use engine: sem)"
            )
        if spec.intercepts and not self.intercepts:
            raise InputError(
                "intercepts ('~ 1') are estimated by engine: bayes for single-level models "
                "(multi-group and two-level models have their own mean structure): remove the "
                "'~ 1' lines, or use engine: sem"
            )
        with phases.step("prepare_s", "Preparing the model's data"):
            prepared = self.prepare(spec, data, settings)
            setup = make_setup(
                spec, settings, self.unit_residuals(settings), self.fixed_values(prepared)
            )
        with phases.step("build_s", "Building the model"):
            graph = self.build(setup, prepared)
        with phases.step("start_s", "Computing ML starting values"):
            initial = self.start(setup, prepared, graph)
        checked = Checked(lambda idata: self.summarise(setup, prepared, graph, idata), gates)
        sampled = sample(
            graph.model,
            initial,
            settings,
            var_names=self.stored(graph.model),
            phases=phases,
            low_rank=graph.low_rank_mass_matrix,
            check=checked.check,
        )
        with phases.step("summaries_s", "Summarising the posterior"):
            summary, diagnostics = checked(sampled.idata)
            diagnostics |= {
                "draws_per_chain": sampled.draws,
                "draws_checks": [dataclasses.asdict(c) for c in sampled.checks],
            }
            idata = with_marker_draws(
                sampled.idata, setup.marker, summary.theta, data, spec, summary.effect_draws
            )
        with phases.step("checks_s", "Posterior predictive checks"):
            checks = self.check(setup, prepared, summary, idata, diagnostics)
        flat = summary.theta.reshape(-1, summary.theta.shape[-1])
        return FitResult(
            engine="bayes",
            estimates=summary.estimates,
            effects=summary.effects,
            fit=checks.fit,
            info=self.info(setup, prepared, graph, sampled.sampler)
            | {"draws": sampled.draws, "draws_rule": sampled.draws_note()}
            | ({"compile_cache": sampled.compile_cache} if sampled.compile_cache else {}),
            reliability=checks.reliability,
            htmt=checks.htmt,
            extra_tables=summary.tables
            | checks.tables
            | {"priors": prior_table(setup.priors, spec, settings, data.has_missing)},
            diagnostics=diagnostics,
            idata=idata,
            problems=[
                *prepared.problems,
                *graph.problems,
                *gate_problems(diagnostics),
                *checks.problems,
            ],
            timings=phases.timings(),
            theta=flat.mean(axis=0),
            draws=flat,
            draws_kind="posterior",
        )

    def unit_residuals(self, settings: BayesConfig) -> bool:
        """Whether the sampled table fixes item residual variances at 1 (ordinal items)."""
        return settings.indicators == "ordinal"

    def fixed_values(self, data: Prepared) -> tuple[FixedValues, FixedValues]:
        """Parameters the data fix (std.lv table, marker table), keyed (lhs, op, rhs); none."""
        return {}, {}

    @abstractmethod
    def prepare(self, spec: ModelSpec, data: ResponseData, settings: BayesConfig) -> Prepared:
        """Refuse unsupported specs and settings; read what the model needs from `data`."""

    @abstractmethod
    def build(self, setup: Setup, data: Prepared) -> Graph:
        """The PyMC model (graph only: no sampling)."""

    @abstractmethod
    def start(self, setup: Setup, data: Prepared, graph: Graph) -> dict[str, np.ndarray]:
        """Initial values of the sampled variables."""

    @abstractmethod
    def stored(self, model: pm.Model) -> list[str]:
        """Variables the trace keeps."""

    @abstractmethod
    def summarise(self, setup: Setup, data: Prepared, graph: Graph, idata) -> Summary:
        """Draws on lavaan's metric, estimates, effects and the rows the gates check."""

    def check(
        self, setup: Setup, data: Prepared, summary: Summary, idata, diagnostics: dict
    ) -> Checks:
        """Fit measures, tables and problems that need the gates or the InferenceData."""
        return Checks()

    @abstractmethod
    def info(self, setup: Setup, data: Prepared, graph: Graph, sampler: str) -> dict:
        """How the fit was made (estimator, sample size, sampler, priors, ...)."""
