"""The threshold-invariance ladder of ordinal items by WLSMV (Wu & Estabrook 2016), as
``semTools::measEq.syntax(ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", parameterization =
"delta" or "theta")`` fitted by lavaan and compared by ``lavTestLRT``.

Levels (each adds lavaan ``group.equal`` keywords): configural; thresholds (the intercepts and
scales (delta) or residual variances (theta) of the latent responses are then free in the other
groups); metric (+ loadings: latent variances free); scalar (+ intercepts: latent means free);
strict (+ residuals: residual variances 1 in every group) with `sem.parameterization: theta`
only: it is not identified in the delta parameterization, lavaan's default, and is refused there.
The config's `group_partial` (loadings, intercepts: ``"y3 ~ 1"`` stays free in the other
groups) applies at every level.

invariance.csv reports what semTools' ``compareFit`` shows for a scaled test: the
scaled-shifted chi-square (`chisq`, `pvalue`; the standard statistic in `chisq_unscaled`),
CFI, TLI and RMSEA from it (lavaan's ``.scaled`` measures) and SRMR; differences between
successive levels are Satorra's (2000) scaled-shifted test (lavaan's ``lavTestLRT`` for WLSMV)
and the changes in the scaled CFI / RMSEA and in SRMR. A failed metric or scalar level gets,
in invariance_scores.csv, the difference test of freeing each of its loadings or intercepts
(one refit each, `freeing_tests`), ranked: the candidates for `group_partial`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bayeslead.config import InvarianceConfig, SemConfig
from bayeslead.core.groups import compact_key
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.invariance import SCORE_COLUMNS, Ladder, differences, ladder_rows
from bayeslead.sem.ordinal import OrdinalFit, check_ordinal_model, fit_ordinal, ordinal_samples
from bayeslead.sem.wlsmv import difference_test

ORDINAL_LEVELS = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
    "strict": ("thresholds", "loadings", "intercepts", "residuals"),  # theta only
}
FREEABLE = {"metric": "loadings", "scalar": "intercepts"}  # what freeing_tests frees
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
            if row["decision"] == "fails" and name in FREEABLE:
                scores.append(
                    freeing_tests(spec, samples, groups, name, result, test, sem.parameterization)
                )
            previous = (result, fit)
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


def freeing_tests(
    spec: ModelSpec,
    samples: list,
    groups: tuple[str, ...],
    level: str,
    result: OrdinalFit,
    total: dict | None,
    parameterization: str = "delta",
) -> pd.DataFrame:
    """For a failed metric or scalar level: the scaled-shifted difference test (Satorra 2000)
    of freeing each parameter the level made equal (each loading, or each item intercept), one
    refit per parameter, largest first; rank 0 is the level's test against the one before (all
    its new constraints). The WLSMV counterpart of lavaan's ``lavTestScore`` ranking (a score
    test approximates the same difference; these are not lavTestScore's numbers)."""
    keyword = FREEABLE[level]
    partial = tuple(spec.group_partial)
    done = {compact_key(k) for k in partial}
    rows = []
    for k, key in enumerate(result.table.keys):
        if result.table.keywords[k] != keyword or compact_key(key) in done:
            continue
        freed = fit_ordinal(
            spec, samples, groups, ORDINAL_LEVELS[level], (*partial, key), parameterization
        )
        df = int(round(result.measures["df"] - freed.measures["df"]))
        chisq = result.measures["chisq"] - freed.measures["chisq"]
        test = difference_test(result.fit, freed.fit, chisq, df, samples)
        rows.append(
            {
                "parameter": key.replace(" ~1", " ~ 1"),
                "keyword": keyword,
                "new_at_level": True,
                "x2": test["chisq_diff"],
                "df": df,
                "pvalue": test["p_diff"],
            }
        )
    rows.sort(key=lambda r: -r["x2"])
    frame = pd.DataFrame(rows)
    frame.insert(0, "rank", range(1, len(rows) + 1))
    if total is not None:
        frame = pd.concat(
            [
                frame,
                pd.DataFrame(
                    [
                        {
                            "rank": 0,
                            "parameter": "(all constraints)",
                            "keyword": "",
                            "new_at_level": False,
                            "x2": total["chisq_diff"],
                            "df": total["df_diff"],
                            "pvalue": total["p_diff"],
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
    frame.insert(0, "level", level)
    return frame[SCORE_COLUMNS]
