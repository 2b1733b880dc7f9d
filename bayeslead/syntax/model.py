"""The parse result of lavaan model syntax (what lavaan's ``lavParseModelString`` returns).

One `Element` per formula element (``f =~ x1 + x2`` gives two; ``y1 + y2 ~ x`` gives two), each
with its modifiers, its block (``group:`` / ``level:``) and its position; `Definition` rows for
``:=`` and `Constraint` rows for ``==``, ``<``, ``>``. Positions never take part in ``==``.
`bayeslead.syntax.parser.parse_model` builds it, `bayeslead.syntax.render.render_model` writes
it back as lavaan syntax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bayeslead.syntax.expressions import Expr, evaluate
from bayeslead.syntax.lexer import LavaanProblem

FORMULA_OPS = ("=~", "~", "~~", "|")
CONSTRAINT_OPS = ("==", "<", ">")
UNSUPPORTED_OPS = {
    "<~": "composites (formative constructs) are not estimated by bayeslead; measure the "
    "construct reflectively ('F =~ x1 + x2 + ...') or add a weighted score to the data and "
    "use it as an observed variable",
    "~*~": "scaling factors belong to lavaan's delta parameterisation of ordinal indicators; "
    "bayeslead's ordinal model (bayes.indicators: ordinal) fixes the latent-response "
    "scale itself: remove this line",
    "|~": "instrumental-variable formulas (lavaan's '|~', for MIIV estimation) are not "
    "supported; remove this line",
    ":~": "data-defined parameters (':~') are not supported; for a moderated path write an "
    "interaction term on the right of '~' (e.g. 'y ~ x + z + x:z')",
    "%": "group weights ('%') are not estimated; remove this line",
}
BLOCK_KINDS = ("group", "level")
ModifierKind = Literal["fixed", "label", "equal", "start", "lower", "upper", "prior", "rv"]
MODIFIER_KINDS: tuple[ModifierKind, ...] = (
    "fixed", "label", "equal", "start", "lower", "upper", "prior", "rv",
)  # fmt: skip
NUMERIC_KINDS = frozenset(("fixed", "start", "lower", "upper"))
RESERVED = frozenset(
    ("if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE", "NULL")
    + ("Inf", "NaN", "NA")
)
Value = float | str | None


@dataclass(frozen=True)
class Modifier:
    """A ``*`` modifier of one element: its kind and one value, or one per group (``c(...)``).

    ``fixed`` values are numbers, or None for NA (``NA*x`` frees a parameter); ``label``,
    ``equal``, ``prior`` and ``rv`` values are strings (None: no label in that group).
    """

    kind: ModifierKind
    values: tuple[Value, ...]
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    @property
    def per_group(self) -> bool:
        return len(self.values) > 1


@dataclass(frozen=True)
class Element:
    """One formula element in lavaan's ``lhs op rhs`` notation.

    `op` is ``=~``, ``~``, ``~~``, ``~1`` (intercept; `rhs` is ``""``) or ``|`` (threshold;
    `rhs` is ``t1``, ``t2``, ...); an interaction term on the right of ``~`` is ``x:z``.
    `block` counts ``group:`` / ``level:`` lines (0 when there are none), `group` and `level`
    are the labels in force. `line`/`column` locate the right-hand term, `lhs_line`/
    `lhs_column` the left-hand name (of the first occurrence, when given twice).
    """

    lhs: str
    op: str
    rhs: str
    modifiers: tuple[Modifier, ...] = ()
    block: int = 0
    group: str | None = None
    level: str | None = None
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)
    lhs_line: int = field(default=0, compare=False)
    lhs_column: int = field(default=0, compare=False)

    def modifier(self, kind: ModifierKind) -> Modifier | None:
        return next((m for m in self.modifiers if m.kind == kind), None)

    @property
    def label(self) -> tuple[Value, ...]:
        m = self.modifier("label")
        return m.values if m else ()

    @property
    def fixed(self) -> tuple[Value, ...]:
        """Fixed values (None where ``NA`` frees the parameter); ``()`` without a modifier."""
        m = self.modifier("fixed")
        return m.values if m else ()

    @property
    def freed(self) -> bool:
        """``NA*x``: the parameter is free even where lavaan would fix it (a marker loading)."""
        return bool(self.fixed) and all(v is None for v in self.fixed)

    @property
    def key(self) -> str:
        """lavaan's automatic parameter name, e.g. ``f=~x1``, ``y~1`` (the target of ``equal()``)."""
        return f"{self.lhs}{self.op}{self.rhs}"


@dataclass(frozen=True)
class Definition:
    """``name := expression`` (a defined parameter)."""

    name: str
    expr: Expr
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Constraint:
    """``lhs == rhs``, ``lhs < rhs`` or ``lhs > rhs`` between expressions of labels."""

    lhs: Expr
    op: str
    rhs: Expr
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Block:
    """A ``group: label`` or ``level: label`` line."""

    kind: str
    label: str
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ParsedModel:
    elements: tuple[Element, ...]
    definitions: tuple[Definition, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    blocks: tuple[Block, ...] = ()
    warnings: tuple[LavaanProblem, ...] = field(default=(), compare=False)

    @property
    def latent(self) -> tuple[str, ...]:
        """Names defined by ``=~`` in order of appearance."""
        return tuple(dict.fromkeys(e.lhs for e in self.elements if e.op == "=~"))

    @property
    def labels(self) -> tuple[str, ...]:
        """Every user label (``label``/``equal`` modifiers excluded), in order of appearance."""
        found = (v for e in self.elements for v in e.label if isinstance(v, str))
        return tuple(dict.fromkeys(found))


def evaluate_definitions(
    definitions: Sequence[Definition], values: Mapping[str, np.ndarray | float]
) -> dict[str, np.ndarray]:
    """Every ``:=`` parameter from label values (scalars, or arrays over draws/replicates); a
    definition may use the ones before it (``contrast := ind1 - ind2``)."""
    known: dict[str, np.ndarray | float] = dict(values)
    out: dict[str, np.ndarray] = {}
    for d in definitions:
        out[d.name] = known[d.name] = evaluate(d.expr, known)
    return out
