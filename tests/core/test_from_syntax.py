"""`model:` (lavaan syntax) in a run config: the same ModelSpec as the YAML keys, the round trip
of every bundled config's model.lav, located errors, the instrument shorthand and name checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bayeslead.bayes.capabilities import CAPABILITIES as BAYES
from bayeslead.config import MODEL_KEYS, RunConfig, load_config
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.errors import InputError
from bayeslead.instrument import load_instrument
from bayeslead.pipeline import syntax_context
from bayeslead.sem.capabilities import CAPABILITIES as SEM
from tests.conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
HS_COLUMNS = [f"x{k}" for k in range(1, 10)]


def write_config(folder: Path, body: dict, text: str | None = None) -> Path:
    path = folder / "config.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(body, sort_keys=False))
    return path


def syntax_twin(config: RunConfig, model: str) -> RunConfig:
    """The config with its model keys replaced by `model:`."""
    cleared = {key: type(getattr(config, key))() for key in MODEL_KEYS}
    return RunConfig.model_validate(config.model_dump() | cleared | {"model": model})


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_model_lav_gives_back_the_yaml_spec(path, tmp_path):
    """Every bundled config's model.lav, as `model: |` and as `model: file.lav`, builds the
    ModelSpec of the YAML form (so a run's model.lav reproduces the run)."""
    config = load_config(path)
    instrument = load_instrument(config.instrument) if config.instrument else None
    spec = build_spec(config, instrument)
    text = spec.to_lavaan()
    capabilities = syntax_context(syntax_twin(config, text))[1]
    assert build_spec(syntax_twin(config, text), instrument, None, capabilities) == spec
    (tmp_path / "model.lav").write_text(text)
    body = config.to_yaml_dict() | {k: None for k in MODEL_KEYS} | {"model": "model.lav"}
    body = {k: v for k, v in body.items() if v is not None}
    from_file = load_config(write_config(tmp_path, body))
    assert from_file.model_file == tmp_path / "model.lav"
    assert build_spec(from_file, instrument, None, capabilities) == spec


def test_instrument_shorthand_measures_constructs_with_their_items():
    """`TL =~ .` takes TL's dimensions and their items from the instrument: the bundled study
    written with the shorthand is the bundled study."""
    config = load_config(ROOT / "configs" / "tl_dc_bi_sem.yaml")
    instrument = load_instrument(config.instrument)
    model = """
    TL =~ .
    SENS =~ .
    SEIZ =~ .
    RECO =~ .
    BI =~ .
    SENS ~ TL
    SEIZ ~ SENS + TL
    RECO ~ SEIZ
    BI ~ RECO + TL
    """
    spec = build_spec(syntax_twin(config, model), instrument)
    yaml_spec = build_spec(config, instrument)
    assert spec.factors == yaml_spec.factors
    assert spec.regressions == yaml_spec.regressions
    assert [f.label for f in spec.factors] == [f.label for f in yaml_spec.factors]


def test_inline_model_errors_point_into_the_config_file(tmp_path):
    text = (
        "name: t\n"  # line 1
        "model: |\n"  # line 2
        "  visual =~ x1 + x2 + x3\n"  # line 3
        "  textual =~ x4 + x5 x6\n"  # line 4: missing '+'
        "  speed <~ x7 + x8 + x9\n"  # line 5: composite
    )
    config = load_config(write_config(tmp_path, {}, text))
    with pytest.raises(InputError) as err:
        build_spec(config)
    wheres = [p.where for p in err.value.problems]
    assert wheres == ["model line 4, column 22", "model line 5, column 9"]
    messages = [p.message for p in err.value.problems]
    assert "missing '+' or '*' between 'x5' and 'x6'" in messages[0]
    assert "composites" in messages[1] and "measure the construct reflectively" in messages[1]
    assert str(config.source) in str(err.value)


def test_model_is_exclusive_with_the_yaml_model_keys(tmp_path):
    body = {
        "name": "t",
        "model": HS,
        "paths": {"speed": ["visual"]},
        "effects": {"e": ["a", "b", "c"]},
    }
    with pytest.raises(InputError) as err:
        load_config(write_config(tmp_path, body))
    message = str(err.value)
    assert "model: cannot be combined with paths, effects" in message
    assert "move them into it" in message


def test_missing_model_file_suggests_the_lav_files_beside_it(tmp_path):
    (tmp_path / "hs_model.lav").write_text(HS)
    config = load_config(write_config(tmp_path, {"name": "t", "model": "hs_modle.lav"}))
    with pytest.raises(InputError, match="did you mean 'hs_model.lav'"):
        build_spec(config)


def test_names_are_checked_against_the_data_with_did_you_mean():
    config = RunConfig(name="t", model=HS.replace("x5", "x55") + "speed ~ visul\n")
    with pytest.raises(InputError) as err:
        build_spec(config, columns=HS_COLUMNS, capabilities=SEM)
    messages = " | ".join(p.message for p in err.value.problems)
    assert (
        "unknown variable 'x55' (not a data column or a construct); did you mean 'x5'?" in messages
    )
    assert "unknown variable 'visul'" in messages and "did you mean 'visual'?" in messages


def test_each_engine_refuses_what_it_cannot_estimate():
    """The checks name the engine, the line and the column, and say what to do instead."""
    model = HS + "x1 ~ 1\nx2 | t1 + t2\n"
    with pytest.raises(InputError) as err:
        build_spec(
            RunConfig(name="t", model=model, engine="bayes"),
            columns=HS_COLUMNS,
            capabilities=BAYES,
        )
    found = {p.where: p.message for p in err.value.problems}
    assert "model line 4, column 6" not in found  # 'x1 ~ 1': both engines estimate intercepts
    assert "need ordinal indicators (bayes.indicators: ordinal)" in found["model line 5, column 6"]
    with pytest.raises(InputError, match="thresholds are not estimated by engine: sem"):
        build_spec(
            RunConfig(name="t", model=HS + "x2 | t1\n", bayes={"indicators": "ordinal"}),
            columns=HS_COLUMNS,
            capabilities=SEM,
        )


def test_settings_reach_the_parameter_table():
    model = (
        "visual =~ NA*x1 + l2*x2 + l2*x3\ntextual =~ x4 + equal('visual=~x2')*x5 + x6\n"
        "speed =~ x7 + x8 + start(0.8)*x9\nvisual ~~ 1*visual\nvisual ~~ 0*speed\n"
        "l2 == 1.2\nratio := l2 / 2\n"
    )
    spec = build_spec(RunConfig(name="t", model=model), columns=HS_COLUMNS, capabilities=SEM)
    table = build_partable(spec)
    row = {p.key: p for p in table.params}
    assert row["visual =~ x1"].free >= 0  # freed marker
    assert row["visual ~~ visual"].free == -1 and row["visual ~~ visual"].value == 1.0
    assert row["visual ~~ speed"].free == -1 and row["visual ~~ speed"].value == 0.0
    for key in ("visual =~ x2", "visual =~ x3", "textual =~ x5"):
        assert row[key].free == -1 and row[key].value == 1.2  # one class, fixed by 'l2 == 1.2'
    assert row["speed =~ x9"].start == 0.8
    assert [d.name for d in spec.definitions] == ["ratio"]
    # the CFA's 21: + the freed marker, - variance, - covariance, - 3 loadings fixed at 1.2
    assert table.n_free == 21 + 1 - 1 - 1 - 3
    reparsed = build_spec(
        RunConfig(name="t", model=spec.to_lavaan()), columns=HS_COLUMNS, capabilities=SEM
    )
    assert reparsed == spec


TWO_LEVEL = """
level: 1
  f1 =~ y1 + a2*y2 + a3*y3
  f2 =~ y4 + b5*y5 + b6*y6
  f2 ~ p*f1
level: 2
  f1 =~ y1 + a2*y2 + a3*y3
  f2 =~ y4 + b5*y5 + b6*y6
  f2 ~ f1
"""


def two_level(model: str, between_paths: str = "specific") -> RunConfig:
    return RunConfig(
        name="t",
        model=model,
        engine="bayes",
        data={"cluster": "firm"},
        bayes={"between_paths": between_paths},
    )


def test_level_blocks_describe_the_two_level_model():
    """Level 2 measures the same constructs with the loadings labelled alike (equal across
    levels) and has the same paths: the ModelSpec is the within model with data.cluster, and
    it renders back as the same two blocks."""
    columns = [f"y{k}" for k in range(1, 7)] + ["firm"]
    spec = build_spec(two_level(TWO_LEVEL), columns=columns, capabilities=BAYES)
    assert [f.indicators for f in spec.factors] == [("y1", "y2", "y3"), ("y4", "y5", "y6")]
    assert spec.cluster == "firm" and spec.between_paths == "specific"
    assert [s.label for s in spec.settings] == ["p"]  # cross-level labels are the model's default
    text = spec.to_lavaan()
    assert text.count("level:") == 2 and "f2 ~ f1" in text
    again = build_spec(two_level(text), columns=columns, capabilities=BAYES)
    assert again == spec
    shared = TWO_LEVEL.replace("  f2 ~ f1", "  f2 ~ p*f1")
    with pytest.raises(InputError, match="set bayes.between_paths: shared"):
        build_spec(two_level(shared), columns=columns, capabilities=BAYES)
    assert (
        build_spec(two_level(shared, "shared"), columns=columns, capabilities=BAYES).between_paths
        == "shared"
    )


def test_level_blocks_the_two_level_model_cannot_fit_are_refused():
    columns = [f"y{k}" for k in range(1, 7)] + ["firm"]
    unequal = TWO_LEVEL.replace(
        "f1 =~ y1 + a2*y2 + a3*y3\n  f2 =~ y4 + b5*y5 + b6*y6\n  f2 ~ f1",
        "f1 =~ y1 + y2 + y3\n  f2 ~ f1",
    )
    with pytest.raises(InputError) as err:
        build_spec(two_level(unequal), columns=columns, capabilities=BAYES)
    messages = " | ".join(p.message for p in err.value.problems)
    assert "label 'f1 =~ y2' as at level 1" in messages
    assert "'f2' is not measured at level 2" in messages
    # the ML engine fits the same two-level model (issue 19: lavaan's two-level ML)
    spec = build_spec(
        RunConfig(name="t", model=TWO_LEVEL, data={"cluster": "firm"}),
        columns=columns,
        capabilities=SEM,
    )
    assert spec.cluster == "firm"


def test_per_group_values_as_far_as_the_multigroup_model_goes():
    """c(v, v) is v; different values per group and path labels (equal paths across groups)
    are refused with data.group; without it c(...) says that data.group is missing."""
    columns = HS_COLUMNS + ["school"]
    same = HS.replace("x2 + x3", "c(l2, l2)*x2 + c(l2, l2)*x3")
    grouped = {"name": "t", "engine": "bayes", "data": {"group": "school"}}
    spec = build_spec(RunConfig(**grouped, model=same), columns=columns, capabilities=BAYES)
    assert [s.label for s in spec.settings] == ["l2", "l2"]
    different = HS.replace("x2 + x3", "c(l2a, l2b)*x2 + x3") + "speed ~ c(p, p)*visual\n"
    with pytest.raises(InputError) as err:
        build_spec(RunConfig(**grouped, model=different), columns=columns, capabilities=BAYES)
    messages = [p.message for p in err.value.problems]
    assert messages[0].startswith("different values per group are not estimated")
    assert "makes the path equal across groups" in messages[1]
    with pytest.raises(
        InputError, match="c\\(...\\) gives one value per group, but data.group is not set"
    ):
        build_spec(RunConfig(name="t", model=different), columns=columns, capabilities=SEM)
