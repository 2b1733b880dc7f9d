"""ModelSpec: lavaan syntax of the reference and bundled models, structure queries."""

from __future__ import annotations

import numpy as np

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.pipeline import load_inputs
from tests.conftest import REFERENCE, ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "configs"


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


def test_two_level_ml_builds_a_two_level_spec():
    """data.cluster with engine: sem is lavaan's two-level ML (tests/sem/test_twolevel.py)."""
    config = RunConfig(
        name="x", data={"cluster": "firm"}, constructs={"F": ["a", "b", "c"]}, engine="sem"
    )
    assert build_spec(config).cluster == "firm"


def test_interaction_syntax_and_indices_of_moderated_mediation():
    """`paths: {Y: [M, W, "M:W", X]}` renders modsem's `:` term and the IMM `:=` row."""
    spec = load_inputs(FIXTURES / "interaction.yaml", need_data=False).spec
    (q,) = spec.interactions
    assert (q.outcome, q.left, q.right, q.key) == ("Y", "M", "W", "Y ~ M:W")
    lines = _normalise(spec.to_lavaan())
    assert "Y ~ Y_on_M*M + Y_on_W*W + Y_on_X*X + Y_on_M_x_W*M:W" in lines
    assert "imm_ind := Y_on_M_x_W*M_on_X" in lines
    (imm,) = spec.moderated_mediations()
    assert (imm.moderator, imm.link) == ("W", 1)
    assert spec.moderators("Y", "M") == [("W", q)] and spec.moderators("M", "X") == []
    assert spec.moderator_values == (-1.0, 0.0, 1.0)


def test_moderator_percentiles_are_normal_quantiles():
    config = load_inputs(FIXTURES / "interaction.yaml", need_data=False).config
    spec = build_spec(config.model_copy(update={"moderator_percentiles": [16, 50, 84]}))
    np.testing.assert_allclose(spec.moderator_values, [-0.994458, 0.0, 0.994458], atol=1e-6)
