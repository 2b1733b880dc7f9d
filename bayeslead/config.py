"""Run configuration (`configs/*.yaml`): pydantic models, all errors at once with key paths.

Relative paths are resolved against the config file's folder. Unknown keys are rejected with a
"did you mean" hint. See `../shared/design.md`, section "Config contract".
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bayeslead.core.keys import is_threshold_key, parse_key
from bayeslead.errors import InputError, Problem
from bayeslead.yamlio import block_position, load_yaml, pydantic_problems

NAME = r"^[A-Za-z][A-Za-z0-9_.-]*$"
# bayes.draws unset: DRAWS_BLOCK per chain, then the same chains drawn on DRAWS_BLOCK at a time
# while the R-hat or ESS gates fail, to at most DRAWS_MAX (nutpie; bayes/sampling.py, README)
DRAWS_BLOCK = 1000
DRAWS_MAX = 4000
# the keys a lavaan `model:` replaces (the syntax describes the whole model)
MODEL_KEYS = ("constructs", "second_order", "observed", "paths", "covariances", "effects")
LAVAAN_OPERATORS = ("~", "=", "|", "<", ">", "*", "+", ";")
GroupEqual = Literal[
    "loadings",
    "intercepts",
    "means",
    "residuals",
    "residual.covariances",
    "lv.variances",
    "lv.covariances",
    "regressions",
    "thresholds",
]  # lavaan's group.equal keywords (thresholds: ordinal items, engine: sem's WLSMV)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(Strict):
    """Where the responses are and how their columns map to items."""

    path: Path | None = None
    id: str | None = None
    cluster: str | None = None
    level3: str | None = None
    group: str | None = None
    role: str | None = None  # informant role column (aggregate: role mean differences)
    columns: dict[str, str] = {}
    scale: tuple[int, int] | None = None
    missing_codes: list[float] = []
    sheet: str | int | None = None
    encoding: str | None = None  # text files: default UTF-8 (with or without a byte-order mark)
    skip_rows: int = Field(0, ge=0)  # rows below the header to drop (Qualtrics: 2)

    @property
    def id_columns(self) -> list[str]:
        """Cluster, level-3, group and role columns the config names."""
        return [c for c in (self.cluster, self.level3, self.group, self.role) if c]

    @field_validator("scale")
    @classmethod
    def _scale_order(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[0] >= value[1]:
            raise ValueError(f"scale must be [low, high] with low < high, got {list(value)}")
        return value


class SemConfig(Strict):
    """Settings of the ML engine (`engine: sem`)."""

    estimator: Literal["ML", "WLSMV"] = "ML"  # WLSMV: ordinal items (RunConfig.sem_settings)
    parameterization: Literal["delta", "theta"] = "delta"  # WLSMV (lavaan's default: delta)
    missing: Literal["auto", "listwise", "fiml"] = "auto"
    information: Literal["expected", "observed"] = "expected"
    bootstrap: int = Field(1000, ge=0)
    seed: int = 1
    workers: int | None = Field(None, ge=1)
    # two-level models (data.cluster): level-specific observed variables and across-level settings
    within_only: list[str] = []
    between_only: list[str] = []
    loadings_across_levels: Literal["equal", "free"] = "equal"
    between_residuals: Literal["free", "zero"] = "free"


class InvarianceConfig(Strict):
    """The measurement-invariance ladder (`bayeslead invariance`): its levels and the cut-offs
    of its decisions (Chen 2007 for N > 300: delta CFI >= -0.010, delta RMSEA <= 0.015, delta
    SRMR <= 0.030 for metric and <= 0.010 for scalar and strict; Cheung & Rensvold 2002:
    delta CFI >= -0.01). `rule`: `fit_indices` (the deltas), `chisq` (the chi-square difference
    test at `alpha`) or `both`."""

    levels: list[Literal["configural", "thresholds", "metric", "scalar", "strict"]] = [
        "configural",
        "metric",
        "scalar",
        "strict",
    ]
    rule: Literal["fit_indices", "chisq", "both"] = "fit_indices"
    delta_cfi: float = -0.010
    delta_rmsea: float = 0.015
    delta_srmr_metric: float = 0.030
    delta_srmr: float = 0.010
    alpha: float = Field(0.05, gt=0, lt=1)


class BayesConfig(Strict):
    """Settings of the PyMC engine (`engine: bayes`)."""

    indicators: Literal["continuous", "ordinal"] = "continuous"
    link: Literal["probit", "logit"] = "probit"
    ordinal: Literal["auto", "full", "polychoric"] = "auto"
    sampler: Literal["auto", "nutpie", "numpyro", "pymc"] = "auto"
    chains: int = Field(4, ge=1)
    draws: int | None = Field(None, ge=10)  # per chain; None: until the gates pass (DRAWS_BLOCK)
    tune: int = Field(1000, ge=0)
    target_accept: float = Field(0.8, gt=0, lt=1)
    seed: int = 1
    cores: int | None = Field(None, ge=1)
    loo: bool = False
    hdi_prob: float = Field(0.95, gt=0, lt=1)
    random_slopes: list[tuple[str, str]] = []
    between_paths: Literal["specific", "shared"] = "specific"
    # two-level models (data.cluster): observed covariates without a between part (lavaan: in the
    # level-1 model only) and at level 2 only (also found from the data: constant in clusters)
    within_only: list[str] = []
    between_only: list[str] = []
    # multi-group (data.group): loadings and item intercepts exactly equal across groups (full),
    # group_partial's freed (partial), or approximately equal (approximate: small-variance priors)
    invariance: Literal["full", "partial", "approximate"] = "full"
    # approximate invariance's refits: the most non-invariant item freed at a time (item) or
    # every flagged parameter at once (parameter); multigroup/refit.py, README
    refit: Literal["item", "parameter"] = "item"
    cluster_effects: bool = False
    priors: dict[str, str] = {}


class CmvConfig(Strict):
    """Common-method variance checks (`bayeslead cmv`)."""

    marker: str | None = (
        None  # marker construct (instrument or inline constructs), not in the model
    )
    effect: str | None = None  # the key indirect effect (default: the first named effect)


class DiagnosticsConfig(Strict):
    """Gates a Bayesian fit must pass (exit code 1 otherwise)."""

    rhat_max: float = Field(1.01, gt=1)
    ess_min: float = Field(400, ge=0)
    divergences_max: int = Field(0, ge=0)
    bfmi_min: float = Field(0.3, ge=0)
    treedepth_max_share: float = Field(0.05, ge=0, le=1)


class GroupTruth(Strict):
    """One group's departures from the common truth (multi-group simulations)."""

    paths: dict[str, float] = {}


class TruthConfig(Strict):
    """Standardised population values used by `simulate` and by simulation studies.

    `groups` (with data.group) names the groups and overrides the paths per group; respondents
    are split evenly across the groups in the order given. With data.level3, `level3_icc` is
    the share of each construct's variance between level-3 units (part of `icc`, the share
    between clusters) and `level3_size` the clusters per level-3 unit. `method` is the
    standardised loading of one common method factor on every item's latent response
    (respondent-level, independent of the constructs): common-method variance.
    `method_share` gives chosen constructs (a marker scale) their own mix: the share of their
    items' common variance that is the method factor's (1: the items measure the method only,
    the ideal marker of the CFA marker technique; 0: their trait only, no method), in place of
    `method` for those items.
    """

    loadings: float | dict[str, float] = 0.75
    paths: dict[str, float] = {}
    correlations: dict[str, float] = {}
    thresholds: list[float] | None = None
    icc: float | None = Field(None, ge=0, lt=1)
    cluster_size: int | None = Field(None, ge=1)
    random_slope_sd: dict[str, float] = {}
    between_paths: dict[str, float] = {}  # data.cluster: paths among cluster means, else `paths`
    level3_icc: float | None = Field(None, ge=0, lt=1)
    level3_size: int | None = Field(None, ge=1)
    groups: dict[str, GroupTruth] = {}
    method: float = Field(0.0, ge=0, lt=1)  # loading of a common method factor on every item
    method_share: dict[str, float] = {}  # construct -> method share of its items' common variance

    @field_validator("paths", "correlations", "random_slope_sd", "between_paths")
    @classmethod
    def _keys_are_pairs(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            parts = parse_key(key)
            if parts is None or parts[1] == "=~":
                raise ValueError(f"key {key!r} must look like 'OUTCOME ~ PREDICTOR' or 'A ~~ B'")
        return value

    @field_validator("method_share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        for key, share in value.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{key}: a share must lie in [0, 1], got {share}")
        return value

    @field_validator("thresholds")
    @classmethod
    def _increasing(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"thresholds must increase, got {value}")
        return value


class DiagramConfig(Strict):
    """The path diagram of the report (`report.diagram`)."""

    items: bool | None = None  # draw the items; default: when the model has at most 30


class ReportConfig(Strict):
    """What the report shows (`report:`)."""

    diagram: DiagramConfig = DiagramConfig()


class RunConfig(Strict):
    """A run: data, model, engine settings, diagnostics gates and hypotheses."""

    name: str = Field(pattern=NAME)
    description: str = ""
    data: DataConfig = DataConfig()
    instrument: Path | None = None
    model: str | None = None
    constructs: dict[str, list[str]] | list[str] = {}
    second_order: dict[str, list[str]] = {}
    observed: list[str] = []
    paths: dict[str, list[str]] = {}
    covariances: list[tuple[str, str]] = []
    effects: dict[str, list[str]] = {}
    moderator_percentiles: list[float] = []  # latent interactions: default mean and +-1 SD
    engine: Literal["sem", "bayes"] = "sem"
    group_equal: list[GroupEqual] = []  # multi-group (data.group): lavaan's group.equal
    group_partial: list[str] = []  # parameters freed from group_equal ("x3 ~ 1")
    sem: SemConfig = SemConfig()
    invariance: InvarianceConfig = InvarianceConfig()
    bayes: BayesConfig = BayesConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    cmv: CmvConfig = CmvConfig()
    hypotheses: dict[str, str] = {}
    report: ReportConfig = ReportConfig()
    truth: TruthConfig | None = None
    output: Path | None = None
    source: Path | None = Field(None, exclude=True)
    model_position: tuple[int, int] = Field((0, 0), exclude=True)

    @model_validator(mode="after")
    def _model_replaces_keys(self) -> RunConfig:
        clashing = [key for key in MODEL_KEYS if getattr(self, key)]
        if self.model is not None and clashing:
            raise ValueError(
                f"model: cannot be combined with {', '.join(clashing)}; the lavaan syntax "
                "describes the whole model, so move them into it (or drop model:)"
            )
        if self.model is not None and not self.model.strip():
            raise ValueError("model: is empty; give lavaan syntax or the path of a .lav file")
        return self

    @property
    def model_file(self) -> Path | None:
        """The `.lav` file `model:` names (None when model: is inline syntax or absent)."""
        if self.model is None or not is_model_path(self.model):
            return None
        return Path(self.model.strip())

    @field_validator("group_partial")
    @classmethod
    def _partial_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if parse_key(key) is None and not is_threshold_key(key):
                raise ValueError(
                    f"{key!r} is not a lavaan parameter key (e.g. 'x3 ~ 1', 'visual =~ x2', "
                    "'x1 ~~ x1', 'x3 | t1')"
                )
        return value

    @field_validator("effects")
    @classmethod
    def _chains(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, chain in value.items():
            if len(chain) < 3:
                raise ValueError(
                    f"effect '{name}' needs a chain of at least 3 constructs "
                    f"(start, mediator(s), end), got {chain}"
                )
        return value

    @field_validator("moderator_percentiles")
    @classmethod
    def _percentiles(cls, value: list[float]) -> list[float]:
        bad = [v for v in value if not 0 < v < 100]
        if bad:
            raise ValueError(f"percentiles must lie strictly between 0 and 100, got {bad}")
        return value

    @property
    def sem_settings(self) -> SemConfig:
        """`sem`, with WLSMV for ordinal items (`bayes.indicators: ordinal`), as lavaan does."""
        ordinal = self.bayes.indicators == "ordinal"
        return self.sem.model_copy(update={"estimator": "WLSMV"}) if ordinal else self.sem

    def resolve_paths(self, base: Path) -> RunConfig:
        """Return a copy with relative file paths resolved against `base`."""
        data = self.data
        if data.path is not None and not data.path.is_absolute():
            data = data.model_copy(update={"path": (base / data.path).resolve()})
        update: dict[str, object] = {"data": data}
        if self.output is not None and not self.output.is_absolute():
            update["output"] = (base / self.output).resolve()
        if self.instrument is not None and not self.instrument.is_absolute():
            update["instrument"] = (base / self.instrument).resolve()
        if self.model_file is not None and not self.model_file.is_absolute():
            update["model"] = str((base / self.model_file).resolve())
        return self.model_copy(update=update)

    def to_yaml_dict(self) -> dict:
        """The resolved config as plain YAML-ready data (paths as strings)."""
        return self.model_dump(mode="json", exclude={"source"})


DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".sav")


def load_config(path: Path | str) -> RunConfig:
    """Read, validate and resolve a run config; raise `InputError` listing every problem.

    A data file or a survey instrument passed where a run config belongs is an `InputError`
    saying so (not a list of unknown keys)."""
    path = Path(path).resolve()
    if path.suffix.lower() in DATA_SUFFIXES:
        raise InputError(
            f"{path} is a data file, not a run config: give a run config (configs/*.yaml) "
            "and the data with --data or data.path in the config",
            source=str(path),
        )
    raw = load_yaml(path, "Config")
    config = config_from_mapping(raw, path.parent, str(path))
    position = block_position(path, "model") if config.model and not config.model_file else (0, 0)
    return config.model_copy(update={"source": path, "model_position": position})


def config_from_mapping(raw: dict, base: Path, source: str = "config") -> RunConfig:
    """Validate a config given as a mapping (a parsed YAML file or a Python dict); relative
    paths are resolved against `base`. `InputError` lists every problem with its key path."""
    if "instrument" in raw and isinstance(raw["instrument"], dict) or "scales" in raw:
        raise InputError(
            f"{source} is a survey instrument, not a run config: write a run config that names "
            "it (instrument: path/to/survey.yaml) with the data and the model "
            "(see configs/tl_dc_bi_sem.yaml)",
            source=source,
        )
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as exc:
        problems = pydantic_problems(exc, RunConfig)
        noun = "problem" if len(problems) == 1 else "problems"
        raise InputError(f"Config {source} has {len(problems)} {noun}:", problems, source) from None
    return config.resolve_paths(base)


def is_model_path(text: str) -> bool:
    """Whether `model:` names a file: one line without any lavaan operator."""
    text = text.strip()
    return "\n" not in text and not any(op in text for op in LAVAAN_OPERATORS)


def config_problem(config: RunConfig, where: str, message: str) -> InputError:
    """An `InputError` about one key of a loaded config."""
    source = str(config.source) if config.source else "config"
    return InputError(f"Config {source}:", [Problem(where, message)], source)
