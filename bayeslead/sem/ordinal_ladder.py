"""The threshold-invariance ladder of ordinal items by WLSMV (Wu & Estabrook 2016), as
``semTools::measEq.syntax(ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", parameterization =
"delta" or "theta")`` fitted by lavaan and compared by ``lavTestLRT``.

Levels (each adds lavaan ``group.equal`` keywords): configural; thresholds (the intercepts and
scales (delta) or residual variances (theta) of the latent responses are then free in the other
groups); metric (+ loadings: latent variances free); scalar (+ intercepts: latent means free);
strict (+ residuals: residual variances 1 in every group) with `sem.parameterization: theta`
only: it is not identified in the delta parameterization, lavaan's default, and is refused there.
The config's `group_partial` (loadings, intercepts: ``"y3 ~ 1"`` stays free in the other
groups; thresholds ``"y3 | t1"``, with Wu & Estabrook's rule for the item's intercept and scale)
applies at every level.

invariance.csv reports what semTools' ``compareFit`` shows for a scaled test: the
scaled-shifted chi-square (`chisq`, `pvalue`; the standard statistic in `chisq_unscaled`),
CFI, TLI and RMSEA from it (lavaan's ``.scaled`` measures) and SRMR; differences between
successive levels are Satorra's (2000) scaled-shifted test (lavaan's ``lavTestLRT`` for WLSMV)
and the changes in the scaled CFI / RMSEA and in SRMR. A failed level gets, in
invariance_scores.csv, lavaan's score tests of its restrictions (`level_scores`: lavTestScore's
univariate tests of its equality constraints, modindices' of the scalar level's intercepts, and
lavTestScore's total), ranked: the candidates for `group_partial`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bayeslead.config import InvarianceConfig, SemConfig
from bayeslead.core.groups import compact_key
from bayeslead.core.groups_score import ScoreTests
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.invariance import (
    SCORE_COLUMNS,
    Ladder,
    differences,
    ladder_rows,
    score_frame,
)
from bayeslead.sem.ordinal import OrdinalFit, check_ordinal_model, fit_ordinal, ordinal_samples
from bayeslead.sem.ordinal_table import build_ordinal_table
from bayeslead.sem.wlsmv import difference_test
from bayeslead.sem.wlsmv_score import wlsmv_score_tests

ORDINAL_LEVELS = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
    "strict": ("thresholds", "loadings", "intercepts", "residuals"),  # theta only
}
SCALED = {  # invariance.csv column: the WLSMV fit measure it shows
    "npar": "npar",
    "chisq": "chisq_scaled",
    "df": "df",
    "pvalue": "pvalue_scaled",
    "chisq_unscaled": "chisq",
    "cfi": "cfi_scaled",
    "tli": "tli_scaled",
    "rmsea": "rmsea_scaled",
    "rmsea_ci_lower": "rmsea_ci_lower_scaled",
    "rmsea_ci_upper": "rmsea_ci_upper_scaled",
    "srmr": "srmr",
}


def ordinal_levels(
    settings: InvarianceConfig, levels: list[str] | None, parameterization: str = "delta"
) -> list[str]:
    """The levels to fit, in ladder order: the ordinal ladder (strict with theta only) unless
    the config or the command names levels; `InputError` for strict under delta or an unknown
    level."""
    theta = parameterization == "theta"
    if levels is None:
        ladder = [k for k in ORDINAL_LEVELS if theta or k != "strict"]
        levels = list(settings.levels if "levels" in settings.model_fields_set else ladder)
    if "strict" in levels and not theta:
        raise InputError(
            "invariance level 'strict' (equal residual variances) is not identified for ordinal "
            "items in the delta parameterization (lavaan's default; semTools' measEq.syntax "
            "refuses it too); use configural, thresholds, metric, scalar, or set "
            "sem.parameterization: theta"
        )
    unknown = [name for name in levels if name not in ORDINAL_LEVELS]
    if unknown:
        raise InputError(
            f"unknown invariance levels for ordinal items: {', '.join(unknown)}; choose from "
            f"{', '.join(ORDINAL_LEVELS)}"
        )
    return sorted(dict.fromkeys(levels), key=list(ORDINAL_LEVELS).index)


def fit_ordinal_ladder(
    spec: ModelSpec,
    data: ResponseData,
    sem: SemConfig,
    settings: InvarianceConfig,
    levels: list[str] | None = None,
) -> Ladder:
    """Fit every level by WLSMV (blanks pairwise unless `sem.missing` is listwise) and decide."""
    levels = ordinal_levels(settings, levels, sem.parameterization)
    check_ordinal_model(spec, sem)
    frame, labels, groups, where = ladder_rows(spec, data, list(spec.items), sem.missing)
    if len(groups) < 2:
        raise InputError(f"{where}: only one group ({groups[0]!r}); the ladder compares groups")
    rows, scores, converged = [], [], {}
    previous = None
    with threadpool_limits(limits=1):
        samples = ordinal_samples(frame, labels, groups, where)
        for name in levels:
            result = fit_ordinal(
                spec,
                samples,
                groups,
                ORDINAL_LEVELS[name],
                tuple(spec.group_partial),
                sem.parameterization,
            )
            converged[name] = bool(result.fit.converged)
            fit = {column: result.measures[key] for column, key in SCALED.items()}
            row = {"level": name, "estimator": "WLSMV", **fit}
            row |= {"aic": np.nan, "bic": np.nan, "logl": np.nan}
            test = None
            if previous is not None:
                df_diff = int(round(fit["df"] - previous[1]["df"]))
                chisq_diff = result.measures["chisq"] - previous[0].measures["chisq"]
                test = difference_test(result.fit, previous[0].fit, chisq_diff, df_diff, samples)
            row |= differences(fit, previous and previous[1], settings, name, test)
            rows.append(row)
            if row["decision"] == "fails":
                tests = level_scores(spec, groups, name, result, samples, sem.parameterization)
                new = set(ORDINAL_LEVELS[name]) - set(ORDINAL_LEVELS[previous[2]])
                scores.append(score_frame(name, tests, new))
            previous = (result, fit, name)
    table = pd.DataFrame(rows)
    for column in ("npar", "df", "df_diff"):
        table[column] = table[column].round().astype("Int64")
    table["established"] = (table.decision != "fails").cumprod().astype(bool)
    return Ladder(
        table,
        pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(columns=SCORE_COLUMNS),
        {g: s.n for g, s in zip(groups, samples, strict=True)},
        converged,
    )


def level_scores(
    spec: ModelSpec,
    groups: tuple[str, ...],
    level: str,
    result: OrdinalFit,
    samples: list,
    parameterization: str = "delta",
) -> ScoreTests:
    """lavaan's score tests of a level (`bayeslead.sem.wlsmv_score`): each parameter the level
    makes equal (or fixes in every group) and `group_partial` does not yet free."""
    equal = ORDINAL_LEVELS[level]
    partial = tuple(spec.group_partial)
    done = {compact_key(k) for k in partial}
    n_thresholds = result.table.n_thresholds
    candidates = {
        key: build_ordinal_table(
            spec, groups, n_thresholds, equal, (*partial, key), parameterization
        )
        for key, keyword in zip(result.table.keys, result.table.keywords, strict=True)
        if keyword in equal and compact_key(key) not in done
    }
    return wlsmv_score_tests(result.table, result.fit.x, samples, candidates)
