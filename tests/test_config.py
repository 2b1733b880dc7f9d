"""Run configs: every problem reported at once with its key, relative paths resolved against the config."""

from __future__ import annotations

import pytest

from bayeslead.config import BayesConfig, RunConfig, config_from_mapping, load_config
from bayeslead.errors import InputError
from bayeslead.pipeline import load_inputs
from tests.conftest import REFERENCE, ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "configs"


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
    "bad_method_share.yaml": "truth.method_share: TL: a share must lie in [0, 1], got 1.5",
    "bad_covariance.yaml": "covariances[0]: 'tl1' and 'SENS' must both be items or both constructs",
    "list_constructs_without_instrument.yaml": "constructs: a list of construct ids needs an instrument",
    "level3_without_cluster.yaml": "data.level3: a third level needs data.cluster",
    "group_with_cluster.yaml": "data.group: cannot be combined with data.cluster",
    "group_equal_without_group.yaml": "group_equal: needs data.group",
    "bad_group_partial.yaml": "group_equal[1]: 'intercept' is not one of: loadings, intercepts,",
    "bad_ordinal_estimator.yaml": "bayes.ordinal: 'wlsmv' is not one of: auto, full, polychoric",
    "negative_skip_rows.yaml": "data.skip_rows: Input should be greater than or equal to 0 (got -2)",
    "interaction_unknown.yaml": "paths.Y[2]: unknown construct 'WW'; did you mean 'W'?",
    "interaction_main_effect.yaml": "paths.Y[1]: 'M:W' needs both main effects: add 'W' to paths.Y",
    "bad_percentiles.yaml": "moderator_percentiles: percentiles must lie strictly between 0 and 100, got [100.0]",
    "cross_loading.yaml": "constructs.SENS[4]: 'tl4' already measures 'TL': cross-loadings are not estimated",
    "duplicate_key.yaml": "bayes.draws: key 'draws' given twice (lines 13 and 15); keep one",
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


def test_bayes_refit_names_a_search(tmp_path):
    """bayes.refit (approximate invariance's refits) is item (default) or parameter."""
    path = tmp_path / "refit.yaml"
    path.write_text("name: x\nbayes: {refit: items}\n")
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert "bayes.refit: 'items' is not one of: item, parameter; did you mean 'item'?" in str(
        caught.value
    )
    path.write_text("name: x\n")
    assert load_config(path).bayes.refit == "item"


@pytest.mark.parametrize(
    ("data", "bayes", "draws"),
    [
        ({"cluster": "firm"}, {"indicators": "ordinal"}, None),  # ordinal two-level
        ({"cluster": "firm"}, {}, None),  # continuous two-level
        ({}, {"indicators": "ordinal"}, None),  # ordinal single-level
        ({"group": "g"}, {"indicators": "ordinal"}, None),  # ordinal multi-group
        ({"cluster": "firm"}, {"indicators": "ordinal", "draws": 1000}, 1000),  # explicit
        ({"cluster": "firm"}, {"indicators": "ordinal", "draws": 500}, 500),
        ({}, {"draws": 3000}, 3000),
    ],
)
def test_unset_draws_stay_unset_for_every_model(tmp_path, data, bayes, draws):
    """An unset bayes.draws stays None (draw until the gates pass, one rule for every model:
    bayes/sampling.py); an explicit value is kept exactly, also through a file, a dump and
    reload and the Python API's BayesConfig, and the config stays frozen."""
    raw = {"name": "x", "data": data, "bayes": bayes}
    assert config_from_mapping(raw, tmp_path).bayes.draws == draws
    built = RunConfig(name="x", data=data, bayes=BayesConfig(**bayes))
    assert built.bayes.draws == draws
    path = tmp_path / "run.yaml"
    path.write_text(f"name: x\ndata: {data}\nbayes: {bayes}\n".replace("'", ""))
    config = load_config(path)
    assert config.bayes.draws == draws
    assert config_from_mapping(config.to_yaml_dict(), tmp_path).bayes.draws == draws
    with pytest.raises(ValueError, match="frozen"):
        config.bayes.draws = 10


def test_every_duplicate_key_is_reported_with_its_path_and_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(
        "name: x\nbayes:\n  draws: 1000\n  draws: 2000\n"
        "covariances:\n  - {a: 1, a: 2}\n  - &loop [1, *loop]\nname: y\n"
    )
    with pytest.raises(InputError) as caught:
        load_config(path)
    assert caught.value.exit_code == 2
    assert [str(p) for p in caught.value.problems] == [
        "bayes.draws: key 'draws' given twice (lines 3 and 4); keep one",
        "covariances[0].a: key 'a' given twice (on line 6); keep one",
        "name: key 'name' given twice (lines 1 and 8); keep one",
    ]


def test_every_indicator_listed_twice_is_reported_at_its_key(tmp_path):
    text = (FIXTURES / "invalid" / "cross_loading.yaml").read_text()
    text = text.replace("../../reference", str(REFERENCE)).replace("engine: sem", "")
    text += "second_order:\n  DC: [SENS, SEIZ]\n  DD: [TL, SEIZ]\nengine: sem\n"
    path = tmp_path / "twice.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_inputs(path)
    lines = [line.strip() for line in str(caught.value).splitlines()[1:]]
    assert lines == [
        "- constructs.SENS[4]: 'tl4' already measures 'TL': cross-loadings are not estimated, "
        "each indicator measures one construct",
        "- constructs.SEIZ[3]: 'seiz3' is listed twice",
        "- second_order.DD[1]: 'SEIZ' already measures 'DC': cross-loadings are not estimated, "
        "each indicator measures one construct",
    ]
