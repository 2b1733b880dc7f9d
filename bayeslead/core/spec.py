"""ModelSpec: the engine-agnostic structural equation model (built from a config by
`bayeslead.core.from_config.build_spec`).

Both engines and the simulator read only a `ModelSpec`. It knows the constructs and their
indicators (first and second order), the regressions among constructs (and declared observed
variables), residual covariances and the named effect chains, and renders itself as lavaan syntax.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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

    def measurement_model(self) -> ModelSpec:
        """The first-order CFA of this model: every first-order factor, all correlated."""
        items = set(self.items)
        return ModelSpec(
            factors=self.first_order,
            covariances=tuple(c for c in self.covariances if c[0] in items),
            labels=self.labels,
        )

    # --- rendering -------------------------------------------------------------------------
    def to_lavaan(self) -> str:
        """lavaan model syntax: measurement, second order, regressions, covariances, effects."""
        lines = [f"{f.name} =~ {' + '.join(f.indicators)}" for f in self.first_order]
        lines += [f"{f.name} =~ {' + '.join(f.indicators)}" for f in self.second_order]
        outcomes = dict.fromkeys(r.outcome for r in self.regressions)
        for outcome in outcomes:
            terms = [f"{r.label}*{r.predictor}" for r in self.regressions if r.outcome == outcome]
            lines.append(f"{outcome} ~ {' + '.join(terms)}")
        lines += [f"{a} ~~ {b}" for a, b in self.covariances]
        for effect in self.effects:
            lines.append(f"{effect.name} := {self.effect_expression(effect, 'indirect')}")
            if self.regression(effect.target, effect.source) is not None:
                lines.append(f"{effect.name}_direct := {self.effect_expression(effect, 'direct')}")
            lines.append(f"{effect.name}_total := {self.effect_expression(effect, 'total')}")
        return "\n".join(lines) + "\n"

    def effect_expression(self, effect: Effect, kind: str) -> str:
        """lavaan `:=` right-hand side of an effect's indirect, direct or total value."""
        if kind == "indirect":
            return "*".join(r.label for r in effect.links)
        if kind == "direct":
            return self.regression(effect.target, effect.source).label
        paths = self.directed_paths(effect.source, effect.target)
        return " + ".join(
            "*".join(Regression(b, a).label for a, b in zip(p, p[1:], strict=False)) for p in paths
        )


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
