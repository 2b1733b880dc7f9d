"""parse(render(parse(text))) == parse(text): on real models, on bayeslead's own model.lav, on
random models with formatting noise (seeded)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bayeslead.syntax import parse_model
from bayeslead.syntax.render import render_model
from tests.syntax.random_models import random_model

REFERENCE = Path(__file__).parents[1] / "reference"
MODELS: dict[str, str] = json.loads((REFERENCE / "lavaan_parse" / "models.json").read_text())
BUNDLED: dict[str, str] = json.loads(
    (REFERENCE / "bundled_model_lav" / "model_lav.json").read_text()
)


def assert_round_trip(text: str) -> None:
    parsed = parse_model(text)
    rendered = render_model(parsed)
    again = parse_model(rendered)
    assert again == parsed, rendered
    assert render_model(again) == rendered  # the rendering is a fixed point


@pytest.mark.parametrize("name", sorted(MODELS))
def test_lavaan_models_round_trip(name):
    assert_round_trip(MODELS[name])


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_model_lav_round_trips(name):
    """bayeslead's own model.lav: the same elements back; the text itself only where
    ModelSpec.to_lavaan already joins each lhs's terms (it writes covariances one per line)."""
    text = BUNDLED[name]
    assert_round_trip(text)
    if "~~" not in text:
        assert render_model(parse_model(text)) == text


@pytest.mark.parametrize("seed", range(300))
def test_random_models_round_trip(seed):
    assert_round_trip(random_model(random.Random(seed)))


def test_random_models_cover_the_syntax():
    """The generator exercises every operator, modifier kind and block kind."""
    ops, kinds, blocks = set(), set(), set()
    for seed in range(300):
        model = parse_model(random_model(random.Random(seed)))
        ops |= {e.op for e in model.elements} | {c.op for c in model.constraints}
        ops |= {":="} if model.definitions else set()
        kinds |= {m.kind for e in model.elements for m in e.modifiers}
        kinds |= {"per-group" for e in model.elements for m in e.modifiers if m.per_group}
        blocks |= {b.kind for b in model.blocks}
        ops |= {"x:z" for e in model.elements if ":" in e.rhs}
    assert ops == {"=~", "~", "~~", "~1", "|", "==", "<", ">", ":=", "x:z"}
    assert kinds == {"fixed", "label", "equal", "start", "lower", "upper", "prior", "per-group"}
    assert blocks == {"group", "level"}


def test_formatting_does_not_matter():
    a = parse_model("f =~ x1 + a*x2 + x3\ny ~ f\nab := a*2")
    b = parse_model(
        "# header\n  f =~ x1 +\n        a * x2   ! remark\n      + x3 ;  y~f\n\nab:=a *\n 2\n"
    )
    assert a == b
