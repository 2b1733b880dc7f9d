"""What the lavaan tutorial models and bayeslead's own model.lav mean once parsed."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from bayeslead.syntax import evaluate_definitions, parse_model

REFERENCE = Path(__file__).parents[1] / "reference"
MODELS: dict[str, str] = json.loads((REFERENCE / "lavaan_parse" / "models.json").read_text())
BUNDLED: dict[str, str] = json.loads(
    (REFERENCE / "bundled_model_lav" / "model_lav.json").read_text()
)


def equality_classes(text: str) -> dict[str, list[str]]:
    classes: dict[str, list[str]] = defaultdict(list)
    for e in parse_model(text).elements:
        for label in e.label:
            classes[label].append(f"{e.lhs} {e.op} {e.rhs}")
    return {k: v for k, v in classes.items() if len(v) > 1}


def test_holzinger_swineford_cfa():
    model = parse_model(MODELS["hs_cfa"])
    assert model.latent == ("visual", "textual", "speed")
    assert [(e.lhs, e.rhs) for e in model.elements] == [
        ("visual", "x1"), ("visual", "x2"), ("visual", "x3"),
        ("textual", "x4"), ("textual", "x5"), ("textual", "x6"),
        ("speed", "x7"), ("speed", "x8"), ("speed", "x9"),
    ]  # fmt: skip
    assert all(e.modifiers == () and e.block == 0 and e.group is None for e in model.elements)


def test_equal_loadings_by_shared_labels():
    assert equality_classes(MODELS["hs_cfa_equal_loadings"]) == {
        "v2": ["visual =~ x2", "visual =~ x3"]
    }
    assert equality_classes(MODELS["poldem_labels"]) == {
        "a": ["dem60 =~ y2", "dem65 =~ y6"],
        "b": ["dem60 =~ y3", "dem65 =~ y7"],
        "c": ["dem60 =~ y4", "dem65 =~ y8"],
    }
    covariances = [e for e in parse_model(MODELS["poldem_labels"]).elements if e.op == "~~"]
    assert [(e.lhs, e.rhs) for e in covariances] == [
        ("y1", "y5"), ("y2", "y4"), ("y2", "y6"), ("y3", "y7"), ("y4", "y8"), ("y6", "y8"),
    ]  # fmt: skip


def test_std_lv_by_hand_frees_the_marker_and_fixes_the_variance():
    model = parse_model(MODELS["hs_cfa_std_lv_by_hand"])
    first = [e for e in model.elements if e.op == "=~" and e.rhs in ("x1", "x4", "x7")]
    assert all(e.freed for e in first)
    variances = [e for e in model.elements if e.op == "~~"]
    assert [(e.lhs, e.fixed) for e in variances] == [
        ("visual", (1.0,)), ("textual", (1.0,)), ("speed", (1.0,)),
    ]  # fmt: skip
    assert not any(e.freed for e in variances)


def test_mediation_definitions():
    model = parse_model(MODELS["mediation"])
    assert [d.name for d in model.definitions] == ["ab", "total"]
    values = evaluate_definitions(model.definitions, {"a": 0.5, "b": 0.4, "c": 0.1})
    assert values == {"ab": pytest.approx(0.2), "total": pytest.approx(0.3)}


def test_multigroup_modifiers_are_per_group_vectors():
    by_rhs = {e.rhs: e for e in parse_model(MODELS["hs_multigroup_modifiers"]).elements}
    assert by_rhs["x2"].fixed == (0.5,) and not by_rhs["x2"].modifier("fixed").per_group
    assert by_rhs["x3"].fixed == (0.6, 0.8)
    assert by_rhs["x5"].modifier("start").values == (1.2, 0.6)
    assert by_rhs["x9"].label == ("x9.group1", "x9.group2")
    partial = {e.key: e for e in parse_model(MODELS["hs_multigroup_partial_intercepts"]).elements}
    assert partial["x3~1"].label == ("i3a", "i3b")
    assert partial["x1~1"].label == ("i1", "i1")


def test_group_and_level_blocks():
    groups = parse_model(MODELS["hs_group_blocks"])
    assert [(b.kind, b.label) for b in groups.blocks] == [
        ("group", "Pasteur"),
        ("group", "Grant-White"),
    ]
    assert {(e.block, e.group) for e in groups.elements} == {(1, "Pasteur"), (2, "Grant-White")}
    levels = parse_model(MODELS["multilevel"])
    assert [(e.level, e.lhs, e.op, e.rhs) for e in levels.elements] == [
        ("1", "fw", "=~", "y1"), ("1", "fw", "=~", "y2"), ("1", "fw", "=~", "y3"),
        ("1", "fw", "~", "x1"), ("1", "fw", "~", "x2"), ("1", "fw", "~", "x3"),
        ("2", "fb", "=~", "y1"), ("2", "fb", "=~", "y2"), ("2", "fb", "=~", "y3"),
        ("2", "fb", "~", "w1"), ("2", "fb", "~", "w2"),
    ]  # fmt: skip


def test_thresholds_intercepts_and_interactions():
    ordinal = parse_model(MODELS["categorical_thresholds"])
    assert [(e.lhs, e.rhs) for e in ordinal.elements if e.op == "|"] == [
        ("u1", "t1"), ("u1", "t2"), ("u1", "t3"), ("u2", "t1"), ("u2", "t2"), ("u3", "t1"),
    ]  # fmt: skip
    intercepts = parse_model(MODELS["intercepts_equal"])
    y1b = next(e for e in intercepts.elements if e.key == "y1b~1")
    assert (y1b.op, y1b.rhs, y1b.modifier("equal").values) == ("~1", "", ("y1a~1",))
    moderated = parse_model(MODELS["moderated_mediation"])
    product = next(e for e in moderated.elements if ":" in e.rhs)
    assert (product.lhs, product.rhs, product.label) == ("BI", "SEIZ:ENV", ("int",))


def test_bundled_study_model_lav():
    """bayeslead's model.lav of the serial-mediation study reads back as the study's model."""
    model = parse_model(BUNDLED["tl_dc_bi_sem"])
    assert model.latent == (
        "TL_EXP", "TL_VIS", "TL_TRF", "SENS", "SEIZ", "RECO", "BI_TECH", "BI_MKT", "TL", "BI",
    )  # fmt: skip
    paths = [(e.lhs, e.rhs, e.label) for e in model.elements if e.op == "~"]
    assert paths == [
        ("SENS", "TL", ("SENS_on_TL",)),
        ("SEIZ", "SENS", ("SEIZ_on_SENS",)), ("SEIZ", "TL", ("SEIZ_on_TL",)),
        ("RECO", "SEIZ", ("RECO_on_SEIZ",)),
        ("BI", "RECO", ("BI_on_RECO",)), ("BI", "TL", ("BI_on_TL",)),
    ]  # fmt: skip
    names = [d.name for d in model.definitions]
    assert names == [
        "serial", "serial_direct", "serial_total",
        "via_seizing", "via_seizing_direct", "via_seizing_total",
    ]  # fmt: skip
    draws = np.random.default_rng(7).normal(0.4, 0.1, size=(2000, 6))
    labels = [label for _, _, (label,) in paths]
    values = evaluate_definitions(model.definitions, {k: draws[:, j] for j, k in enumerate(labels)})
    a, b1, b2, c, d1, d2 = draws.T
    np.testing.assert_allclose(values["serial"], a * b1 * c * d1, rtol=1e-15)
    np.testing.assert_allclose(
        values["serial_total"], a * b1 * c * d1 + b2 * c * d1 + d2, rtol=1e-15
    )
