"""Tokens of lavaan model syntax, statements, and located problems.

lavaan's lexical rules (``lav_syntax_parser.R``): ``#`` and ``!`` start comments, ``;`` separates
formulas like a newline, names are R names (letters, digits, ``_`` and ``.``), strings are
quoted. A formula continues on the next line when its line ends with an operator or ``+`` (or
the next line starts with one), or while a parenthesis is open.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

TokenKind = Literal["name", "number", "string", "op", "newline"]
Severity = Literal["error", "warning"]

# longest first, so that "~~" is not read as two "~"
OPERATORS = (
    "~*~", "=~", "<~", "~~", "|~", ":~", "==", ":=", "~", "<", ">", "|", ":", "%",
    "*", "?", "+", "-", "/", "^", "(", ")", ",",
)  # fmt: skip
# a line ending in one of these (or the next line starting with one) continues the formula
CONTINUATION = frozenset(
    ("~*~", "=~", "<~", "~~", "|~", ":~", "==", ":=", "~", "<", ">", "|", "%",
     "*", "?", "+", "-", "/", "^", ",")
)  # fmt: skip


@dataclass(frozen=True)
class LavaanProblem:
    """One finding about model syntax: where it is (1-based line and column) and what is wrong.

    Shaped like ``bayeslead.errors.Problem`` (``where``, ``message``, ``severity``) so that a
    caller can hand it on unchanged.
    """

    line: int
    column: int
    message: str
    severity: Severity = "error"
    source: str = "model"

    @property
    def where(self) -> str:
        return f"{self.source} line {self.line}, column {self.column}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class LavaanSyntaxError(ValueError):
    """Model syntax that cannot be used; `problems` lists every error found."""

    def __init__(self, problems: Sequence[LavaanProblem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        noun = "problem" if len(errors) == 1 else "problems"
        lines = [f"the model syntax has {len(errors)} {noun}:"] + [f"  - {p}" for p in errors]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Token:
    """A lexical unit with its position; `text` is the string's content for strings."""

    kind: TokenKind
    text: str
    line: int = field(compare=False)
    column: int = field(compare=False)

    def is_op(self, *texts: str) -> bool:
        return self.kind == "op" and self.text in texts


def did_you_mean(name: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of `options`, or ``""``."""
    hint = difflib.get_close_matches(name, sorted(set(options)), n=1, cutoff=0.6)
    return f"; did you mean '{hint[0]}'?" if hint else ""


def tokenize(
    text: str, line_offset: int = 0, column_offset: int = 0, source: str = "model"
) -> tuple[list[Token], list[LavaanProblem]]:
    """Split `text` into tokens; problems for characters that are not lavaan syntax.

    `line_offset` and `column_offset` shift reported positions, e.g. to the line of a
    ``model: |`` block in a YAML file and the block's indentation.
    """
    tokens: list[Token] = []
    problems: list[LavaanProblem] = []
    text = text.replace("\u02dc", "~")  # lavaan: 'strange' tildes of some locales
    for row, line in enumerate(text.splitlines(), start=1 + line_offset):
        i = 0
        while i < len(line):
            ch, col = line[i], i + 1 + column_offset
            if ch in " \t\r\f":
                i += 1
            elif ch in "#!":
                break
            elif ch == ";":
                tokens.append(Token("newline", ";", row, col))
                i += 1
            elif ch in "\"'":
                end = line.find(ch, i + 1)
                if end < 0:
                    problems.append(LavaanProblem(row, col, "unterminated string", source=source))
                    break
                tokens.append(Token("string", line[i + 1 : end], row, col))
                i = end + 1
            elif ch.isdigit() or (ch == "." and line[i + 1 : i + 2].isdigit()):
                j = _number_end(line, i)
                tokens.append(Token("number", line[i:j], row, col))
                i = j
            elif ch.isalpha() or ch in "_.":
                j = i + 1
                while j < len(line) and (line[j].isalnum() or line[j] in "_."):
                    j += 1
                tokens.append(Token("name", line[i:j], row, col))
                i = j
            else:
                op = next((o for o in OPERATORS if line.startswith(o, i)), None)
                if op is None:
                    problems.append(LavaanProblem(row, col, _unexpected(ch), source=source))
                    i += 1
                    continue
                tokens.append(Token("op", op, row, col))
                i += len(op)
        tokens.append(Token("newline", "\n", row, len(line) + 1 + column_offset))
    return tokens, problems


def _number_end(line: str, i: int) -> int:
    """End of the number starting at `i`: digits, one '.', an optional exponent."""
    j = i
    while j < len(line) and (line[j].isdigit() or line[j] == "."):
        j += 1
    if j < len(line) and line[j] in "eE":
        k = j + 1 + (line[j + 1 : j + 2] in ("+", "-"))
        if line[k : k + 1].isdigit():
            j = k
            while j < len(line) and line[j].isdigit():
                j += 1
    return j


def _unexpected(ch: str) -> str:
    if ch == "=":
        return (
            "unexpected '='; did you mean '=~' (is measured by), '==' (equality constraint) "
            "or ':=' (defined parameter)?"
        )
    return f"unexpected character {ch!r}"


def split_statements(tokens: Sequence[Token]) -> list[list[Token]]:
    """Group tokens into formulas: a newline or ';' ends one unless the formula continues.

    A formula continues while a parenthesis is open, when its last token is an operator
    (``f =~ x1 +`` newline ``x2``) and when the next line starts with one
    (``f =~ x1`` newline ``+ x2``).
    """
    statements: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for k, tok in enumerate(tokens):
        if tok.kind != "newline":
            depth += tok.is_op("(") - tok.is_op(")")
            current.append(tok)
            continue
        if not current:
            continue
        nxt = next((t for t in tokens[k + 1 :] if t.kind != "newline"), None)
        ends_open = current[-1].kind == "op" and current[-1].text in CONTINUATION
        next_continues = nxt is not None and nxt.kind == "op" and nxt.text in CONTINUATION
        if depth > 0 or (ends_open and nxt is not None) or next_continues:
            continue
        statements.append(current)
        current, depth = [], 0
    if current:
        statements.append(current)
    return statements


def outside_parentheses(tokens: Sequence[Token]) -> list[Token]:
    """The tokens outside parentheses."""
    out, depth = [], 0
    for tok in tokens:
        depth -= tok.is_op(")")
        if depth == 0:
            out.append(tok)
        depth += tok.is_op("(")
    return out


def block_label(tokens: Sequence[Token]) -> str | None:
    """A block label: one token, or unquoted text without spaces (lavaan: ``group: Grant-White``)."""
    if len(tokens) == 1 and tokens[0].kind in ("name", "number", "string"):
        return tokens[0].text
    if not tokens or any(t.kind == "string" or t.line != tokens[0].line for t in tokens):
        return None
    for a, b in zip(tokens, tokens[1:], strict=False):
        if b.column != a.column + len(a.text):
            return None
    return "".join(t.text for t in tokens)


def closes_at_end(tokens: Sequence[Token]) -> bool:
    """Whether the '(' at tokens[0] is closed by the last token."""
    depth = 0
    for k, tok in enumerate(tokens):
        depth += tok.is_op("(") - tok.is_op(")")
        if depth == 0:
            return k == len(tokens) - 1
    return False


def split_at(
    tokens: Sequence[Token], sep: str, anchor: Token, source: str = "model"
) -> list[list[Token]]:
    """Split at `sep` outside parentheses; an empty part is a problem."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        depth += tok.is_op("(") - tok.is_op(")")
        if depth == 0 and tok.is_op(sep):
            if not parts[-1]:
                raise _located(tok, f"missing term before '{sep}'", source)
            parts.append([])
        else:
            parts[-1].append(tok)
    if depth != 0:
        raise _located(anchor, "unbalanced parentheses", source)
    if not parts[-1]:
        where = tokens[-1] if tokens else anchor
        raise _located(where, f"missing term after '{sep}'", source)
    return parts


def _located(tok: Token, message: str, source: str) -> LavaanSyntaxError:
    return LavaanSyntaxError([LavaanProblem(tok.line, tok.column, message, source=source)])
