"""The three models of a two-level ML fit built from a ModelSpec: the structured model (h0),
the saturated model (h1) and the independence model (baseline), as lavaan builds them.

Both levels have the spec's constructs and paths. Observed variables listed in
`sem.within_only` exist at level 1 only (e.g. cluster-centred covariates), those in
`sem.between_only` at level 2 only (firm-level variables, constant within a firm); a path or
covariance involving such a variable exists only at its level. Exogenous within-only and
between-only variables are fixed at their sample moments (``fixed.x = TRUE``), and latent
exogenous constructs do not covary with them (lavaan's defaults). Loadings are equal across
levels unless `sem.loadings_across_levels: free`; `sem.between_residuals: zero` fixes the
items' between residual variances at 0.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from itertools import combinations

from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.core.twolevel_ml import ClusterStats
from bayeslead.core.twolevel_model import TwoLevelModel, covariance_table, fix_parameters


@dataclass(frozen=True)
class TwoLevelSpecs:
    """The spec of each level and the three fitted models."""

    within_spec: ModelSpec
    between_spec: ModelSpec
    h0: TwoLevelModel
    h1: TwoLevelModel
    baseline: TwoLevelModel
    within_x: tuple[str, ...]  # fixed exogenous level-1 covariates
    between_x: tuple[str, ...]  # fixed exogenous level-2 covariates
    within_only: tuple[str, ...]


def level_spec(spec: ModelSpec, absent: set[str]) -> ModelSpec:
    """`spec` without the observed variables in `absent` and what involves them."""
    regressions = tuple(
        r for r in spec.regressions if r.outcome not in absent and r.predictor not in absent
    )
    kept = set(spec.latents) | {o for o in spec.observed if o not in absent}
    effects = tuple(
        e
        for e in spec.effects
        if all(c in kept for c in e.chain)
        and all(any(r == link for r in regressions) for link in e.links)
    )
    return dataclasses.replace(
        spec,
        observed=tuple(o for o in spec.observed if o not in absent),
        regressions=regressions,
        covariances=tuple(c for c in spec.covariances if not set(c) & absent),
        effects=effects,
    )


def fixed_x_values(
    table: ParameterTable, spec: ModelSpec, xs: tuple[str, ...], names, cov
) -> dict[tuple[str, str, str], float]:
    """(Co)variances of the fixed covariates at their sample values; latent exogenous
    constructs uncorrelated with them."""
    values = {}
    for a in xs:
        for b in xs:
            values[(a, "~~", b)] = float(cov[names.index(a), names.index(b)])
    latent_exo = [v for v in spec.exogenous() if v in spec.latents]
    for a in latent_exo:
        for x in xs:
            if table.find(a, "~~", x) is not None:
                values[(a, "~~", x)] = 0.0
    return values


def build_models(
    spec: ModelSpec,
    stats: ClusterStats,
    within_only: tuple[str, ...],
    between_only: tuple[str, ...],
    equal_loadings: bool = True,
    between_residuals: str = "free",
) -> TwoLevelSpecs:
    """Build h0, h1 and the baseline of a two-level fit."""
    within_spec = level_spec(spec, set(between_only))
    between_spec = level_spec(spec, set(within_only))
    within_x = tuple(o for o in within_only if not within_spec.is_endogenous(o))
    between_x = tuple(o for o in between_only if not between_spec.is_endogenous(o))
    level1 = stats.level1
    level2 = tuple(v for v in stats.tilde if v not in within_only)
    within = build_partable(within_spec)
    within = fix_parameters(
        within, fixed_x_values(within, within_spec, within_x, level1, stats.s_total)
    )
    between = build_partable(between_spec)
    values = fixed_x_values(
        between, between_spec, between_x, stats.between_only, stats.s_between_only
    )
    if between_residuals == "zero":
        values |= {(i, "~~", i): 0.0 for i in spec.items}
    between = fix_parameters(between, values)
    ties = {}
    if equal_loadings:
        for p in between.free_params:
            if p.op == "=~":
                twin = within.find(p.lhs, p.op, p.rhs)
                if twin is not None and twin.free >= 0:
                    ties[p.free] = twin.free
    intercepts = tuple((1, v) for v in level1 if v in within_only and v not in within_x) + tuple(
        (2, v) for v in level2 if v not in between_x
    )
    fixed_means = {(1, x): float(stats.mean_total[level1.index(x)]) for x in within_x}
    fixed_means |= {
        (2, z): float(stats.mean_between_only[stats.between_only.index(z)]) for z in between_x
    }
    h0 = TwoLevelModel(within, between, ties, intercepts, fixed_means)

    def saturated(all_pairs: bool) -> TwoLevelModel:
        tables = []
        for names, xs, source, cov in (
            (level1, within_x, level1, stats.s_total),
            (level2, between_x, stats.between_only, stats.s_between_only),
        ):
            pairs = [
                (i, j)
                for i, j in combinations(range(len(names)), 2)
                if all_pairs or (names[i] in xs and names[j] in xs)
            ]
            table = covariance_table(names, pairs)
            fixed = {
                (a, "~~", b): float(cov[source.index(a), source.index(b)]) for a in xs for b in xs
            }
            tables.append(fix_parameters(table, fixed))
        return TwoLevelModel(tables[0], tables[1], {}, intercepts, fixed_means)

    return TwoLevelSpecs(
        within_spec,
        between_spec,
        h0,
        saturated(True),
        saturated(False),
        within_x,
        between_x,
        within_only,
    )


def lavaan_syntax(specs: TwoLevelSpecs, equal_loadings: bool, zero_residuals: bool) -> str:
    """The model as lavaan two-level syntax (`level: 1` / `level: 2`), for refitting in R with
    ``sem(model, data, cluster = ...)``; paths are labelled OUTCOME_on_PREDICTOR_w / _b."""
    lines = []
    for level, spec, suffix in ((1, specs.within_spec, "w"), (2, specs.between_spec, "b")):
        lines.append(f"level: {level}")
        for factor in (*spec.first_order, *spec.second_order):
            terms = [
                ind if k == 0 or not equal_loadings else f"L_{ind}*{ind}"
                for k, ind in enumerate(factor.indicators)
            ]
            lines.append(f"    {factor.name} =~ {' + '.join(terms)}")
        for outcome in dict.fromkeys(r.outcome for r in spec.regressions):
            terms = [
                f"{r.label}_{suffix}*{r.predictor}"
                for r in spec.regressions
                if r.outcome == outcome
            ]
            lines.append(f"    {outcome} ~ {' + '.join(terms)}")
        lines += [f"    {a} ~~ {b}" for a, b in spec.covariances]
        if level == 2 and zero_residuals:
            lines += [f"    {item} ~~ 0*{item}" for item in spec.items]
    for spec, suffix in ((specs.within_spec, "w"), (specs.between_spec, "b")):
        for effect in spec.effects:
            for kind in ("indirect", "total"):
                expression = spec.effect_expression(effect, kind)
                for r in spec.regressions:
                    expression = re.sub(rf"\b{r.label}\b", f"{r.label}_{suffix}", expression)
                name = effect.name if kind == "indirect" else f"{effect.name}_total"
                lines.append(f"{name}_{suffix} := {expression}")
    return "\n".join(lines) + "\n"
