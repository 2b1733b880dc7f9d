"""lavaan model syntax: read it (`parse_model`), write it (`render_model`), check it against the
data, the instrument and an engine (`check_model`), and evaluate ``:=`` definitions.

Modules: `lexer` (tokens, formulas, located problems), `expressions` (the closed ``:=``/``==``
arithmetic), `model` (the parse result), `parser`, `render`, `check`. The package depends on
nothing else in bayeslead; `bayeslead.core.from_syntax` turns a parse into a ModelSpec.
"""

from bayeslead.syntax.check import Capabilities, ModelContext, check_model
from bayeslead.syntax.lexer import LavaanProblem, LavaanSyntaxError
from bayeslead.syntax.model import (
    Block,
    Constraint,
    Definition,
    Element,
    Modifier,
    ParsedModel,
    evaluate_definitions,
)
from bayeslead.syntax.parser import parse_model
from bayeslead.syntax.render import render_model
from bayeslead.syntax.shorthand import expand_instrument

__all__ = [
    "Block",
    "Capabilities",
    "Constraint",
    "Definition",
    "Element",
    "LavaanProblem",
    "LavaanSyntaxError",
    "ModelContext",
    "Modifier",
    "ParsedModel",
    "check_model",
    "evaluate_definitions",
    "expand_instrument",
    "parse_model",
    "render_model",
]
