"""Names against data columns and the instrument (did-you-mean), and what an engine can estimate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bayeslead.syntax import Capabilities, ModelContext, check_model, expand_instrument, parse_model

REFERENCE = Path(__file__).parents[1] / "reference"
MODELS: dict[str, str] = json.loads((REFERENCE / "lavaan_parse" / "models.json").read_text())
BUNDLED: dict[str, str] = json.loads(
    (REFERENCE / "bundled_model_lav" / "model_lav.json").read_text()
)

HS = frozenset(f"x{k}" for k in range(1, 10))
EVERYTHING = Capabilities(
    thresholds=True,
    nonlinear_equality=True,
    interactions=True,
    groups=True,
    levels=True,
    priors=True,
    random_slopes=True,
    item_regressions=True,
    engine="a test engine",
)
ML_TODAY = Capabilities(intercepts=False, engine="engine: sem")


def problems(text: str, **context) -> list[tuple[int, int, str, str]]:
    context.setdefault("columns", HS)
    found = check_model(parse_model(text), ModelContext(**context))
    return [(p.line, p.column, p.severity, p.message) for p in found]


def errors(text: str, **context) -> list[tuple[int, int, str]]:
    return [(line, col, msg) for line, col, sev, msg in problems(text, **context) if sev == "error"]


def test_unknown_item_has_a_did_you_mean_over_the_data_columns():
    (found,) = errors("visual =~ x1 + x2 + x33\ntextual =~ x4 + x5 + x6")
    assert found == (
        1,
        21,
        "unknown variable 'x33' (not a data column or a construct); did you mean 'x3'?",
    )


def test_unknown_construct_in_a_path_has_a_did_you_mean_over_constructs():
    (found,) = errors("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\ntextual ~ visul")
    assert found[:2] == (3, 11)
    assert found[2].endswith("did you mean 'visual'?")


def test_factor_named_like_a_data_column_is_refused_at_its_left_hand_side():
    (found,) = errors("visual =~ x1 + x2 + x3\n  x4 =~ x5 + x6")
    assert found[:2] == (2, 3)
    assert "'x4' is a data column" in found[2] and "'x4_f =~ ...'" in found[2]


# --- the instrument supplies the items ---------------------------------------------------
def bundled_constructs() -> dict[str, list[str]]:
    """The tl_dc_bi instrument's constructs (second-order TL and BI with their dimensions), as
    bayeslead's own model.lav of the bundled study lists them."""
    out: dict[str, list[str]] = {}
    for e in parse_model(BUNDLED["tl_dc_bi_sem"]).elements:
        if e.op == "=~":
            out.setdefault(e.lhs, []).append(e.rhs)
    return out


STUDY_WITH_DOTS = """
TL =~ .
SENS =~ .
SEIZ =~ .
RECO =~ .
BI =~ .
SENS ~ SENS_on_TL*TL
SEIZ ~ SEIZ_on_SENS*SENS + SEIZ_on_TL*TL
RECO ~ RECO_on_SEIZ*SEIZ
BI ~ BI_on_RECO*RECO + BI_on_TL*TL
serial := SENS_on_TL*SEIZ_on_SENS*RECO_on_SEIZ*BI_on_RECO
"""


def test_dot_shorthand_gives_the_same_measurement_as_the_yaml_form():
    constructs = bundled_constructs()
    expanded, found = expand_instrument(parse_model(STUDY_WITH_DOTS), constructs)
    assert found == []
    ours = {(e.lhs, e.rhs) for e in expanded.elements if e.op == "=~"}
    yaml_form = {
        (e.lhs, e.rhs) for e in parse_model(BUNDLED["tl_dc_bi_sem"]).elements if e.op == "=~"
    }
    assert ours == yaml_form
    assert len(ours) == 32  # 8 first-order factors with 27 items, 2 second-order with 5 dimensions
    items = frozenset(i for members in constructs.values() for i in members) - set(constructs)
    assert check_model(expanded, ModelContext(items, constructs)) == []


def test_dot_shorthand_for_an_unknown_construct_has_a_did_you_mean():
    _, found = expand_instrument(parse_model("SENS =~ .\nTLL =~ ."), bundled_constructs())
    assert [(p.line, p.column) for p in found] == [(2, 1)]
    assert "did you mean 'TL'?" in found[0].message


def test_an_instrument_construct_without_measurement_points_to_the_shorthand():
    constructs = bundled_constructs()
    model, _ = expand_instrument(parse_model("SENS =~ .\nSENS ~ TL"), constructs)
    columns = frozenset(i for m in constructs.values() for i in m) - set(constructs)
    (found,) = [
        (p.line, p.column, p.message) for p in check_model(model, ModelContext(columns, constructs))
    ]
    assert found[:2] == (2, 8)
    assert "write 'TL =~ .'" in found[2]


# --- groups and levels -------------------------------------------------------------------
GROUPS = ("Pasteur", "Grant-White")


def test_per_group_vectors_need_data_group_and_the_right_length():
    text = "visual =~ x1 + c(a, b)*x2 + x3\nspeed =~ x7 + c(1, 2, 3)*x8 + x9"
    assert [f[:2] for f in errors(text)] == [(1, 16), (2, 15)]
    assert "data.group is not set" in errors(text)[0][2]
    found = errors(text, groups=GROUPS, capabilities=EVERYTHING)
    assert found == [(2, 15, "c(...) has 3 values for 2 groups (Pasteur, Grant-White)")]


def test_group_blocks_are_checked_against_the_group_values():
    text = "group: Pasteur\n f =~ x1 + x2 + x3\ngroup: GrantWhite\n f =~ x1 + c(a, b)*x2 + x3"
    found = errors(text, groups=GROUPS, capabilities=EVERYTHING)
    assert [f[:2] for f in found] == [(1, 1), (3, 1), (4, 12)]
    assert found[0][2] == "no 'group:' block for Grant-White"
    assert "did you mean 'Grant-White'?" in found[1][2]
    assert "inside a 'group:' block give one value" in found[2][2]
    assert "need data.group" in errors(text)[0][2]


def test_level_blocks_need_a_cluster_and_known_levels():
    text = "level: 1\n fw =~ x1 + x2 + x3\nlevel: 3\n fb =~ x1 + x2 + x3"
    assert [f[:2] for f in errors(text)] == [(1, 1), (3, 1)]
    assert errors(text)[0][2] == "'level:' blocks need data.cluster"
    found = errors(text, clustered=True, capabilities=EVERYTHING)
    assert found == [(3, 1, "unknown level '3': use 1/within or 2/between")]
    assert errors(MODELS["multilevel_named"], columns=frozenset({"y1", "y2", "y3"}),
                  clustered=True, capabilities=EVERYTHING) == []  # fmt: skip


def test_one_label_across_groups_is_a_warning_once_per_label():
    found = problems(MODELS["poldem_labels"], columns=frozenset(
        [f"x{k}" for k in (1, 2, 3)] + [f"y{k}" for k in range(1, 9)]), groups=GROUPS,
        capabilities=EVERYTHING)  # fmt: skip
    assert [(line, col, sev) for line, col, sev, _ in found] == [
        (4, 19, "warning"), (4, 26, "warning"), (4, 33, "warning"),
    ]  # fmt: skip


# --- modifiers, constraints and definitions -----------------------------------------------
def test_defined_parameters_name_known_labels():
    text = "visual =~ x1 + a*x2 + b*x3\nab := a*bb\nvisual := a + b\nab2 := ab*2"
    assert errors(text) == [
        (2, 9, "unknown label 'bb'; did you mean 'b'?"),
        (3, 1, "'visual' is already a label, variable or defined parameter"),
    ]


def test_inequalities_are_refused_with_a_hypothesis_to_write_instead():
    (found,) = errors("visual =~ x1 + l2*x2 + l3*x3\nl2 < l3")
    assert found == (
        2,
        4,
        "inequality constraints are not estimated; to test it, write it as a hypothesis "
        '(hypotheses: {H1: "l2 < l3"})',
    )


def test_equalities_simple_always_general_only_where_the_engine_can():
    text = "visual =~ x1 + L2*x2 + L3*x3\ntextual =~ x4 + L5*x5 + L6*x6\nL2 == L5\nL3 == 2*L6 - 1\nL6 == 0.5"
    found = errors(text)
    assert [f[:2] for f in found] == [(4, 4)]
    assert "only 'a == b' and 'a == number'" in found[0][2]
    assert errors(text, capabilities=EVERYTHING) == []
    assert (
        "constrain labels, not the defined parameter 'd'"
        in errors("visual =~ x1 + a*x2 + b*x3\nd := a - b\nd == 0")[0][2]
    )


def test_equal_names_a_label_or_an_automatic_parameter_name():
    cols = frozenset(["y1a", "y1b", "y1c", "y2a", "y2b", "y2c"])
    assert errors(MODELS["intercepts_equal"], columns=cols) == []
    found = errors(
        MODELS["intercepts_equal"].replace(
            'equal("y1a~1") * 1\n    y1c', 'equal("y1a~2") * 1\n    y1c'
        ),
        columns=cols,
    )
    assert found == [(8, 11, "equal('y1a~2') names no label or parameter; did you mean 'y1a~1'?")]


def test_label_clashes():
    found = errors("visual =~ x1 + x3*x2 + a*x3\nspeed =~ x7 + a*x8 + 1*a*x9")
    assert found == [
        (1, 16, "the label 'x3' is also a variable name"),
        (2, 24, "the label 'a' is shared by a fixed and a free parameter"),
    ]


def test_engine_capabilities_decide_what_is_refused():
    text = (
        "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\n"
        'textual ~ prior("normal(0, 1)")*visual + x9 + visual:x9\n'
        "x1 ~ 1\nx2 ~~ lower(0)*x2\nx3 ~ x9\nx1 ~~ visual\n"
    )
    found = errors(text, capabilities=ML_TODAY)
    assert [f[:2] for f in found] == [(3, 11), (3, 47), (4, 6), (5, 7), (6, 6), (7, 7)]
    messages = " | ".join(f[2] for f in found)
    for words in (
        "prior() is not used by engine: sem",
        "the interaction 'visual:x9' is not estimated by engine: sem: latent interactions need engine: sem or engine: bayes",
        "intercepts and means ('~ 1') are not estimated by engine: sem",
        "lower() bounds are not supported",
        "regressing the indicator 'x3' is not estimated by engine: sem",
        "'x1 ~~ visual' pairs an indicator with a non-indicator",
    ):
        assert words in messages
    assert [f[:2] for f in errors(text, capabilities=EVERYTHING)] == [(5, 7), (7, 7)]


def test_thresholds_need_ordinal_indicators_without_gaps():
    text = "f =~ x1 + x2 + x3\nx1 | t1 + t2\nx2 | t1 + t3"
    assert errors(text)[0] == (
        2,
        6,
        "thresholds of 'x1' need ordinal indicators (bayes.indicators: ordinal)",
    )
    found = errors(text, ordinal=True, capabilities=EVERYTHING)
    assert found == [(3, 6, "thresholds of 'x2' must be t1..t2 without gaps")]


def test_every_problem_at_once_in_text_order():
    text = "visual =~ x1 + x2 + x33\nx4 =~ x5 + x6\nab := a*b\nvisual ~ 1\n"
    found = errors(text, capabilities=ML_TODAY)
    assert [f[:2] for f in found] == [(1, 21), (2, 1), (3, 7), (3, 9), (4, 10)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tutorial_models_pass_an_engine_that_can_do_everything(name):
    parsed = parse_model(MODELS[name])
    observed = {n for e in parsed.elements if e.op != "|" for n in [e.lhs, *e.rhs.split(":")]}
    columns = frozenset(observed - set(parsed.latent) - {""})
    context = ModelContext(columns, {}, GROUPS, True, True, EVERYTHING)
    found = [p for p in check_model(parsed, context) if p.severity == "error"]
    allowed = {"nonlinear_constraints": 1, "constraint_bounds": 2}  # inequalities
    assert len(found) == allowed.get(name, 0), found
    assert all("inequality" in p.message for p in found)
