"""ModelSpec: the engine-agnostic structural equation model (built from a config by
`bayeslead.core.from_config.build_spec`).

Both engines and the simulator read only a `ModelSpec`. It knows the constructs and their
indicators (first and second order), the regressions among constructs (and declared observed
variables), latent interactions (`RECO:ENV`, rendered in modsem's `:` notation), residual
covariances and the named effect chains, and renders itself as lavaan syntax.
A model given as lavaan syntax (`bayeslead.core.from_syntax`) adds what lavaan users write
beyond that: labels, fixed and freed parameters (`settings`), equality constraints
(`equalities`, `label_values`), ``:=`` definitions and intercepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import reduce

from bayeslead.core.interactions import (
    Interaction,
    ModeratedMediation,
    moderated_mediations,
    moderators_of,
)
from bayeslead.syntax import (
    Block,
    Constraint,
    Definition,
    Element,
    Modifier,
    ParsedModel,
    render_model,
)
from bayeslead.syntax.expressions import Binary, Expr, Name, Number, render_expression


@dataclass(frozen=True)
class Factor:
    """A latent construct and what it is measured by (items, or first-order factors)."""

    name: str
    indicators: tuple[str, ...]
    order: int = 1
    label: str = ""


@dataclass(frozen=True)
class Regression:
    outcome: str
    predictor: str

    @property
    def label(self) -> str:
        """The lavaan label of this path, e.g. ``SENS_on_TL``."""
        return f"{self.outcome}_on_{self.predictor}"

    @property
    def key(self) -> str:
        return f"{self.outcome} ~ {self.predictor}"


@dataclass(frozen=True)
class Effect:
    """A named chain of constructs whose indirect effect is the product of its links."""

    name: str
    chain: tuple[str, ...]

    @property
    def source(self) -> str:
        return self.chain[0]

    @property
    def target(self) -> str:
        return self.chain[-1]

    @property
    def links(self) -> list[Regression]:
        return [Regression(b, a) for a, b in zip(self.chain, self.chain[1:], strict=False)]


@dataclass(frozen=True)
class ParameterSetting:
    """What the model syntax says about one parameter (lavaan's modifiers).

    `label` names the parameter (rows sharing a label are equal); `fixed` fixes it at a value;
    `free` (``NA*x``) frees a parameter lavaan fixes by default (a marker loading); `start` is
    a start value; `equal` (``equal("f=~x1")*x2``) names the label or lavaan key it equals.
    `group_labels` / `group_fixed` are ``c(...)`` values, one per group (None: no label / free
    there), of a multi-group model (`core.groups`).
    """

    lhs: str
    op: str
    rhs: str
    label: str = ""
    fixed: float | None = None
    free: bool = False
    start: float | None = None
    equal: str = ""
    group_labels: tuple[str | None, ...] = ()
    group_fixed: tuple[float | None, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}".rstrip()


@dataclass(frozen=True)
class ModelSpec:
    factors: tuple[Factor, ...]
    regressions: tuple[Regression, ...] = ()
    covariances: tuple[tuple[str, str], ...] = ()
    effects: tuple[Effect, ...] = ()
    observed: tuple[str, ...] = ()
    cluster: str | None = None
    level3: str | None = None
    group: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    settings: tuple[ParameterSetting, ...] = ()
    equalities: tuple[tuple[str, str], ...] = ()  # 'a == b'
    label_values: tuple[tuple[str, float], ...] = ()  # 'a == 0.5'
    definitions: tuple[Definition, ...] = ()  # ':=' beyond the named effects
    intercepts: tuple[str, ...] = ()  # variables with a '~ 1' row (a mean structure)
    between_paths: str = ""  # two-level models: "specific" or "shared" between-level paths
    interactions: tuple[Interaction, ...] = ()
    moderator_values: tuple[float, ...] = (-1.0, 0.0, 1.0)  # SD units of the latent moderator
    group_equal: tuple[str, ...] = ()  # multi-group: lavaan's group.equal keywords
    group_partial: tuple[str, ...] = ()  # multi-group: parameters freed from group_equal

    # --- structure -------------------------------------------------------------------------
    @property
    def first_order(self) -> tuple[Factor, ...]:
        return tuple(f for f in self.factors if f.order == 1)

    @property
    def second_order(self) -> tuple[Factor, ...]:
        return tuple(f for f in self.factors if f.order == 2)

    @property
    def latents(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    @property
    def items(self) -> tuple[str, ...]:
        """Indicator items in model order (first-order factors' indicators)."""
        return tuple(i for f in self.first_order for i in f.indicators)

    @property
    def manifest(self) -> tuple[str, ...]:
        """Every data column the model uses: items, then observed structural variables."""
        return self.items + self.observed

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(name)

    def structural_variables(self) -> tuple[str, ...]:
        """Variables that take part in regressions or effects, in topological order."""
        names = {r.outcome for r in self.regressions} | {r.predictor for r in self.regressions}
        ordered = topological_order(self.regressions, list(self.latents) + list(self.observed))
        return tuple(n for n in ordered if n in names)

    def is_endogenous(self, name: str) -> bool:
        """Regressed on something, or an indicator of a second-order factor."""
        if any(r.outcome == name for r in self.regressions):
            return True
        return any(name in f.indicators for f in self.second_order)

    def exogenous(self) -> tuple[str, ...]:
        """Latent and observed structural variables that nothing predicts (they covary freely)."""
        return tuple(v for v in self.latents + self.observed if not self.is_endogenous(v))

    def regression(self, outcome: str, predictor: str) -> Regression | None:
        for r in self.regressions:
            if r.outcome == outcome and r.predictor == predictor:
                return r
        return None

    def directed_paths(self, source: str, target: str) -> list[tuple[str, ...]]:
        """Every directed path from `source` to `target` through the regressions."""
        out: list[tuple[str, ...]] = []

        def walk(path: tuple[str, ...]) -> None:
            if path[-1] == target:
                out.append(path)
                return
            for r in self.regressions:
                if r.predictor == path[-1]:
                    walk((*path, r.outcome))

        walk((source,))
        return out

    def moderators(self, outcome: str, predictor: str) -> list[tuple[str, Interaction]]:
        """(moderator, interaction) of every interaction moderating predictor -> outcome."""
        return moderators_of(self, outcome, predictor)

    def moderated_mediations(self) -> list[ModeratedMediation]:
        """The indices of moderated mediation (`bayeslead.core.interactions`)."""
        return moderated_mediations(self)

    def measurement_model(self) -> ModelSpec:
        """The first-order CFA of this model: every first-order factor, all correlated."""
        items = set(self.items)
        return ModelSpec(
            factors=self.first_order,
            covariances=tuple(c for c in self.covariances if c[0] in items),
            labels=self.labels,
        )

    # --- rendering -------------------------------------------------------------------------
    def setting(self, lhs: str, op: str, rhs: str) -> ParameterSetting | None:
        """The syntax's setting of a parameter (``~~`` either way round), if any."""
        for s in self.settings:
            if (s.lhs, s.op, s.rhs) == (lhs, op, rhs) or (
                op == "~~" and (s.lhs, s.op, s.rhs) == (rhs, op, lhs)
            ):
                return s
        return None

    def label_of(self, lhs: str, op: str, rhs: str) -> str:
        """The user's label of a parameter, else the automatic one of a regression (or "")."""
        s = self.setting(lhs, op, rhs)
        if s is not None and s.label:
            return s.label
        if op == "~" and ":" in rhs:  # a latent interaction, e.g. BI_on_RECO_x_ENV
            return f"{lhs}_on_{rhs.replace(':', '_x_')}"
        return Regression(lhs, rhs).label if op == "~" else ""

    def to_lavaan(self) -> str:
        """lavaan model syntax (`bayeslead.syntax.render_model`): measurement, second order,
        regressions, covariances, intercepts, settings as modifiers, constraints, effects and
        definitions; it parses back to the same model."""
        return render_model(self.to_parsed())

    def to_parsed(self) -> ParsedModel:
        """This model as a lavaan parse result (what `to_lavaan` renders)."""
        rows = [
            (f.name, "=~", i) for f in (*self.first_order, *self.second_order) for i in f.indicators
        ]
        outcomes = dict.fromkeys(r.outcome for r in self.regressions)
        for o in outcomes:
            rows += [(o, "~", r.predictor) for r in self.regressions if r.outcome == o]
            rows += [(o, "~", q.name) for q in self.interactions if q.outcome == o]
        rows += [(a, "~~", b) for a, b in self.covariances]
        rows += [(name, "~1", "") for name in self.intercepts]
        known = {(lhs, op, rhs) for lhs, op, rhs in rows}
        rows += [(s.lhs, s.op, s.rhs) for s in self.settings if (s.lhs, s.op, s.rhs) not in known]
        elements = tuple(
            Element(lhs, op, rhs, self._modifiers(lhs, op, rhs)) for lhs, op, rhs in rows
        )
        constraints = tuple(Constraint(Name(a), "==", Name(b)) for a, b in self.equalities)
        constraints += tuple(Constraint(Name(a), "==", Number(v)) for a, v in self.label_values)
        definitions = []
        for effect in self.effects:
            kinds = ["indirect", "direct", "total"]
            if self.regression(effect.target, effect.source) is None:
                kinds.remove("direct")
            for kind in kinds:
                name = effect.name if kind == "indirect" else f"{effect.name}_{kind}"
                definitions.append(Definition(name, self.effect_ast(effect, kind)))
        for imm in self.moderated_mediations():
            definitions.append(Definition(imm.name, self.to_parsed_definition(imm)))
        blocks: tuple[Block, ...] = ()
        if self.cluster:
            elements, blocks = self._levels(elements), (Block("level", "1"), Block("level", "2"))
        return ParsedModel(elements, (*definitions, *self.definitions), constraints, blocks)

    def to_parsed_definition(self, imm: ModeratedMediation) -> Expr:
        """The ``:=`` expression of an index of moderated mediation: the interaction's label
        times the labels of the chain's other links."""
        others = [r for k, r in enumerate(imm.effect.links) if k != imm.link]
        names = [Name(imm.interaction.label)]
        names += [Name(self.label_of(r.outcome, "~", r.predictor)) for r in others]
        return reduce(lambda x, y: Binary("*", x, y), names)

    def _levels(self, elements: tuple[Element, ...]) -> tuple[Element, ...]:
        """A two-level model as lavaan's level blocks: level 2 measures the same constructs by
        the same items with the loadings labelled alike (equal across levels) and has the same
        paths, with the level-1 labels when `between_paths` is "shared"."""
        markers = {f.name: f.indicators[0] for f in self.factors}
        within, between = [], []
        for e in elements:
            label = next((m for m in e.modifiers if m.kind == "label"), None)
            if e.op == "=~" and markers[e.lhs] != e.rhs and label is None:
                label = Modifier("label", (f"{e.lhs}_by_{e.rhs}",))
                e = replace(e, modifiers=(*e.modifiers, label))
            within.append(replace(e, block=1, level="1"))
            if e.op == "=~" or (e.op == "~" and self.between_paths == "shared"):
                between.append(replace(e, block=2, level="2", modifiers=(label,) if label else ()))
            elif e.op == "~":
                between.append(replace(e, block=2, level="2", modifiers=()))
        return (*within, *between)

    def _modifiers(self, lhs: str, op: str, rhs: str) -> tuple[Modifier, ...]:
        s = self.setting(lhs, op, rhs)
        out = []
        if s is not None and (s.fixed is not None or s.free):
            out.append(Modifier("fixed", (s.fixed,)))
        if s is not None and s.group_fixed:
            out.append(Modifier("fixed", s.group_fixed))
        label = self.label_of(lhs, op, rhs)
        if s is not None and s.group_labels:
            out.append(Modifier("label", s.group_labels))
        elif label:
            out.append(Modifier("label", (label,)))
        if s is not None and s.equal:
            out.append(Modifier("equal", (s.equal,)))
        if s is not None and s.start is not None:
            out.append(Modifier("start", (s.start,)))
        return tuple(out)

    def effect_expression(self, effect: Effect, kind: str) -> str:
        """lavaan `:=` right-hand side of an effect's indirect, direct or total value (or of
        the user's definition of that name, kind ``defined``)."""
        if kind == "defined":
            return render_expression(
                next(d.expr for d in self.definitions if d.name == effect.name)
            )
        return render_expression(self.effect_ast(effect, kind))

    def effect_ast(self, effect: Effect, kind: str) -> Expr:
        """The effect's indirect (product of its links' labels), direct or total value (sum of
        the products along every directed path) as an expression of labels."""
        if kind == "direct":
            return Name(self.label_of(effect.target, "~", effect.source))
        chains = (
            [effect.chain]
            if kind == "indirect"
            else self.directed_paths(effect.source, effect.target)
        )
        products = []
        for chain in chains:
            names = [Name(self.label_of(b, "~", a)) for a, b in zip(chain, chain[1:], strict=False)]
            products.append(reduce(lambda x, y: Binary("*", x, y), names))
        return reduce(lambda x, y: Binary("+", x, y), products)


def topological_order(regressions: tuple[Regression, ...], names: list[str]) -> list[str]:
    """Order `names` so that predictors come before outcomes; raise on a cycle."""
    cycle = find_cycle(regressions)
    if cycle:
        raise ValueError(f"cycle: {' -> '.join(cycle)}")
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for r in regressions:
            if r.outcome == name:
                visit(r.predictor)
        done.append(name)

    for name in names:
        visit(name)
    return done


def find_cycle(regressions: tuple[Regression, ...]) -> list[str]:
    """A directed cycle among the regressions (predictor -> outcome), or [] if there is none."""
    graph: dict[str, list[str]] = {}
    for r in regressions:
        graph.setdefault(r.predictor, []).append(r.outcome)
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if state.get(nxt) is None:
                found = dfs(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return []

    for node in list(graph):
        if state.get(node) is None:
            found = dfs(node)
            if found:
                return found
    return []
