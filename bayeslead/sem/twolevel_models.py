"""The three models of a two-level ML fit built from a ModelSpec: the structured model (h0),
the saturated model (h1) and the independence model (baseline), as lavaan builds them.

Both levels have the spec's constructs and paths. Observed variables listed in
`sem.within_only` exist at level 1 only (e.g. cluster-centred covariates), those in
`sem.between_only` at level 2 only (firm-level variables, constant within a firm); a path or
covariance involving such a variable exists only at its level. Any other observed variable has a
within and a between part, as in lavaan (a variable in `level: 1` and `level: 2`). Exogenous
observed covariates are fixed (``fixed.x = TRUE``) at each level where they are exogenous:
within-only ones at their moments over respondents, between-only ones over clusters, and those
involving a covariate at both levels at lavaan's saturated (h1) model's values (EM on every
variable: within (co)variances, between (co)variances, level-2 mean; the within mean is 0);
latent exogenous constructs do not covary with them (lavaan's defaults). Loadings are equal
across levels unless `sem.loadings_across_levels: free`; `sem.between_residuals: zero` fixes the
items' between residual variances at 0.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.core.twolevel_ml import ClusterStats
from bayeslead.core.twolevel_model import TwoLevelModel, covariance_table, fix_parameters
from bayeslead.sem.twolevel_tables import force_pd


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
    both_x: tuple[str, ...] = ()  # fixed covariates with a within and a between part


@dataclass(frozen=True)
class SaturatedMoments:
    """lavaan's h1 of a two-level fit (`core.twolevel_ml.em_saturated`): Sigma_W (level-1
    order), Sigma_B and mu (tilde order) and the within means (level-1 order)."""

    sigma_w: np.ndarray
    sigma_b: np.ndarray
    mu: np.ndarray
    mu_w: np.ndarray


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


def fixed_x_moments(
    stats: ClusterStats,
    h1: SaturatedMoments,
    level: int,
    xs: tuple[str, ...],
    both: tuple[str, ...],
) -> dict[tuple[str, str, str], float]:
    """(Co)variances of the fixed covariates `xs` of one level: pairs of level-specific ones at
    their sample values (within-only over respondents, between-only over clusters), pairs with
    a covariate at both levels (`both`) at lavaan's h1 values."""
    if level == 1:
        names, sample, h1_names, h1_cov = stats.level1, stats.s_total, stats.level1, h1.sigma_w
    else:
        names, sample = stats.between_only, stats.s_between_only
        h1_names, h1_cov = stats.tilde, h1.sigma_b
    values = {}
    for a in xs:
        for b in xs:
            if a in both or b in both:
                value = h1_cov[h1_names.index(a), h1_names.index(b)]
            else:
                value = sample[names.index(a), names.index(b)]
            values[(a, "~~", b)] = float(value)
    return values


def fixed_x_values(
    table: ParameterTable, spec: ModelSpec, xs: tuple[str, ...], moments: dict
) -> dict[tuple[str, str, str], float]:
    """(Co)variances of the fixed covariates at `moments` (`fixed_x_moments`); latent exogenous
    constructs uncorrelated with them."""
    values = dict(moments)
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
    h1: SaturatedMoments,
    equal_loadings: bool = True,
    between_residuals: str = "free",
) -> TwoLevelSpecs:
    """Build h0, h1 and the baseline of a two-level fit (`h1`: lavaan's saturated moments, the
    fixed values of covariates at both levels)."""
    within_spec = level_spec(spec, set(between_only))
    between_spec = level_spec(spec, set(within_only))
    level1 = stats.level1
    level2 = tuple(v for v in stats.tilde if v not in within_only)
    split = [o for o in spec.observed if o not in within_only and o not in between_only]
    within_x = tuple(
        o for o in (*within_only, *split) if o in level1 and not within_spec.is_endogenous(o)
    )
    between_x = tuple(
        o for o in (*between_only, *split) if o in level2 and not between_spec.is_endogenous(o)
    )
    both_x = tuple(o for o in split if o in within_x or o in between_x)
    moments_w = fixed_x_moments(stats, h1, 1, within_x, both_x)
    moments_b = fixed_x_moments(stats, h1, 2, between_x, both_x)
    within = build_partable(within_spec)
    within = fix_parameters(within, fixed_x_values(within, within_spec, within_x, moments_w))
    between = build_partable(between_spec)
    values = fixed_x_values(between, between_spec, between_x, moments_b)
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
    fixed_means = {
        (1, x): 0.0 if x in both_x else float(stats.mean_total[level1.index(x)]) for x in within_x
    }
    for z in between_x:
        if z in both_x:  # lavaan's h1 between mean: the level-2 mean less the within mean
            value = h1.mu[stats.tilde.index(z)] - h1.mu_w[level1.index(z)]
        else:
            value = stats.mean_between_only[stats.between_only.index(z)]
        fixed_means[(2, z)] = float(value)
    h0 = TwoLevelModel(within, between, ties, intercepts, fixed_means)

    # lavaan's baseline fixes the covariates' variances at the diagonal of its h1 level
    # covariances forced positive definite (``lav_mat_sym_force_pd``, tol 1e-3), their
    # covariances at the h1 values and the within means of covariates at both levels at the h1
    # within means (0 in h0)
    index = [stats.tilde.index(v) for v in level2]
    forced = (
        np.diag(force_pd(h1.sigma_w, 1e-3)),
        np.diag(force_pd(h1.sigma_b[np.ix_(index, index)], 1e-3)),
    )

    def saturated(all_pairs: bool) -> TwoLevelModel:
        tables = []
        for names, xs, fixed, diag in (
            (level1, within_x, moments_w, forced[0]),
            (level2, between_x, moments_b, forced[1]),
        ):
            pairs = [
                (i, j)
                for i, j in combinations(range(len(names)), 2)
                if all_pairs or (names[i] in xs and names[j] in xs)
            ]
            if not all_pairs:
                fixed = fixed | {(x, "~~", x): float(diag[names.index(x)]) for x in xs}
            tables.append(fix_parameters(covariance_table(names, pairs), fixed))
        means = fixed_means
        if not all_pairs:
            means = means | {
                (1, x): float(h1.mu_w[level1.index(x)]) for x in within_x if x in both_x
            }
        return TwoLevelModel(tables[0], tables[1], {}, intercepts, means)

    return TwoLevelSpecs(
        within_spec,
        between_spec,
        h0,
        saturated(True),
        saturated(False),
        within_x,
        between_x,
        within_only,
        both_x,
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
