"""The parse of real lavaan models equals lavaan's own (lavParseModelString, lavaan 0.6-14).

Reference: tests/reference/lavaan_parse/lavaan_flat.json, written by parse_models.R.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bayeslead.syntax import parse_model
from bayeslead.syntax.expressions import parse_expression
from bayeslead.syntax.lexer import tokenize

REFERENCE = Path(__file__).parents[1] / "reference" / "lavaan_parse"
MODELS: dict[str, str] = json.loads((REFERENCE / "models.json").read_text())
LAVAAN = json.loads((REFERENCE / "lavaan_flat.json").read_text())

# lavaan 0.6-14 keeps only the first of chained modifiers; its current parser keeps all
CHAINED = {("multiple_modifiers", "f2", "=~", "x5"): "start"}


def _pair(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    return (*sorted((lhs, rhs)), op) if op == "~~" else (lhs, rhs, op)  # type: ignore[return-value]


def _lavaan_elements(name: str) -> dict[tuple, dict[str, list]]:
    out: dict[tuple, dict[str, list]] = {}
    group = level = None
    for row in LAVAAN["models"][name]["rows"]:
        if row["op"] == ":":
            if row["lhs"] == "group":
                group, level = row["rhs"], None
            else:
                level = row["rhs"]
            continue
        mods = {
            k: row[k] for k in ("fixed", "start", "label", "lower", "upper") if row[k] is not None
        }
        out[(*_pair(row["lhs"], row["op"], row["rhs"]), group, level)] = mods
    return out


def _our_elements(name: str) -> dict[tuple, dict[str, list]]:
    out = {}
    for e in parse_model(MODELS[name]).elements:
        mods = {("label" if m.kind == "equal" else m.kind): list(m.values) for m in e.modifiers}
        key = (*_pair(e.lhs, e.op, e.rhs), e.group, e.level)
        for (model, lhs, op, rhs), kind in CHAINED.items():
            if model == name and key[:3] == (lhs, rhs, op):
                mods.pop(kind)
        out[key] = mods
    return out


def _expr(text: str):
    tokens, problems = tokenize(text)
    assert not problems
    return parse_expression([t for t in tokens if t.kind != "newline"])


def _same_values(ours: list, theirs: list, kind: str) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        if a is None or b is None:
            if a is not b:
                return False
        elif kind == "label":
            if a.replace(" ", "") != b:  # lavaan 0.6-14 drops spaces inside quoted labels
                return False
        elif a != pytest.approx(b, rel=1e-13):
            return False
    return True


@pytest.mark.parametrize("name", sorted(MODELS))
def test_elements_and_modifiers_equal_lavaan(name):
    ours, theirs = _our_elements(name), _lavaan_elements(name)
    assert list(ours) == list(theirs)  # same elements, same order
    for key, mods in theirs.items():
        assert set(ours[key]) == set(mods), key
        for kind, values in mods.items():
            assert _same_values(ours[key][kind], values, kind), (key, kind, ours[key][kind], values)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_definitions_and_constraints_equal_lavaan(name):
    parsed = parse_model(MODELS[name])
    theirs = LAVAAN["models"][name]["constraints"]
    defined = [c for c in theirs if c["op"] == ":="]
    other = [c for c in theirs if c["op"] != ":="]
    assert [(d.name, d.expr) for d in parsed.definitions] == [
        (c["lhs"], _expr(c["rhs"])) for c in defined
    ]
    assert [(c.lhs, c.op, c.rhs) for c in parsed.constraints] == [
        (_expr(c["lhs"]), c["op"], _expr(c["rhs"])) for c in other
    ]


def test_reference_covers_the_tutorial_models():
    assert LAVAAN["lavaan_version"] == "0.6.14"
    assert len(MODELS) >= 25
    n_rows = sum(len(m["rows"]) for m in LAVAAN["models"].values())
    assert n_rows > 250
