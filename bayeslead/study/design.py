"""What a simulation study is: its design (kind, sample sizes, replicates, seed), the model
every replicate fits, the true values it simulates from, and one seed per replicate.

`StudyModel` is built once on the client from the config and sent to the workers, so workers
need bayeslead installed but not the config, instrument or data files.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import stats

from bayeslead.config import (
    DRAWS_BLOCK,
    BayesConfig,
    DiagnosticsConfig,
    SemConfig,
    TruthConfig,
    config_problem,
)
from bayeslead.core.conditional import imm_draws
from bayeslead.core.effects import defined_name, effect_draws
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable, marker_scales, rescale_matrices
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import BayesleadWarning, InputError
from bayeslead.hypotheses import Hypothesis
from bayeslead.pipeline import Inputs, item_scales, load_inputs
from bayeslead.simulate import ItemScale, standardized_matrices
from bayeslead.study.summary import too_few_replicates

Kind = Literal["power", "recovery", "sbc"]
SBC_DRAWS = 99  # posterior draws kept (evenly thinned) per SBC replicate: ranks 0..99


@dataclass(frozen=True)
class StudyDesign:
    """The study's settings, saved as `study.json`; `--resume` checks them against the folder."""

    kind: Kind
    config: str
    config_sha256: str
    engine: Literal["sem", "bayes"]
    sizes: tuple[int, ...]
    reps: int
    seed: int
    responses: Literal["likert", "continuous"] = "likert"
    bootstrap: int = 0
    cluster_size: int | None = None
    model_sha256: str = ""  # what replicates simulate and fit: spec, truth, engine settings

    def to_dict(self) -> dict:
        return asdict(self) | {"sizes": list(self.sizes)}

    @classmethod
    def from_dict(cls, raw: dict) -> StudyDesign:
        return cls(**(raw | {"sizes": tuple(raw["sizes"])}))

    def resume_conflicts(self, saved: StudyDesign) -> list[str]:
        """Settings that differ from a saved study (sizes and reps may change on resume: the
        results then use the replicates of the current design only)."""
        fixed = ("kind", "model_sha256", "engine", "seed", "responses", "bootstrap", "cluster_size")
        return [
            f"{key}: saved {getattr(saved, key)!r}, now {getattr(self, key)!r}"
            for key in fixed
            if getattr(saved, key) != getattr(self, key)
        ]


@dataclass(frozen=True)
class Replicate:
    """One task: simulate `n` respondents with `seed`, fit, summarise."""

    n: int
    rep: int
    seed: int

    @property
    def key(self) -> tuple[int, int]:
        return (self.n, self.rep)


def replicates(design: StudyDesign) -> list[Replicate]:
    """All replicates of the design; each seed comes from the study seed and (n, rep) alone,
    so results do not depend on scheduling order or on which other sizes are run."""
    return [
        Replicate(n, rep, replicate_seed(design.seed, n, rep))
        for n in design.sizes
        for rep in range(design.reps)
    ]


def replicate_seed(study_seed: int, n: int, rep: int) -> int:
    """A 32-bit seed derived with numpy's SeedSequence from (study seed, n, replicate)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(n, rep)).generate_state(1)[0])


@dataclass(frozen=True)
class StudyModel:
    """Everything a worker needs to simulate and fit a replicate."""

    kind: Kind
    spec: ModelSpec
    engine: Literal["sem", "bayes"]
    sem: SemConfig
    bayes: BayesConfig
    truth: TruthConfig
    truth_source: str
    scales: dict[str, ItemScale]
    responses: Literal["likert", "continuous"]
    gates: DiagnosticsConfig = DiagnosticsConfig()
    hypotheses: tuple[Hypothesis, ...] = ()
    true_values: dict[str, float] = field(default_factory=dict)
    token: str = ""  # identifies the compiled model a worker may re-use (see `model_digest`)


def prepare_study(
    config_path: Path | str,
    kind: Kind,
    sizes: list[int],
    reps: int,
    seed: int,
    engine: str | None = None,
    responses: str | None = None,
    bootstrap: int = 0,
    cluster_size: int | None = None,
) -> tuple[StudyDesign, StudyModel]:
    """Validate the study request against the config and build its design and model."""
    config_path = Path(config_path).resolve()
    inputs = load_inputs(config_path, need_data=False)
    config = inputs.config
    engine = engine or config.engine
    responses = responses or ("likert" if kind == "power" else "continuous")
    _check_request(inputs, kind, sizes, reps, engine, responses, cluster_size)
    if kind == "sbc":  # every replicate draws its parameters from the prior
        truth, source = TruthConfig(), "parameters drawn from the prior, per replicate"
    else:
        truth, source = study_truth(inputs)
    if cluster_size is not None:
        truth = truth.model_copy(update={"cluster_size": cluster_size})
    digest = hashlib.sha256(config_path.read_bytes()).hexdigest()
    model = StudyModel(
        kind=kind,
        spec=inputs.spec,
        engine=engine,
        sem=config.sem.model_copy(update={"bootstrap": bootstrap, "workers": 1}),
        bayes=config.bayes.model_copy(update={"cores": 1, "loo": False}),
        truth=truth,
        truth_source=source,
        scales=_keyed_scales(inputs) if responses == "likert" else {},
        responses=responses,
        gates=config.diagnostics,
        hypotheses=inputs.hypotheses,
        true_values=true_parameters(inputs.spec, truth) if kind == "recovery" else {},
    )
    model = replace(model, token=model_digest(model))
    design = StudyDesign(
        kind=kind,
        config=str(config_path),
        config_sha256=digest,
        engine=engine,
        sizes=tuple(sizes),
        reps=reps,
        seed=seed,
        responses=responses,
        bootstrap=bootstrap,
        cluster_size=cluster_size,
        model_sha256=model.token,
    )
    return design, model


def model_digest(model: StudyModel) -> str:
    """SHA-256 of everything a replicate depends on (spec, truth, scales, engine settings,
    hypotheses): equal digests mean interchangeable replicates and compiled models."""
    return hashlib.sha256(repr(replace(model, token="")).encode()).hexdigest()  # repr: stable


def _keyed_scales(inputs: Inputs) -> dict[str, ItemScale]:
    """Item scales with reverse keying removed: replicates skip the intake that reverse-scores
    answers, so they are simulated as already-keyed scores."""
    return {item: replace(scale, reverse=False) for item, scale in item_scales(inputs).items()}


def _check_request(inputs: Inputs, kind, sizes, reps, engine, responses, cluster_size) -> None:
    spec, config = inputs.spec, inputs.config
    if not sizes or min(sizes) < 10:
        raise InputError(f"--n: sample sizes must be at least 10, got {sizes}")
    if reps < 1:
        raise InputError(f"--reps: need at least 1 replicate, got {reps}")
    few = too_few_replicates(kind, reps)
    if few:
        warnings.warn(few, BayesleadWarning, stacklevel=2)
    if engine not in ("sem", "bayes"):
        raise InputError(f"--engine: expected 'sem' or 'bayes', got {engine!r}")
    if responses not in ("likert", "continuous"):
        raise InputError(f"--responses: expected 'likert' or 'continuous', got {responses!r}")
    if kind == "sbc" and (engine != "bayes" or config.bayes.indicators != "continuous"):
        raise InputError(
            "study sbc: simulation-based calibration needs the Bayesian engine with continuous "
            "indicators (engine: bayes, bayes.indicators: continuous)"
        )
    draws = config.bayes.draws or DRAWS_BLOCK  # SBC samples a fixed number (sample_compiled)
    if kind == "sbc" and config.bayes.chains * draws < 2 * SBC_DRAWS:
        raise config_problem(
            config,
            "bayes.draws",
            f"SBC thins each posterior to {SBC_DRAWS} draws and needs chains x draws >= "
            f"{2 * SBC_DRAWS}",
        )
    if kind == "sbc" and responses != "continuous":
        raise InputError("study sbc: simulation-based calibration needs --responses continuous")
    ordinal = engine == "bayes" and config.bayes.indicators == "ordinal"
    if kind == "recovery" and responses != "continuous" and not ordinal:
        raise InputError(
            "study recovery: with --responses likert the true values are defined only for the "
            "Bayesian ordinal model (engine: bayes, bayes.indicators: ordinal), whose latent "
            "responses y* are the simulated continuous responses; a linear model of the "
            "category codes has no true values (the codes are not linear in y*): drop "
            "--responses likert or fit ordinal indicators"
        )
    if spec.cluster and engine == "sem":
        raise config_problem(
            config,
            "data.cluster",
            "the ML engine fits single-level models only; use --engine bayes for a two-level "
            "design",
        )
    for column, design in ((spec.group, "multi-group"), (spec.level3, "three-level")):
        if column:
            raise config_problem(
                config,
                "data.group" if column == spec.group else "data.level3",
                f"simulation studies of {design} designs are not supported in this version "
                "(fit simulated data sets with `bayeslead simulate` and `bayeslead fit`)",
            )
    if spec.cluster and kind != "power":
        raise InputError(f"study {kind}: two-level designs are supported by `study power` only")
    if cluster_size is not None and not spec.cluster:
        raise InputError(
            "--cluster-size: the config has no data.cluster, so respondents are not in clusters"
        )
    if engine == "bayes" and config.bayes.indicators == "ordinal" and responses != "likert":
        raise InputError("ordinal indicators need --responses likert")


def study_truth(inputs: Inputs) -> tuple[TruthConfig, str]:
    """The config's `truth:` block, or else the ML standardised estimates on its data."""
    config = inputs.config
    if config.truth is not None:
        return config.truth, f"the truth block of {Path(config.source).name}"
    if inputs.spec.cluster:
        raise config_problem(
            config, "truth", "a two-level study needs a truth: block (icc, paths, cluster_size)"
        )
    with_data = load_inputs(config, need_data=True)
    from bayeslead.sem.engine import fit_sem

    fitted = fit_sem(
        with_data.spec, with_data.data, config.sem.model_copy(update={"bootstrap": 0}), False
    )
    est = fitted.estimates
    loadings = {r.rhs: float(r.std_est) for r in est.itertuples() if r.op == "=~"}
    paths = {f"{r.lhs} ~ {r.rhs}": float(r.std_est) for r in est.itertuples() if r.op == "~"}
    exogenous = set(inputs.spec.exogenous())
    correlations = {
        f"{r.lhs} ~~ {r.rhs}": float(r.std_est)
        for r in est.itertuples()
        if r.op == "~~" and r.lhs != r.rhs and {r.lhs, r.rhs} <= exogenous
    }
    truth = TruthConfig(
        loadings=loadings,
        paths=paths,
        correlations=correlations,
        thresholds=_pooled_thresholds(with_data),
    )
    source = (
        f"the ML standardised estimates on {Path(config.data.path).name} (n = {with_data.data.n}); "
        "the config has no truth: block"
    )
    return truth, source


def _pooled_thresholds(inputs: Inputs) -> list[float] | None:
    """Normal quantiles of the pooled category shares when all items share one scale."""
    ranges = set(inputs.data.ranges.values())
    if len(ranges) != 1:
        return None
    low, high = ranges.pop()
    values = inputs.data.frame[list(inputs.spec.items)].to_numpy().ravel()
    values = values[~np.isnan(values)]
    shares = np.array([(values == v).mean() for v in range(low, high + 1)])
    cumulative = np.clip(np.cumsum(shares)[:-1], 1e-3, 1 - 1e-3)
    cuts = stats.norm.ppf(cumulative)
    return [float(c) for c in np.maximum.accumulate(cuts + np.arange(len(cuts)) * 1e-3)]


def true_parameters(spec: ModelSpec, truth: TruthConfig) -> dict[str, float]:
    """True values on lavaan's marker metric for continuous unit-variance responses.

    They are also the true values of an ordinal model of Likert responses simulated from the
    same truth: the categories cut those unit-variance responses, and the ordinal engine
    reports its latent responses y* standardised to total variance 1 (the delta scale).

    They are the ML solution on the population covariance matrix (exact for a correctly
    specified model), keyed like the estimates (``SENS ~ TL``, ``TL =~ tl2``) and the defined
    effects (``ind_serial``, ...).
    """
    table, a, s = standardized_matrices(spec, truth)
    marker = build_partable(spec)
    if spec.interactions:  # the items are not normal: convert the truth to the marker metric
        theta = _marker_truth(spec, marker, a, s)
    else:
        b = np.linalg.inv(np.eye(a.shape[0]) - a)
        p = table.n_manifest
        population = (b @ s @ b.T)[:p, :p]
        solution = fit_ml(marker, population, marker.start_values(population), max_iter=500)
        if not (solution.converged or solution.max_gradient < 1e-8):  # exact fit: fmin = 0
            raise InputError("truth: the population covariance matrix could not be reproduced")
        theta = solution.theta
    values = {q.key: float(theta[q.free]) for q in marker.free_params}
    for d in effect_draws(spec, marker, theta):
        values[defined_name(d.effect.name, d.kind)] = float(d.raw)
    values |= {name: float(value) for name, value in imm_draws(spec, marker, theta).items()}
    return values


def _marker_truth(spec: ModelSpec, marker, a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The standardised truth (A, S) as `marker`'s parameters: each latent rescaled by its
    first indicator's loading, each product by its components' scales."""
    std = build_partable(spec, "std.lv")
    theta = np.zeros(std.n_free)
    for p in std.free_params:
        theta[p.free] = (a if p.matrix == "A" else s)[p.row, p.col]
    return rescale_matrices(marker, a, s, marker_scales(std, theta))
