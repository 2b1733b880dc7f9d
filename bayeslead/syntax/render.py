"""A parsed lavaan model back to lavaan syntax, in one canonical form.

Block lines in order, one formula per run of elements sharing lhs and op
(``f =~ x1 + a*x2``), modifiers in a fixed order (fixed, label, equal, start, lower, upper,
prior, rv), numbers in their shortest exact form, then constraints and ``:=`` definitions.
``parse_model(render_model(m)) == m`` for every parse result `m`, and the rendering is a
fixed point.
"""

from __future__ import annotations

from bayeslead.syntax.expressions import format_number, render_expression
from bayeslead.syntax.lexer import tokenize
from bayeslead.syntax.model import MODIFIER_KINDS, RESERVED, Element, Modifier, ParsedModel, Value


def render_model(model: ParsedModel) -> str:
    """lavaan syntax of `model`: block lines, one formula per run of elements sharing lhs and
    op (``f =~ x1 + a*x2``), then constraints and ``:=`` definitions."""
    lines: list[str] = []
    by_block: dict[int, list[Element]] = {}
    for e in model.elements:
        by_block.setdefault(e.block, []).append(e)
    for index in range(len(model.blocks) + 1):
        if index > 0:
            b = model.blocks[index - 1]
            lines.append(f"{b.kind}: {_label_text(b.label, block=True)}")
        run: list[Element] = []
        for e in [*by_block.get(index, []), None]:
            if run and (e is None or (e.lhs, e.op) != (run[0].lhs, run[0].op)):
                lines.append(_formula(run))
                run = []
            if e is not None:
                run.append(e)
    lines += [
        f"{render_expression(c.lhs)} {c.op} {render_expression(c.rhs)}" for c in model.constraints
    ]
    lines += [f"{d.name} := {render_expression(d.expr)}" for d in model.definitions]
    return "\n".join(lines) + "\n"


def _formula(run: list[Element]) -> str:
    op = "~" if run[0].op == "~1" else run[0].op
    terms = []
    for e in run:
        var = "1" if e.op == "~1" else e.rhs
        terms.append("".join(f"{_modifier_text(m)}*" for m in e.modifiers) + var)
    return f"{run[0].lhs} {op} {' + '.join(terms)}"


def _modifier_text(m: Modifier) -> str:
    parts = [_value_text(v, m.kind) for v in m.values]
    inner = parts[0] if len(parts) == 1 else f"c({', '.join(parts)})"
    plain = any(isinstance(v, str) for v in m.values) and all(_is_plain(v) for v in m.values)
    if m.kind == "fixed" or (m.kind == "label" and plain):
        return inner
    return f"{m.kind}({inner})"


def _value_text(v: Value, kind: str) -> str:
    if v is None:
        return "NA"
    if isinstance(v, float):
        return format_number(v)
    return v if kind == "label" and _is_plain(v) else _label_text(v, block=False)


def _is_plain(v: Value) -> bool:
    """A label that reads back as a bare name (``a``, ``x9.group1``)."""
    if not isinstance(v, str) or not v or v in RESERVED or v in MODIFIER_KINDS:
        return v is None
    tokens, problems = tokenize(v)
    return not problems and len(tokens) == 2 and tokens[0].kind == "name" and v[0] != "_"


def _label_text(v: str, block: bool) -> str:
    """Quoted text; block labels stay bare when they can (lavaan 0.6-14 keeps the quotes)."""
    if block and v and not any(c.isspace() or c in "\"'#!;:" for c in v):
        return v
    return f"'{v}'" if '"' in v else f'"{v}"'
