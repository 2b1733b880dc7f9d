"""Arithmetic of parameter labels (``:=`` definitions, ``==`` constraints): parse, render, evaluate.

A closed grammar; nothing is evaluated as code. Precedence as in R (``-a^2`` is ``-(a^2)``,
``^`` is right-associative, ``2^-1`` is allowed)::

    expr  := term (("+" | "-") term)*
    term  := unary (("*" | "/") unary)*
    unary := ("-" | "+") unary | power
    power := atom ("^" unary)?
    atom  := NUMBER | NAME | FUNCTION "(" expr ")" | "(" expr ")"

Functions: ``sqrt``, ``abs``, ``exp``, ``log`` (natural). Evaluation is numpy on whatever shape
the label values have: scalars for one parameter vector, ``(draws,)`` columns of a
``(draws, k)`` array of posterior draws or bootstrap replicates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from bayeslead.syntax.lexer import LavaanProblem, LavaanSyntaxError, Token, did_you_mean

FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sqrt": np.sqrt,
    "abs": np.abs,
    "exp": np.exp,
    "log": np.log,
}


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Name:
    name: str
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call:
    function: str
    argument: Expr


Expr = Union[Number, Name, Unary, Binary, Call]  # noqa: UP007 (dataclass forward references)

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "unary": 3, "^": 4, "atom": 5}


def parse_expression(tokens: Sequence[Token], source: str = "model") -> Expr:
    """Parse `tokens` (no newlines) as one expression; raise `LavaanSyntaxError` if they are not."""
    parser = _Parser(list(tokens), source)
    expr = parser.expr()
    if parser.pos < len(parser.tokens):
        parser.fail(parser.tokens[parser.pos], "unexpected")
    return expr


class _Parser:
    def __init__(self, tokens: list[Token], source: str):
        self.tokens, self.pos, self.source = tokens, 0, source

    def fail(self, tok: Token | None, what: str) -> None:
        if tok is None:
            last = self.tokens[-1] if self.tokens else Token("op", "", 1, 1)
            line, column, found = last.line, last.column + len(last.text), "end of the expression"
        else:
            line, column, found = tok.line, tok.column, repr(tok.text)
        raise LavaanSyntaxError(
            [LavaanProblem(line, column, f"{what} {found}", source=self.source)]
        )

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, *ops: str) -> Token | None:
        tok = self.peek()
        if tok is not None and tok.is_op(*ops):
            self.pos += 1
            return tok
        return None

    def expr(self) -> Expr:
        node = self.term()
        while (tok := self.take("+", "-")) is not None:
            node = Binary(tok.text, node, self.term())
        return node

    def term(self) -> Expr:
        node = self.unary()
        while (tok := self.take("*", "/")) is not None:
            node = Binary(tok.text, node, self.unary())
        return node

    def unary(self) -> Expr:
        if (tok := self.take("+", "-")) is not None:
            return Unary(tok.text, self.unary())
        node = self.atom()
        if self.take("^") is not None:
            node = Binary("^", node, self.unary())
        return node

    def atom(self) -> Expr:
        tok = self.peek()
        if tok is None:
            self.fail(None, "expected a number, label or '(' but found")
        self.pos += 1
        if tok.kind == "number":
            return Number(float(tok.text))
        if tok.is_op("("):
            node = self.expr()
            if self.take(")") is None:
                self.fail(self.peek(), "expected ')' but found")
            return node
        if tok.kind == "name" and self.peek() is not None and self.peek().is_op("("):
            if tok.text not in FUNCTIONS:
                message = (
                    f"unknown function '{tok.text}'{did_you_mean(tok.text, FUNCTIONS)} "
                    f"(functions: {', '.join(FUNCTIONS)})"
                )
                raise LavaanSyntaxError(
                    [LavaanProblem(tok.line, tok.column, message, source=self.source)]
                )
            self.pos += 1
            argument = self.expr()
            if self.take(")") is None:
                self.fail(self.peek(), f"{tok.text}() takes one argument; expected ')' but found")
            return Call(tok.text, argument)
        if tok.kind == "name":
            return Name(tok.text, tok.line, tok.column)
        self.fail(tok, "expected a number, label or '(' but found")
        raise AssertionError  # unreachable: fail raises


def names(expr: Expr) -> list[Name]:
    """Every label the expression refers to, in reading order (with positions)."""
    if isinstance(expr, Name):
        return [expr]
    if isinstance(expr, Unary):
        return names(expr.operand)
    if isinstance(expr, Binary):
        return names(expr.left) + names(expr.right)
    if isinstance(expr, Call):
        return names(expr.argument)
    return []


def evaluate(expr: Expr, values: Mapping[str, np.ndarray | float]) -> np.ndarray:
    """Value of `expr` with each label replaced by its value (arrays broadcast elementwise).

    Raises ``KeyError`` for a label missing from `values`.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(_evaluate(expr, values), dtype=float)


def _evaluate(expr: Expr, values: Mapping[str, np.ndarray | float]) -> np.ndarray | float:
    if isinstance(expr, Number):
        return expr.value
    if isinstance(expr, Name):
        return np.asarray(values[expr.name], dtype=float)
    if isinstance(expr, Unary):
        operand = _evaluate(expr.operand, values)
        return -operand if expr.op == "-" else operand
    if isinstance(expr, Call):
        return FUNCTIONS[expr.function](np.asarray(_evaluate(expr.argument, values), dtype=float))
    left, right = _evaluate(expr.left, values), _evaluate(expr.right, values)
    if expr.op == "+":
        return left + right
    if expr.op == "-":
        return left - right
    if expr.op == "*":
        return left * right
    if expr.op == "/":
        return np.divide(left, right)
    return np.power(left, right)


def evaluate_on_parameters(expr: Expr, labels: Sequence[str], theta: np.ndarray) -> np.ndarray:
    """Value of `expr` for parameter vectors `theta` (..., k) whose column j is `labels[j]`."""
    theta = np.asarray(theta, dtype=float)
    return evaluate(expr, {label: theta[..., j] for j, label in enumerate(labels)})


def render_expression(expr: Expr) -> str:
    """lavaan text of `expr` with only the parentheses the grammar needs."""
    if isinstance(expr, Number):
        return format_number(expr.value)
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Call):
        return f"{expr.function}({render_expression(expr.argument)})"
    if isinstance(expr, Unary):
        inner = render_expression(expr.operand)
        if _rank(expr.operand) <= _PRECEDENCE["unary"]:
            inner = f"({inner})"
        return f"{expr.op}{inner}"
    rank = _PRECEDENCE[expr.op]
    left, right = render_expression(expr.left), render_expression(expr.right)
    if expr.op == "^":
        left_parens = _rank(expr.left) <= rank
        right_parens = _rank(expr.right) < _PRECEDENCE["unary"]
        spaced = "^"
    else:
        left_parens = _rank(expr.left) < rank
        right_parens = _rank(expr.right) <= rank
        spaced = f" {expr.op} " if rank == 1 else expr.op
    left = f"({left})" if left_parens else left
    right = f"({right})" if right_parens else right
    return f"{left}{spaced}{right}"


def _rank(expr: Expr) -> int:
    if isinstance(expr, Binary):
        return _PRECEDENCE[expr.op]
    if isinstance(expr, Unary):
        return _PRECEDENCE["unary"]
    return _PRECEDENCE["atom"]


def format_number(value: float) -> str:
    """Shortest text that reads back as exactly `value` (``1`` rather than ``1.0``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text
