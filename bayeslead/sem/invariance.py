"""The measurement-invariance ladder by multi-group ML (lavaan + semTools' ``compareFit``).

Each level adds lavaan ``group.equal`` keywords to the one before: configural (none), metric
(loadings), scalar (+ intercepts), strict (+ residuals); the config's `group_partial` frees its
parameters at every level. Per level: chi-square, df, CFI, TLI, RMSEA with its 90% interval,
SRMR, AIC, BIC; between successive levels the chi-square difference test (lavaan's
``lavTestLRT``: the difference of the ML chi-squares, its df and p) and the changes in CFI, RMSEA
and SRMR. The decision follows `Cutoffs` (Chen 2007; Cheung & Rensvold 2002), and a level that
fails gets lavaan's score tests (``lavTestScore``) of its equality constraints, ranked: the
parameters to add to `group_partial`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from bayeslead.config import InvarianceConfig, SemConfig
from bayeslead.core.groups_ml import fit_groups
from bayeslead.core.groups_score import score_tests
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.group_tables import group_fit_measures
from bayeslead.sem.groups import group_samples, group_table

LEVELS = {  # continuous items; ordinal items: sem.ordinal_ladder.ORDINAL_LEVELS
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}
MEASURES = [
    "npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper",
    "srmr", "aic", "bic", "logl",
]  # fmt: skip
SCORE_COLUMNS = ["level", "rank", "parameter", "keyword", "new_at_level", "x2", "df", "pvalue"]


@dataclass(frozen=True)
class Ladder:
    """invariance.csv (one row per level) and the score tests of the failed levels."""

    table: pd.DataFrame
    scores: pd.DataFrame
    groups: dict[str, int]
    converged: dict[str, bool]


def ladder_rows(
    spec: ModelSpec, data: ResponseData, columns: list[str], missing: str
) -> tuple[pd.DataFrame, pd.Series, tuple[str, ...], str]:
    """The ladder's `columns` of the data with their group labels (rows with a blank left out
    when `missing` is listwise), the groups in order of appearance and where the labels come
    from (for messages)."""
    labels = data.id_column(spec.group, "group labels").astype(str)
    frame = data.frame[columns]
    if data.has_missing and missing == "listwise":
        keep = frame.notna().all(axis=1).to_numpy()
        frame, labels = frame[keep], labels[keep]
    return frame, labels, tuple(pd.unique(labels)), f"Data file {data.path}, column '{spec.group}'"


def fit_ladder(
    spec: ModelSpec,
    data: ResponseData,
    sem: SemConfig,
    settings: InvarianceConfig,
    levels: list[str] | None = None,
) -> Ladder:
    """Fit every level of `levels` (default `settings.levels`; names of `LEVELS`, put in
    ladder order) by ML (FIML with blank responses unless `sem.missing` is listwise) and decide
    (ordinal items: `bayeslead.sem.ordinal_ladder.fit_ordinal_ladder`)."""
    levels = list(settings.levels if levels is None else levels)
    unknown = [name for name in levels if name not in LEVELS]
    if unknown:
        raise InputError(
            f"unknown invariance levels: {', '.join(unknown)}; choose from {', '.join(LEVELS)}"
        )
    levels = sorted(dict.fromkeys(levels), key=list(LEVELS).index)
    frame, labels, groups, where = ladder_rows(spec, data, list(spec.manifest), sem.missing)
    with threadpool_limits(limits=1):
        samples = group_samples(frame, labels, groups, where)
        rows, scores, converged = [], [], {}
        previous = None
        for name in levels:
            level_spec = replace(spec, group_equal=LEVELS[name])
            table = group_table(level_spec, groups)
            solution = fit_groups(table, samples)
            converged[name] = bool(solution.converged)
            fit = group_fit_measures(table, solution.theta, samples)
            row = {"level": name, **{k: fit[k] for k in MEASURES}}
            row |= differences(fit, previous, settings, name)
            rows.append(row)
            if row["decision"] == "fails":
                new = set(LEVELS[name]) - set(LEVELS[levels[levels.index(name) - 1]])
                scores.append(score_frame(name, score_tests(table, solution.theta, samples), new))
            previous = fit
    table = pd.DataFrame(rows)
    for column in ("npar", "df", "df_diff"):
        table[column] = table[column].round().astype("Int64")
    table["established"] = (table.decision != "fails").cumprod().astype(bool)
    scores_frame = (
        pd.concat(scores, ignore_index=True) if scores else pd.DataFrame(columns=SCORE_COLUMNS)
    )
    return Ladder(
        table, scores_frame, {g: s.n for g, s in zip(groups, samples, strict=True)}, converged
    )


def differences(
    fit: dict, previous: dict | None, cut: InvarianceConfig, level: str, test: dict | None = None
) -> dict:
    """Chi-square difference test (the difference of the chi-squares, or `test`: chisq_diff,
    df_diff, p_diff of a robust difference test) and changes in CFI / RMSEA / SRMR from the
    previous level, and the decision under the cut-offs (empty for the first level)."""
    if previous is None:
        keys = ["chisq_diff", "df_diff", "p_diff", "delta_cfi", "delta_rmsea", "delta_srmr"]
        return {k: np.nan for k in keys} | {"decision": "baseline", "reason": ""}
    chisq = fit["chisq"] - previous["chisq"]
    df = fit["df"] - previous["df"]
    if test is None:
        test = {
            "chisq_diff": chisq,
            "df_diff": df,
            "p_diff": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
        }
    out = {
        **test,
        "delta_cfi": fit["cfi"] - previous["cfi"],
        "delta_rmsea": fit["rmsea"] - previous["rmsea"],
        "delta_srmr": fit["srmr"] - previous["srmr"],
    }
    srmr_cut = cut.delta_srmr_metric if level == "metric" else cut.delta_srmr
    failed = []
    if cut.rule in ("fit_indices", "both"):
        if out["delta_cfi"] < cut.delta_cfi:
            failed.append(f"delta CFI {out['delta_cfi']:.3f} < {cut.delta_cfi:.3f}")
        if out["delta_rmsea"] > cut.delta_rmsea:
            failed.append(f"delta RMSEA {out['delta_rmsea']:.3f} > {cut.delta_rmsea:.3f}")
        if out["delta_srmr"] > srmr_cut:
            failed.append(f"delta SRMR {out['delta_srmr']:.3f} > {srmr_cut:.3f}")
    if cut.rule in ("chisq", "both") and out["p_diff"] < cut.alpha:
        failed.append(f"chi-square difference p {out['p_diff']:.3g} < {cut.alpha:g}")
    out["decision"] = "fails" if failed else "holds"
    out["reason"] = "; ".join(failed)
    return out


def score_frame(level: str, tests, new: set[str]) -> pd.DataFrame:
    """The score tests of one level's equality constraints, largest first; `new_at_level` marks
    the constraints this level added (the candidates for group_partial)."""
    rows = [
        {
            "level": level,
            "rank": k + 1,
            "parameter": t.parameter,
            "keyword": t.keyword,
            "new_at_level": t.keyword in new,
            "x2": t.x2,
            "df": t.df,
            "pvalue": t.pvalue,
        }
        for k, t in enumerate(tests.parameters)
    ]
    total = tests.total
    rows.append(
        {
            "level": level,
            "rank": 0,
            "parameter": "(all constraints)",
            "keyword": "",
            "new_at_level": False,
            "x2": total.x2,
            "df": total.df,
            "pvalue": total.pvalue,
        }
    )
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)
