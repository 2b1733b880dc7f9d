"""lavaan model syntax -> `ParsedModel` (`parse_model`), every problem at once.

As in lavaan, an element given twice in one block is one element whose modifiers are merged
(``f =~ x3 + a*x3``). Every problem in the text is reported at once with its line and column;
operators bayeslead will never estimate (``<~``, ``~*~``, ``|~``, ``:~``, ``%``, ``efa()``)
are refused here, with what to do instead. Whether the rest can be estimated with the data,
the instrument and the engine at hand is `bayeslead.syntax.check`'s question.
"""

from __future__ import annotations

import math
from dataclasses import replace

from bayeslead.syntax.expressions import FUNCTIONS, Expr, evaluate, names, parse_expression
from bayeslead.syntax.lexer import (
    LavaanProblem,
    LavaanSyntaxError,
    Token,
    block_label,
    closes_at_end,
    did_you_mean,
    outside_parentheses,
    split_at,
    split_statements,
    tokenize,
)
from bayeslead.syntax.model import (
    BLOCK_KINDS,
    CONSTRAINT_OPS,
    FORMULA_OPS,
    MODIFIER_KINDS,
    NUMERIC_KINDS,
    RESERVED,
    UNSUPPORTED_OPS,
    Block,
    Constraint,
    Definition,
    Element,
    Modifier,
    ModifierKind,
    ParsedModel,
    Value,
)


def parse_model(
    text: str, source: str = "model", line_offset: int = 0, column_offset: int = 0
) -> ParsedModel:
    """Parse lavaan model syntax; raise `LavaanSyntaxError` listing every problem.

    `source` names the text in messages (e.g. ``configs/x.yaml: model``); the offsets shift
    positions to where the text sits in that file.
    """
    tokens, problems = tokenize(text, line_offset, column_offset, source)
    state = _State(source, problems)
    unreadable = {p.line for p in problems}  # reported once by the tokenizer, not again here
    for statement in split_statements(tokens):
        if any(t.line in unreadable for t in statement):
            continue
        try:
            state.statement(statement)
        except LavaanSyntaxError as exc:
            problems.extend(exc.problems)
    if not state.elements and not state.definitions and not problems:
        problems.append(
            LavaanProblem(1 + line_offset, 1, "the model syntax is empty", source=source)
        )
    if state.blocks:
        problems += [
            LavaanProblem(
                e.lhs_line,
                e.lhs_column,
                f"'{e.lhs} {e.op} {e.rhs}'".replace(" '", "'")
                + " comes before the first 'group:'/'level:' line: move it into a block",
                source=source,
            )
            for e in state.elements.values()
            if e.block == 0
        ]
    if any(p.severity == "error" for p in problems):
        raise LavaanSyntaxError(problems)
    return ParsedModel(
        tuple(state.elements.values()),
        tuple(state.definitions),
        tuple(state.constraints),
        tuple(state.blocks),
        tuple(problems),
    )


class _State:
    """What the parser has read so far, and the block in force."""

    def __init__(self, source: str, problems: list[LavaanProblem]):
        self.source, self.problems = source, problems
        self.elements: dict[tuple[str, str, str, int], Element] = {}
        self.definitions: list[Definition] = []
        self.constraints: list[Constraint] = []
        self.blocks: list[Block] = []
        self.group: str | None = None
        self.level: str | None = None

    def problem(self, tok: Token, message: str) -> LavaanSyntaxError:
        return LavaanSyntaxError([LavaanProblem(tok.line, tok.column, message, source=self.source)])

    def statement(self, tokens: list[Token]) -> None:
        ops = [t for t in outside_parentheses(tokens) if t.kind == "op" and _is_main(t.text)]
        if not ops:
            if len(tokens) >= 2 and tokens[1].is_op(":") and tokens[0].kind == "name":
                return self.block(tokens)
            raise self.problem(
                tokens[0],
                "no operator: expected a formula such as 'f =~ x1 + x2', 'y ~ x', 'a ~~ b', "
                "'y ~ 1', 'x | t1', 'ab := a*b' or a 'group:'/'level:' line",
            )
        op = ops[0]
        if len(ops) > 1:
            raise self.problem(
                ops[1],
                f"a second operator '{ops[1].text}' in one formula: end the formula "
                "before it (a newline or ';'), or remove a trailing '+' on the line above",
            )
        at = tokens.index(op)
        lhs, rhs = tokens[:at], tokens[at + 1 :]
        if op.text in UNSUPPORTED_OPS:
            raise self.problem(op, f"'{op.text}' is not supported: {UNSUPPORTED_OPS[op.text]}")
        if not lhs:
            raise self.problem(op, f"nothing on the left of '{op.text}'")
        if not rhs:
            raise self.problem(op, f"nothing on the right of '{op.text}'")
        if op.text == ":=":
            return self.definition(lhs, rhs)
        if op.text in CONSTRAINT_OPS:
            if op.text == "<" and rhs[0].is_op("-") and rhs[0].column == op.column + 1:
                raise self.problem(
                    op,
                    "'<-' is not lavaan syntax: define a parameter with ':=' "
                    "(e.g. 'ab := a*b'), or write '< -' for an inequality",
                )
            self.constraints.append(
                Constraint(self.expr(lhs), op.text, self.expr(rhs), op.line, op.column)
            )
            return None
        return self.formula(lhs, op, rhs)

    def expr(self, tokens: list[Token]) -> Expr:
        return parse_expression(tokens, self.source)

    def block(self, tokens: list[Token]) -> None:
        kind = tokens[0].text
        if kind.lower() not in BLOCK_KINDS:
            if kind.lower() in ("class", "block"):
                raise self.problem(
                    tokens[0],
                    f"'{kind}:' blocks are not supported: use 'group:' "
                    "(with data.group) or 'level:' (with data.cluster)",
                )
            raise self.problem(
                tokens[0],
                f"unknown block '{kind}:'{did_you_mean(kind, BLOCK_KINDS)}"
                " (blocks are 'group: LABEL' and 'level: 1' / 'level: 2')",
            )
        label = block_label(tokens[2:])
        if label is None:
            raise self.problem(
                tokens[0], f"expected '{kind}: LABEL' (one name, number or quoted text)"
            )
        kind = kind.lower()
        if kind == "group" and self.blocks and self.blocks[0].kind == "level":
            raise self.problem(
                tokens[0],
                "groups cannot be nested within levels: put 'group:' lines "
                "first and the 'level:' lines inside each group",
            )
        if kind == "group":
            self.group, self.level = label, None
        else:
            self.level = label
        self.blocks.append(Block(kind, label, tokens[0].line, tokens[0].column))

    def definition(self, lhs: list[Token], rhs: list[Token]) -> None:
        if len(lhs) != 1 or lhs[0].kind != "name":
            raise self.problem(lhs[0], "the left of ':=' must be one new parameter name")
        self.check_name(lhs[0])
        self.definitions.append(Definition(lhs[0].text, self.expr(rhs), lhs[0].line, lhs[0].column))

    def formula(self, lhs: list[Token], op: Token, rhs: list[Token]) -> None:
        lefts = split_at(lhs, "+", op, self.source)
        for term in lefts:
            if len(term) != 1 or term[0].kind != "name":
                what = (
                    "efa() blocks (exploratory factors) are not supported"
                    if (term[0].text == "efa")
                    else "modifiers go on the right-hand side ('f =~ a*x1'), not on the left"
                )
                raise self.problem(term[0], f"expected a variable name on the left: {what}")
            self.check_name(term[0])
        terms = [self.term(term, op) for term in split_at(rhs, "+", op, self.source)]
        for left in lefts:  # lavaan's order: each left-hand name with every term
            for name, rhs_text, modifiers in terms:
                self.add(left[0], op, name, rhs_text, modifiers)

    def term(self, term: list[Token], op: Token) -> tuple[Token, str, list[Modifier]]:
        """The variable of one right-hand term (its text) and its modifiers."""
        pieces, seps = [[]], []
        depth = 0
        for tok in term:
            depth += tok.is_op("(") - tok.is_op(")")
            if depth == 0 and tok.is_op("*", "?"):
                pieces.append([])
                seps.append(tok)
            else:
                pieces[-1].append(tok)
        var = pieces[-1]
        if any(not p for p in pieces):
            bad = seps[0] if not pieces[0] else seps[-1]
            raise self.problem(
                bad, f"'{bad.text}' needs a modifier on its left and a variable on its right"
            )
        modifiers = [
            self.modifier(piece, "start" if sep.text == "?" else None)
            for piece, sep in zip(pieces[:-1], seps, strict=True)
        ]
        return var[0], self.variable(var, op, modifiers), modifiers

    def variable(self, var: list[Token], op: Token, modifiers: list[Modifier]) -> str:
        head = var[0]
        if head.kind == "number" and len(var) == 1:
            if op.text == "~" and float(head.text) == 1:
                return ""
            if op.text == "~" and float(head.text) == 0 and not modifiers:  # lavaan: 'y ~ 0*1'
                modifiers.append(Modifier("fixed", (0.0,), head.line, head.column))
                return ""
            if op.text == "=~":
                raise self.problem(head, "phantom latent variables ('f =~ 0') are not supported")
            raise self.problem(
                head, f"a number here must be '1' (an intercept: 'y ~ 1'), not {head.text}"
            )
        if len(var) == 3 and var[1].is_op(":") and var[0].kind == var[2].kind == "name":
            if op.text != "~":
                raise self.problem(var[1], "interaction terms ('x:z') go on the right of '~' only")
            self.check_name(var[0])
            self.check_name(var[2])
            return f"{var[0].text}:{var[2].text}"
        if len(var) > 3 and var[1].is_op(":") and var[3].is_op(":"):
            raise self.problem(
                var[3],
                "three-way interactions are not supported: add the product as a data "
                "column, or write the two-way terms",
            )
        if len(var) != 1 or head.kind != "name":
            if len(var) >= 2 and head.kind == var[1].kind == "name":
                raise self.problem(
                    var[1], f"missing '+' or '*' between '{head.text}' and '{var[1].text}'"
                )
            raise self.problem(head, "expected a variable name (or modifier*variable)")
        if head.text == ".":
            if op.text != "=~" or modifiers:
                raise self.problem(head, "'.' (the instrument's items) is only allowed as 'F =~ .'")
            return "."
        self.check_name(head)
        if op.text == "|" and not (head.text[:1] == "t" and head.text[1:].isdigit()):
            raise self.problem(head, f"thresholds are named t1, t2, ... (got '{head.text}')")
        return head.text

    def modifier(self, piece: list[Token], kind: ModifierKind | None) -> Modifier:
        """One modifier: a number, NA, a label, c(...), or label/equal/start/fixed/...(...)."""
        head = piece[0]
        if head.kind == "name" and len(piece) > 1 and piece[1].is_op("(") and piece[-1].is_op(")"):
            fname = head.text
            if fname in MODIFIER_KINDS or fname == "c":
                values = self.values(piece[2:-1], head)
                chosen = kind or (fname if fname != "c" else None)
                return self.typed(chosen, values, head)
            if fname == "efa":
                raise self.problem(head, "efa() blocks (exploratory factors) are not supported")
            if fname not in FUNCTIONS:
                known = (*MODIFIER_KINDS, "c", *FUNCTIONS)
                raise self.problem(
                    head, f"unknown modifier '{fname}()'{did_you_mean(fname, known)}"
                )
        values = self.values(piece, head)
        return self.typed(kind, values, head)

    def values(self, tokens: list[Token], head: Token) -> list[Value]:
        """Comma-separated values (flattening one ``c(...)``); NA -> None, names -> str."""
        if not tokens:
            raise self.problem(head, "empty modifier")
        if (
            len(tokens) > 2
            and tokens[0].kind == "name"
            and tokens[0].text == "c"
            and (tokens[1].is_op("(") and closes_at_end(tokens[1:]))
        ):
            tokens = tokens[2:-1]
        out: list[Value] = []
        for part in split_at(tokens, ",", head, self.source):
            if len(part) == 1 and part[0].kind in ("name", "string"):
                out.append(
                    None if part[0].text == "NA" and part[0].kind == "name" else part[0].text
                )
                continue
            expr = self.expr(part)
            if names(expr):
                bad = names(expr)[0]
                known = (*MODIFIER_KINDS, "c")
                raise self.problem(
                    part[0],
                    f"a modifier must be a number, NA, a label, c(...) or one of "
                    f"{', '.join(k + '()' for k in known if k != 'c')}; '{bad.name}' "
                    f"cannot be used here{did_you_mean(part[0].text, known)}",
                )
            value = float(evaluate(expr, {}))
            if not math.isfinite(value):
                raise self.problem(part[0], "a fixed value must be a finite number")
            out.append(value)
        return out

    def typed(self, kind: ModifierKind | None, values: list[Value], head: Token) -> Modifier:
        has_num = any(isinstance(v, float) for v in values)
        has_str = any(isinstance(v, str) for v in values)
        if has_num and has_str:
            raise self.problem(head, "a modifier mixes numbers and labels")
        if kind is None:
            kind = "label" if has_str else "fixed"
        if kind in NUMERIC_KINDS and has_str:
            raise self.problem(head, f"{kind}() needs numbers (or NA)")
        if kind not in NUMERIC_KINDS and has_num:
            raise self.problem(head, f"{kind}() needs names or quoted strings")
        if kind in ("label", "equal"):
            for v in values:
                if isinstance(v, str) and v in RESERVED:
                    raise self.problem(head, f"'{v}' cannot be a label")
        return Modifier(kind, tuple(values), head.line, head.column)

    def add(self, lhs: Token, op: Token, var: Token, rhs: str, modifiers: list[Modifier]) -> None:
        real_op = "~1" if op.text == "~" and rhs == "" else op.text
        if real_op == "~" and rhs == lhs.text:
            raise self.problem(var, f"'{lhs.text}' cannot be regressed on itself")
        block = len(self.blocks)
        key = (lhs.text, real_op, rhs, block)
        old = self.elements.get(key)
        merged = {m.kind: m for m in (old.modifiers if old else ())}
        for m in modifiers:
            if m.kind in merged:
                self.problems.append(
                    LavaanProblem(
                        m.line,
                        m.column,
                        f"{m.kind} of '{lhs.text} {real_op} {rhs}'".rstrip()
                        + " given twice; this one is used",
                        "warning",
                        self.source,
                    )
                )
            merged[m.kind] = m
        ordered = tuple(merged[k] for k in MODIFIER_KINDS if k in merged)
        if old is not None:
            self.elements[key] = replace(old, modifiers=ordered)
        else:
            self.elements[key] = Element(
                lhs.text, real_op, rhs, ordered, block, self.group, self.level,
                line=var.line, column=var.column, lhs_line=lhs.line, lhs_column=lhs.column,
            )  # fmt: skip

    def check_name(self, tok: Token) -> None:
        if (
            tok.text in RESERVED
            or tok.text[0] == "_"
            or (tok.text[0] == "." and tok.text[1:2].isdigit())
        ):
            raise self.problem(tok, f"'{tok.text}' cannot be a variable or parameter name")


def _is_main(op: str) -> bool:
    return op in FORMULA_OPS or op in CONSTRAINT_OPS or op == ":=" or op in UNSUPPORTED_OPS
