"""``:=`` arithmetic: R's precedence, numpy evaluation on one vector and on draws, minimal rendering."""

from __future__ import annotations

import random

import numpy as np
import pytest

from bayeslead.syntax import evaluate_definitions, parse_model
from bayeslead.syntax.expressions import (
    Binary,
    Call,
    Name,
    Number,
    Unary,
    evaluate,
    evaluate_on_parameters,
    parse_expression,
    render_expression,
)
from bayeslead.syntax.lexer import tokenize

A, B, C = 0.7, -1.3, 2.5


def expr(text: str):
    tokens, problems = tokenize(text)
    assert not problems
    return parse_expression([t for t in tokens if t.kind != "newline"])


@pytest.mark.parametrize(
    "text, value",
    [
        ("a*b", A * B),
        ("a - b - c", (A - B) - C),
        ("a / b / c", (A / B) / C),
        ("a - (b - c)", A - (B - C)),
        ("-a^2", -(A**2)),  # R: unary minus binds looser than ^
        ("(-a)^2", A**2),
        ("c^-1", 1 / C),
        ("c^a^2", C ** (A**2)),  # right-associative
        ("(c^a)^2", (C**A) ** 2),
        ("a + b*c", A + B * C),
        ("(a + b)*c", (A + B) * C),
        ("-a*-b", (-A) * (-B)),
        ("--a", A),
        ("+a", A),
        ("2*a - 1e-3/c", 2 * A - 1e-3 / C),
        ("sqrt(c) + abs(b) + exp(a) + log(c)", np.sqrt(C) + abs(B) + np.exp(A) + np.log(C)),
        ("sqrt(abs(b)*c)^2", abs(B) * C),
        (".5*a + 5.*b", 0.5 * A + 5 * B),
    ],
)
def test_precedence_and_values_match_r(text, value):
    assert float(evaluate(expr(text), {"a": A, "b": B, "c": C})) == pytest.approx(value, rel=1e-14)


def test_definitions_on_one_vector_and_on_draws():
    """Mediation contrast (a1*b1 - a2*b2) on a parameter vector and on (draws, k) arrays."""
    model = parse_model(
        "M1 ~ a1*X\nM2 ~ a2*X\nY ~ b1*M1 + b2*M2 + c*X\n"
        "ind1 := a1*b1\nind2 := a2*b2\ncontrast := ind1 - ind2\ntotal := c + ind1 + ind2"
    )
    labels = ["a1", "a2", "b1", "b2", "c"]
    theta = np.array([0.5, 0.3, 0.4, 0.2, 0.1])
    one = evaluate_definitions(model.definitions, dict(zip(labels, theta, strict=True)))
    assert one["contrast"] == pytest.approx(0.5 * 0.4 - 0.3 * 0.2, abs=1e-15)
    assert one["total"] == pytest.approx(0.1 + 0.2 + 0.06, abs=1e-15)

    draws = np.random.default_rng(1).normal(size=(4000, 5))
    values = {label: draws[:, j] for j, label in enumerate(labels)}
    many = evaluate_definitions(model.definitions, values)
    assert many["contrast"].shape == (4000,)
    np.testing.assert_array_equal(
        many["contrast"], draws[:, 0] * draws[:, 2] - draws[:, 1] * draws[:, 3]
    )
    by_columns = evaluate_on_parameters(model.definitions[0].expr, labels, draws)
    np.testing.assert_array_equal(by_columns, draws[:, 0] * draws[:, 2])
    chains = draws.reshape(4, 1000, 5)  # (chain, draw, k) works the same way
    assert evaluate_on_parameters(model.definitions[0].expr, labels, chains).shape == (4, 1000)


def test_unknown_label_is_a_key_error_and_division_by_zero_is_inf():
    with pytest.raises(KeyError):
        evaluate(expr("a*z"), {"a": 1.0})
    assert np.isinf(evaluate(expr("a/b"), {"a": 1.0, "b": 0.0}))


@pytest.mark.parametrize(
    "text, rendered",
    [
        ("((a*b))", "a*b"),
        ("(a*b)*c", "a*b*c"),
        ("a*(b*c)", "a*(b*c)"),
        ("c + (a*b)", "c + a*b"),
        ("(a + b) - (c + d)", "a + b - (c + d)"),
        ("-(a^2)", "-a^2"),
        ("(-a)^2", "(-a)^2"),
        ("a^(b^c)", "a^b^c"),
        ("(a^b)^c", "(a^b)^c"),
        ("2^(-1)", "2^-1"),
        ("-(-a)", "-(-a)"),
        ("a/(b/c)", "a/(b/c)"),
        ("1.0*a", "1*a"),
    ],
)
def test_rendering_keeps_only_needed_parentheses(text, rendered):
    assert render_expression(expr(text)) == rendered
    assert expr(rendered) == expr(text)


def random_expr(rng: random.Random, depth: int):
    """A random AST over labels a..d (numbers non-negative: the grammar has no negative literal)."""
    if depth == 0 or rng.random() < 0.25:
        if rng.random() < 0.4:
            return Number(rng.choice([0.0, 1.0, 2.0, 0.5, 1e-3, 12.75, rng.random()]))
        return Name(rng.choice("abcd"))
    kind = rng.random()
    if kind < 0.15:
        return Unary(rng.choice("-+"), random_expr(rng, depth - 1))
    if kind < 0.25:
        return Call(rng.choice(["sqrt", "abs", "exp", "log"]), random_expr(rng, depth - 1))
    op = rng.choice(["+", "-", "*", "/", "^"])
    return Binary(op, random_expr(rng, depth - 1), random_expr(rng, depth - 1))


def fully_parenthesised(node) -> str:
    if isinstance(node, Number):
        return repr(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Unary):
        return f"{node.op}({fully_parenthesised(node.operand)})"
    if isinstance(node, Call):
        return f"{node.function}({fully_parenthesised(node.argument)})"
    return f"({fully_parenthesised(node.left)}) {node.op} ({fully_parenthesised(node.right)})"


@pytest.mark.parametrize("seed", range(40))
def test_random_expressions_round_trip(seed):
    rng = random.Random(seed)
    values = {n: np.array([0.3, 1.7, 2.2]) for n in "abcd"}
    for _ in range(25):
        tree = random_expr(rng, 4)
        assert expr(fully_parenthesised(tree)) == tree
        text = render_expression(tree)
        assert expr(text) == tree, text
        np.testing.assert_array_equal(evaluate(expr(text), values), evaluate(tree, values))
