"""Run configs and ModelSpec: invalid configs (one fixture per failure mode) and lavaan syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayeslead.config import RunConfig, load_config
from bayeslead.core.from_config import build_spec
from bayeslead.errors import InputError
from bayeslead.pipeline import load_inputs

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
ROOT = Path(__file__).parents[1]
REFERENCE = Path(__file__).parent / "reference"

INVALID = {
    "unknown_key.yaml": "engin: unknown key 'engin'; did you mean 'engine'?",
    "bad_engine.yaml": "engine: 'lisrel' is not one of: sem, bayes",
    "nested_unknown_key.yaml": "sem.bootstrp: unknown key 'bootstrp'; did you mean 'bootstrap'?",
    "bad_type.yaml": "sem.bootstrap: Input should be a valid integer, unable to parse string as an integer (got 'many')",
    "negative_bootstrap.yaml": "sem.bootstrap: Input should be greater than or equal to 0 (got -5)",
    "missing_name.yaml": "name: required key is missing",
    "bad_scale.yaml": "data.scale: scale must be [low, high] with low < high, got [5, 1]",
    "unknown_path_construct.yaml": "paths.RECO[0]: unknown construct 'SEIZE'; did you mean 'SEIZ'?; known: BI, RECO, SEIZ, SENS, TL",
    "cycle.yaml": "paths: cycle: SENS -> SEIZ -> RECO -> SENS",
    "effect_not_a_path.yaml": "effects.ind_tl_seiz: link TL -> RECO is not a path (add 'TL' to paths.RECO)",
    "effect_unknown_construct.yaml": "effects.ind_tl_seiz[2]: unknown construct 'RECOO'; did you mean 'RECO'?",
    "short_effect.yaml": "effects: effect 'ind_tl_seiz' needs a chain of at least 3 constructs",
    "missing_instrument.yaml": "instrument: file not found:",
    "missing_data.yaml": "data.path: file not found:",
    "bad_truth_key.yaml": "truth.paths: key 'SENS TL' must look like 'OUTCOME ~ PREDICTOR' or 'A ~~ B'",
    "bad_covariance.yaml": "covariances[0]: 'tl1' and 'SENS' must both be items or both constructs",
    "list_constructs_without_instrument.yaml": "constructs: a list of construct ids needs an instrument",
    "level3_without_cluster.yaml": "data.level3: a third level needs data.cluster",
    "group_with_cluster.yaml": "data.group: cannot be combined with data.cluster",
    "group_with_sem.yaml": "data.group: multi-group comparisons need engine: bayes",
}


def test_every_invalid_fixture_is_listed():
    assert sorted(p.name for p in (FIXTURES / "invalid").glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_config_message(name):
    path = FIXTURES / "invalid" / name
    with pytest.raises(InputError) as caught:
        load_inputs(path)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert str(path.resolve()) in message
    assert INVALID[name] in message


def test_all_config_errors_reported_at_once(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("name: x\nengin: sem\nsem: {bootstrap: -1, sed: 2}\nbayes: {chains: 0}\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "has 4 problems" in message
    for expected in (
        "engin: unknown key 'engin'; did you mean 'engine'?",
        "sem.bootstrap: Input should be greater than or equal to 0",
        "sem.sed: unknown key 'sed'; did you mean 'seed'?",
        "bayes.chains: Input should be greater than or equal to 1",
    ):
        assert expected in message


def test_relative_paths_resolve_against_the_config_folder():
    config = load_config(FIXTURES / "serial.yaml")
    assert config.data.path == (REFERENCE / "serial_mediation" / "data.csv").resolve()
    bundled = load_config(ROOT / "configs" / "tl_dc_bi_sem.yaml")
    assert bundled.instrument == (ROOT / "surveys" / "tl_dc_bi.yaml").resolve()
    assert bundled.output == (ROOT / "outputs").resolve()


def _normalise(syntax: str) -> list[str]:
    return [" ".join(line.split()) for line in syntax.strip().splitlines() if line.strip()]


def test_holzinger_syntax_matches_the_reference_model():
    """lavaan syntax of the inline Holzinger-Swineford CFA equals tests/reference/.../model.lav."""
    spec = build_spec(
        RunConfig(
            name="hs",
            constructs={
                "visual": ["x1", "x2", "x3"],
                "textual": ["x4", "x5", "x6"],
                "speed": ["x7", "x8", "x9"],
            },
        )
    )
    expected = (REFERENCE / "holzinger1939" / "model.lav").read_text()
    assert _normalise(spec.to_lavaan()) == _normalise(expected)


def test_bundled_model_syntax():
    spec = load_inputs(ROOT / "configs" / "tl_dc_bi_sem.yaml", need_data=False).spec
    expected = """
    TL_EXP =~ tle1 + tle2 + tle3
    TL_VIS =~ tlv1 + tlv2 + tlv3
    TL_TRF =~ tlt1 + tlt2 + tlt3
    SENS =~ sens1 + sens2 + sens3 + sens4
    SEIZ =~ seiz1 + seiz2 + seiz3 + seiz4
    RECO =~ reco1 + reco2 + reco3 + reco4
    BI_TECH =~ bit1 + bit2 + bit3
    BI_MKT =~ bim1 + bim2 + bim3
    TL =~ TL_EXP + TL_VIS + TL_TRF
    BI =~ BI_TECH + BI_MKT
    SENS ~ SENS_on_TL*TL
    SEIZ ~ SEIZ_on_SENS*SENS + SEIZ_on_TL*TL
    RECO ~ RECO_on_SEIZ*SEIZ
    BI ~ BI_on_RECO*RECO + BI_on_TL*TL
    serial := SENS_on_TL*SEIZ_on_SENS*RECO_on_SEIZ*BI_on_RECO
    serial_direct := BI_on_TL
    serial_total := SENS_on_TL*SEIZ_on_SENS*RECO_on_SEIZ*BI_on_RECO + SEIZ_on_TL*RECO_on_SEIZ*BI_on_RECO + BI_on_TL
    via_seizing := SEIZ_on_TL*RECO_on_SEIZ*BI_on_RECO
    via_seizing_direct := BI_on_TL
    via_seizing_total := SENS_on_TL*SEIZ_on_SENS*RECO_on_SEIZ*BI_on_RECO + SEIZ_on_TL*RECO_on_SEIZ*BI_on_RECO + BI_on_TL
    """
    assert _normalise(spec.to_lavaan()) == _normalise(expected)
    assert spec.exogenous() == ("TL",)
    assert [f.name for f in spec.second_order] == ["TL", "BI"]


def test_structure_queries():
    spec = load_inputs(FIXTURES / "serial.yaml", need_data=False).spec
    assert spec.structural_variables() == ("TL", "SENS", "SEIZ", "RECO", "BI")
    assert spec.directed_paths("TL", "RECO") == [
        ("TL", "SENS", "SEIZ", "RECO"),
        ("TL", "SEIZ", "RECO"),
    ]
    cfa = spec.measurement_model()
    assert cfa.regressions == () and len(cfa.exogenous()) == 5
