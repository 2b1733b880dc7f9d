"""Checks of a two-level ML fit's variables: level-specific variables declared in the model,
between-only variables constant within clusters (lavaan refuses one that varies), and warnings
for covariates at both levels whose between part is nearly absent."""

from __future__ import annotations

import pandas as pd

from bayeslead.core.twolevel_ml import ClusterStats
from bayeslead.errors import InputError, Problem
from bayeslead.sem.twolevel_models import SaturatedMoments, TwoLevelSpecs


def check_level_variables(spec, within_only, between_only) -> None:
    """Level-specific variables must be declared observed variables of the model."""
    for key, names in (("sem.within_only", within_only), ("sem.between_only", between_only)):
        unknown = [n for n in names if n not in spec.observed]
        if unknown:
            raise InputError(
                f"Config: {key}: {', '.join(unknown)} are not observed variables of the model "
                f"(observed: {', '.join(spec.observed) or 'none'})"
            )
    both = set(within_only) & set(between_only)
    if both:
        raise InputError(f"Config: {', '.join(sorted(both))} cannot be within- and between-only")


def check_between_constant(data, frame, clusters, between_only) -> None:
    """A between-only variable must take one value per cluster (lavaan refuses a level-2-only
    variable that varies within clusters)."""
    for name in between_only:
        spread = pd.Series(frame[name].to_numpy()).groupby(clusters).nunique()
        varying = spread.index[spread > 1]
        if len(varying):
            raise InputError(
                f"Data file {data.path}, column '{name}': sem.between_only variables must be "
                f"constant within a cluster; it varies in clusters {', '.join(map(str, varying[:5]))}. "
                f"Remove '{name}' from sem.between_only to give it a within and a between part "
                f"(lavaan: '{name}' in level: 1 and level: 2), or add a column with its cluster "
                "means and list that one in sem.between_only"
            )


WEAK_BETWEEN_SHARE = 0.01


def weak_between_parts(
    specs: TwoLevelSpecs, stats: ClusterStats, h1: SaturatedMoments
) -> list[Problem]:
    """Warnings for covariates at both levels whose between part (lavaan's h1) holds less than
    `WEAK_BETWEEN_SHARE` of their variance: their between paths are barely identified."""
    out = []
    for name in specs.both_x:
        within = h1.sigma_w[stats.level1.index(name), stats.level1.index(name)]
        between = h1.sigma_b[stats.tilde.index(name), stats.tilde.index(name)]
        share = between / (between + within)
        if share < WEAK_BETWEEN_SHARE:
            out.append(
                Problem(
                    f"{name} (between)",
                    f"the between part of covariate '{name}' has variance {between:.4g} "
                    f"({100 * share:.2g}% of its variance, lavaan's h1), so its between paths are "
                    "barely identified (large standard errors; lavaan's default optimiser may "
                    f"stop near its start there); list '{name}' in sem.within_only to keep it "
                    "at the within level only",
                    "warning",
                )
            )
    return out
