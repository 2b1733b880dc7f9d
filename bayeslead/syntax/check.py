"""Can bayeslead estimate a parsed lavaan model with these data, this instrument and this engine?

`check_model` returns every problem at once, each with
its line and column and, for unknown names, a did-you-mean over the data columns, the model's
constructs and the instrument's ids. What an engine can estimate is its `Capabilities`, declared
by the engine itself, so the checker never promises more than the engines do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bayeslead.syntax.expressions import Expr, Name, Number, Unary, names, render_expression
from bayeslead.syntax.lexer import LavaanProblem, Severity, did_you_mean
from bayeslead.syntax.model import Element, ParsedModel

LEVELS = {"1": 1, "within": 1, "2": 2, "between": 2}


@dataclass(frozen=True)
class Capabilities:
    """What one engine estimates beyond loadings, regressions, (co)variances, zero-fixed
    parameters and ``:=`` definitions, which every engine must."""

    equality: bool = True  # shared labels, 'a == b', 'a == 0.5'
    fixed_values: bool = True  # fixed values other than 0 (and the marker's 1), 'NA*' freeing
    intercepts: bool = True  # '~ 1' (a mean structure)
    thresholds: bool = False  # 'x | t1 + t2' (ordinal indicators)
    nonlinear_equality: bool = False  # 'a == 2*b - 1'
    interactions: bool = False  # 'y ~ x:z'
    groups: bool = False  # 'group:' blocks, c(...) modifiers
    levels: bool = False  # 'level:' blocks
    priors: bool = False  # prior("normal(0, 1)")
    random_slopes: bool = False  # rv("s")
    item_regressions: bool = False  # an indicator as an outcome ('x1 ~ z')
    engine: str = "engine"


@dataclass(frozen=True)
class ModelContext:
    """What the model is checked against.

    `columns` are the data's columns (after ``data.columns`` renaming); `constructs` maps an
    instrument construct or dimension id to its items (or, for a second-order construct, its
    dimension ids); `groups` are the values of ``data.group`` (`grouped`: it is set, its values
    not yet read, so the number of ``c(...)`` values is checked at the fit); `clustered` says
    whether ``data.cluster`` is set and `ordinal` whether the indicators are ordinal.
    """

    columns: frozenset[str]
    constructs: Mapping[str, Sequence[str]] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    clustered: bool = False
    ordinal: bool = False
    capabilities: Capabilities = Capabilities()
    grouped: bool = False


def check_model(
    model: ParsedModel, context: ModelContext, source: str = "model"
) -> list[LavaanProblem]:
    """Every reason `model` cannot be estimated as asked (errors) and warnings, in text order."""
    checker = _Checker(model, context, source)
    checker.variables()
    checker.modifiers()
    checker.operators()
    checker.blocks()
    checker.definitions()
    return sorted(checker.problems, key=lambda p: (p.line, p.column))


class _Checker:
    def __init__(self, model: ParsedModel, context: ModelContext, source: str):
        self.model, self.context, self.source = model, context, source
        self.caps = context.capabilities
        self.problems: list[LavaanProblem] = []
        self.latent = set(model.latent)
        self.items = {e.rhs for e in model.elements if e.op == "=~" and e.rhs not in self.latent}

    def add(self, line: int, column: int, message: str, severity: Severity = "error") -> None:
        self.problems.append(LavaanProblem(line, column, message, severity, self.source))

    def refuse(self, e: Element, what: str, capable: bool, instead: str) -> bool:
        if not capable:
            self.add(e.line, e.column, f"{what} not estimated by {self.caps.engine}: {instead}")
        return capable

    def variables(self) -> None:
        columns, seen = self.context.columns, set()
        known = columns | self.latent | set(self.context.constructs)
        for e in self.model.elements:
            if e.op == "=~" and e.lhs in columns and e.lhs not in seen:
                seen.add(e.lhs)
                self.add(
                    e.lhs_line,
                    e.lhs_column,
                    f"'{e.lhs}' is a data column: '{e.lhs} =~ ...' would "
                    "make an observed variable a factor, which bayeslead does not estimate; give "
                    f"the construct its own name (e.g. '{e.lhs}_f =~ ...')",
                )
            if e.op == "=~" and e.rhs == ".":
                self.add(e.line, e.column, f"'{e.lhs} =~ .' needs an instrument (instrument:)")
            names = [(e.lhs, e.lhs_line, e.lhs_column)]
            if e.op in ("=~", "~", "~~"):
                names += [(n, e.line, e.column) for n in e.rhs.split(":") if n != "."]
            for name, line, column in names:
                if name in seen or name in self.latent or name in columns:
                    continue
                seen.add(name)
                if name in self.context.constructs:
                    hint = f"; it is an instrument construct: write '{name} =~ .' to measure it with its items"
                else:
                    hint = did_you_mean(name, known)
                self.add(
                    line,
                    column,
                    f"unknown variable '{name}' (not a data column or a construct){hint}",
                )
            if e.op == "~~" and e.lhs != e.rhs and (e.lhs in self.items) != (e.rhs in self.items):
                self.add(
                    e.line,
                    e.column,
                    f"'{e.lhs} ~~ {e.rhs}' pairs an indicator with a "
                    "non-indicator: covariances are between two items (residuals) or two constructs",
                )
            if e.op == "~" and ":" in e.rhs:
                self.refuse(
                    e,
                    f"the interaction '{e.rhs}' is",
                    self.caps.interactions,
                    "latent interactions need engine: sem or engine: bayes",
                )
            if e.op == "~" and e.lhs in self.items:
                self.refuse(
                    e,
                    f"regressing the indicator '{e.lhs}' is",
                    self.caps.item_regressions,
                    "regress its construct instead",
                )

    def modifiers(self) -> None:
        groups = self.context.groups
        user_labels = set(self.model.labels)
        keys = {e.key for e in self.model.elements}
        variables = self.latent | self.context.columns
        fixed_labels: dict[str, bool] = {}
        warned: set[str] = set()
        markers = {e.lhs: e.rhs for e in reversed(self.model.elements) if e.op == "=~"}
        for e in self.model.elements:
            default = (1.0,) if markers.get(e.lhs) == e.rhs and e.op == "=~" else (0.0,)
            fixed = e.modifier("fixed")
            if (
                fixed is not None
                and not self.caps.fixed_values
                and set(fixed.values) - {0.0, *default}
            ):
                what = "freeing ('NA*')" if None in fixed.values else "fixed values other than 0"
                self.add(
                    fixed.line,
                    fixed.column,
                    f"{what} not estimated by {self.caps.engine}: its parameters live on a "
                    "standardised scale (use engine: sem, or remove the modifier)",
                )
            for m in e.modifiers:
                if m.per_group and e.group is not None:
                    self.add(m.line, m.column, "inside a 'group:' block give one value, not c(...)")
                elif m.per_group and not (groups or self.context.grouped):
                    self.add(
                        m.line,
                        m.column,
                        "c(...) gives one value per group, but data.group is not set",
                    )
                elif m.per_group and groups and len(m.values) != len(groups):
                    self.add(
                        m.line,
                        m.column,
                        f"c(...) has {len(m.values)} values for "
                        f"{len(groups)} groups ({', '.join(groups)})",
                    )
                if m.kind in ("lower", "upper"):
                    self.add(
                        m.line,
                        m.column,
                        f"{m.kind}() bounds are not supported: variances "
                        "stay positive by construction; test an inequality as a hypothesis",
                    )
                if m.kind == "prior" and not self.caps.priors:
                    self.add(
                        m.line,
                        m.column,
                        f"prior() is not used by {self.caps.engine}; priors need engine: bayes",
                    )
                if m.kind == "rv" and not (self.caps.random_slopes and self.context.clustered):
                    self.add(
                        m.line,
                        m.column,
                        "rv() random slopes need engine: bayes with "
                        "data.cluster (or use bayes.random_slopes)",
                    )
                for target in m.values if m.kind == "equal" else ():
                    if target not in user_labels and target not in keys:
                        self.add(
                            m.line,
                            m.column,
                            f"equal('{target}') names no label or "
                            f"parameter{did_you_mean(str(target), user_labels | keys)}",
                        )
            for label in e.label:
                if label is None:
                    continue
                if label in variables:
                    m = e.modifier("label")
                    self.add(m.line, m.column, f"the label '{label}' is also a variable name")
                is_fixed = any(v is not None for v in e.fixed)
                if fixed_labels.setdefault(label, is_fixed) != is_fixed:
                    m = e.modifier("label")
                    self.add(
                        m.line,
                        m.column,
                        f"the label '{label}' is shared by a fixed and a free parameter",
                    )
            single = e.modifier("label")
            shared = single is not None and not single.per_group and single.values[0] is not None
            if groups and e.group is None and shared and single.values[0] not in warned:
                warned.add(single.values[0])
                self.add(
                    single.line,
                    single.column,
                    f"the label '{single.values[0]}' holds in all {len(groups)} groups, making "
                    "the parameter equal across them; use c(...) for one label per group",
                    "warning",
                )
            shared = [v for v in e.label if v is not None and self.label_count(v) > 1]
            if not self.caps.equality and (shared or e.modifier("equal")):
                m = e.modifier("label") if shared else e.modifier("equal")
                self.add(
                    m.line,
                    m.column,
                    f"equality constraints are not estimated by {self.caps.engine}",
                )

    def label_count(self, label: str) -> int:
        """How many elements carry `label` (more than one makes them equal)."""
        return sum(label in e.label for e in self.model.elements)

    def operators(self) -> None:
        thresholds: dict[tuple[str, int], list[Element]] = {}
        for e in self.model.elements:
            if e.op == "~1":
                self.refuse(
                    e,
                    "intercepts and means ('~ 1') are",
                    self.caps.intercepts,
                    "remove the line (the engine centres the data)",
                )
            if e.op == "|":
                thresholds.setdefault((e.lhs, e.block), []).append(e)
        for (lhs, _), rows in thresholds.items():
            e = rows[0]
            if not self.context.ordinal:
                self.add(
                    e.line,
                    e.column,
                    f"thresholds of '{lhs}' need ordinal indicators (bayes.indicators: ordinal)",
                )
                continue
            if not self.refuse(e, "thresholds are", self.caps.thresholds, "use engine: bayes"):
                continue
            numbers = sorted(int(r.rhs[1:]) for r in rows)
            if numbers != list(range(1, len(numbers) + 1)):
                self.add(
                    e.line,
                    e.column,
                    f"thresholds of '{lhs}' must be t1..t{len(numbers)} without gaps",
                )

    def blocks(self) -> None:
        groups, blocks = self.context.groups, self.model.blocks
        seen: dict[str | None, list[str]] = {}
        current = None
        for b in blocks:
            if b.kind == "group":
                current = b.label
                if not (groups and self.caps.groups):
                    need = "data.group" if not groups else f"a multi-group {self.caps.engine}"
                    self.add(b.line, b.column, f"'group:' blocks need {need}")
                elif b.label not in groups:
                    self.add(
                        b.line,
                        b.column,
                        f"unknown group '{b.label}'"
                        f"{did_you_mean(b.label, groups)}; groups: {', '.join(groups)}",
                    )
                elif b.label in seen:
                    self.add(b.line, b.column, f"group '{b.label}' has two blocks")
                seen.setdefault(b.label, [])
            else:
                level = LEVELS.get(b.label.lower())
                if level is None:
                    self.add(
                        b.line,
                        b.column,
                        f"unknown level '{b.label}'"
                        f"{did_you_mean(b.label, LEVELS)}: use 1/within or 2/between",
                    )
                elif not (self.context.clustered and self.caps.levels):
                    need = (
                        "data.cluster"
                        if not self.context.clustered
                        else f"a two-level {self.caps.engine}"
                    )
                    self.add(b.line, b.column, f"'level:' blocks need {need}")
                elif str(level) in seen.setdefault(current, []):
                    self.add(b.line, b.column, f"level {level} is given twice")
                else:
                    seen[current].append(str(level))
        named = [b.label for b in blocks if b.kind == "group"]
        if named and groups and self.caps.groups:
            missing = [g for g in groups if g not in named]
            if missing:
                b = blocks[0]
                self.add(b.line, b.column, f"no 'group:' block for {', '.join(missing)}")

    def definitions(self) -> None:
        labels = set(self.model.labels)
        taken = labels | self.latent | self.context.columns
        defined: set[str] = set()
        for d in self.model.definitions:
            if d.name in taken or d.name in defined:
                self.add(
                    d.line,
                    d.column,
                    f"'{d.name}' is already a label, variable or defined parameter",
                )
            for n in [n for n in names(d.expr) if n.name not in labels | defined]:
                self.add(
                    n.line,
                    n.column,
                    f"unknown label '{n.name}'{did_you_mean(n.name, labels | defined)}",
                )
            defined.add(d.name)
        for c in self.model.constraints:
            for n in names(c.lhs) + names(c.rhs):
                if n.name in defined:
                    self.add(
                        n.line, n.column, f"constrain labels, not the defined parameter '{n.name}'"
                    )
                elif n.name not in labels:
                    self.add(
                        n.line, n.column, f"unknown label '{n.name}'{did_you_mean(n.name, labels)}"
                    )
            if c.op != "==":
                self.add(
                    c.line,
                    c.column,
                    f"inequality constraints are not estimated; to test it, "
                    f'write it as a hypothesis (hypotheses: {{H1: "{render_expression(c.lhs)} {c.op} '
                    f'{render_expression(c.rhs)}"}})',
                )
            elif not self.caps.equality:
                self.add(
                    c.line,
                    c.column,
                    f"equality constraints are not estimated by {self.caps.engine}",
                )
            elif not _simple_equality(c.lhs, c.rhs):
                ok = isinstance(c.lhs, Name) or isinstance(c.rhs, Name)
                if not (ok and self.caps.nonlinear_equality):
                    self.add(
                        c.line,
                        c.column,
                        "only 'a == b' and 'a == number' are estimated "
                        "(label the parameters alike to make them equal)",
                    )


def _simple_equality(lhs: Expr, rhs: Expr) -> bool:
    """``a == b`` or ``a == number`` (either way round)."""

    def number(x: Expr) -> bool:
        return isinstance(x, Number) or (isinstance(x, Unary) and isinstance(x.operand, Number))

    return (isinstance(lhs, Name) and (isinstance(rhs, Name) or number(rhs))) or (
        isinstance(rhs, Name) and number(lhs)
    )
