"""Ordinal items in the ML engine: WLSMV (`engine: sem` with `bayes.indicators: ordinal` or
`sem.estimator: WLSMV`), as lavaan's ``cfa(..., ordered = items, estimator = "WLSMV")``.

One group: lavaan's default identification (marker loading 1, delta parameterization, or theta
with `sem.parameterization: theta`).
With `data.group`: every group's own polychorics, and `group_equal` (``thresholds``,
``loadings``, ``intercepts``) identified as ``semTools::measEq.syntax(ID.fac = "std.lv",
ID.cat = "Wu.Estabrook.2016")`` (`bayeslead.sem.ordinal_table`). Blank responses: pairwise
(lavaan's ``missing = "pairwise"``), or listwise with `sem.missing: listwise`; `sem.missing:
fiml` is refused (WLSMV has no full-information estimator). Estimates with robust standard
errors (lavaan's ``robust.sem``); fit measures with the scaled-shifted chi-square
(`bayeslead.sem.wlsmv`); with groups, the differences of paths (loadings equal) and latent means
(thresholds, loadings and intercepts equal: scalar) between groups, or a warning saying why not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from bayeslead.config import SemConfig
from bayeslead.core.groups import compact_key
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem
from bayeslead.results import EFFECT_COLUMNS, FitResult
from bayeslead.sem.group_tables import comparable, group_differences
from bayeslead.sem.ordinal_table import (
    ORDINAL_EQUAL,
    OrdinalTable,
    build_ordinal_table,
    start_values,
)
from bayeslead.sem.quality import measurement_quality
from bayeslead.sem.wlsmv import (
    DwlsFit,
    OrdinalSample,
    fit_dwls,
    ordinal_sample,
    robust_covariance,
    wlsmv_fit_measures,
)

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class OrdinalFit:
    """One WLSMV fit: the table, the solution, robust covariance and fit measures."""

    table: OrdinalTable
    fit: DwlsFit
    cov: np.ndarray
    measures: dict[str, float]


def check_ordinal_model(spec: ModelSpec, settings: SemConfig) -> None:
    """`InputError` for what the WLSMV route does not estimate."""
    where = "bayes.indicators: ordinal (WLSMV in engine: sem)"
    reasons = []
    if spec.cluster:
        reasons.append("two-level models (data.cluster)")
    if spec.interactions:
        reasons.append("latent interactions (A:B paths)")
    if spec.observed:
        reasons.append(f"observed (non-item) variables ({', '.join(spec.observed)})")
    if spec.settings:
        reasons.append("labels, fixed values and equality constraints in the model syntax")
    allowed = set(ORDINAL_EQUAL) | (
        {"residuals"} if settings.parameterization == "theta" else set()
    )
    unknown = sorted(set(spec.group_equal) - allowed)
    if unknown:
        reasons.append(
            f"group_equal {', '.join(unknown)} (ordinal items: {', '.join(sorted(allowed))}; "
            "residuals need sem.parameterization: theta)"
        )
    if "intercepts" in spec.group_equal and "thresholds" not in spec.group_equal:
        reasons.append(
            "group_equal intercepts without thresholds (the latent means are identified only "
            "once thresholds are equal too)"
        )
    if settings.missing == "fiml":
        reasons.append("sem.missing: fiml (WLSMV uses pairwise present responses)")
    if spec.effects or spec.definitions:
        reasons.append("named effects and ':=' definitions (not computed for WLSMV fits)")
    if reasons:
        raise InputError(f"{where} does not support {'; '.join(reasons)}")


def ordinal_samples(
    frame: pd.DataFrame, labels: pd.Series | None, groups: tuple[str, ...], where: str
) -> list[OrdinalSample]:
    """Each group's polychoric statistics; `InputError` for an item with one category, or
    whose categories differ between groups (thresholds would not be comparable)."""
    samples, levels = [], None
    for g in groups:
        rows = frame if labels is None else frame[(labels == g).to_numpy()]
        constant = [c for c in rows.columns if rows[c].nunique(dropna=True) < 2]
        if constant:
            raise InputError(
                f"{where}: {'in group ' + repr(g) + ' ' if labels is not None else ''}every "
                f"respondent gave the same answer to {', '.join(constant)}: an ordinal item "
                "needs at least two observed categories"
            )
        sample = ordinal_sample(rows.to_numpy(dtype=float))
        if levels is None:
            levels = sample.stats.levels
        for name, mine, first in zip(rows.columns, sample.stats.levels, levels, strict=True):
            if len(mine) != len(first) or np.any(mine != first):
                raise InputError(
                    f"{where}: item {name} has categories {mine.tolist()} in group {g!r} but "
                    f"{first.tolist()} in group {groups[0]!r}; thresholds can only be compared "
                    "when every group uses every category (merge sparse categories)"
                )
        samples.append(sample)
    return samples


def fit_ordinal(
    spec: ModelSpec,
    samples: list[OrdinalSample],
    groups: tuple[str, ...],
    group_equal: tuple[str, ...] = (),
    group_partial: tuple[str, ...] = (),
    parameterization: str = "delta",
) -> OrdinalFit:
    """The WLSMV fit of `spec` with `group_equal` and `group_partial` (Wu & Estabrook
    identification)."""
    n_thresholds = tuple(len(t) for t in samples[0].stats.thresholds)
    if "thresholds" in group_equal:
        binary = [i for i, k in zip(spec.items, n_thresholds, strict=True) if k < 2]
        if binary:
            raise InputError(
                f"equal thresholds identify an item's intercept and scale only with three or "
                f"more categories (Wu & Estabrook 2016); binary items: {', '.join(binary)}"
            )
    table = build_ordinal_table(
        spec, groups, n_thresholds, group_equal, group_partial, parameterization
    )
    known = {compact_key(k) for k in table.keys}
    unknown = [k for k in group_partial if compact_key(k) not in known]
    if unknown:
        raise InputError(
            f"group_partial: {', '.join(unknown)} names no parameter of the ordinal model "
            "(write lavaan keys such as 'y3 ~ 1', 'f1 =~ y3' or 'y3 | t1')"
        )
    start = start_values(
        table,
        [s.stats.corr for s in samples],
        [np.concatenate(s.stats.thresholds) for s in samples],
    )
    fit = fit_dwls(table, samples, start)
    cov = robust_covariance(fit, samples)
    return OrdinalFit(table, fit, cov, wlsmv_fit_measures(table, fit, samples))


def ordinal_estimates(result: OrdinalFit) -> pd.DataFrame:
    """estimates.csv rows of every group: lavaan's keys (``y1 | t1`` thresholds, ``y1 ~*~ y1``
    scales, residual variances computed from the scales), robust SEs, Wald intervals and
    std.all (latent responses and latents at unit variance)."""
    table, x, cov = result.table, result.fit.x, result.cov
    se_all = np.sqrt(np.clip(np.diag(cov), 0, None))
    rows = []
    multi = len(table.groups) > 1
    for g, label in enumerate(table.groups):
        phi = table.local(x, g)
        parts = table.parts(phi)
        items = {name: i for i, name in enumerate(table.base.manifest)}
        latents = {name: j for j, name in enumerate(table.base.variables[table.p :])}
        a, s = table.base.matrices(phi[: table.q])
        s[np.arange(table.p), np.arange(table.p)] = 0.0
        inv = np.linalg.inv(np.eye(a.shape[0]) - a)
        total = inv @ s @ inv.T
        sd = np.sqrt(np.diag(total))
        sd[: table.p] = 1.0 / parts["delta"]
        position = {name: i for i, name in enumerate(table.base.variables)}
        for k, key in enumerate(table.keys):
            lhs, op, *rest = key.split()
            rhs = rest[0] if rest else ""
            index = table.index[g, k]
            est = phi[k]
            if op == "~~" and lhs == rhs and lhs in items:
                est = parts["residual"][items[lhs]]
            elif op == "~*~":
                est = parts["delta"][items[lhs]]
            se = se_all[index] if index >= 0 else np.nan
            if op == "=~":
                std = est * sd[position[lhs]] / sd[position[rhs]]
            elif op == "~":
                std = est * sd[position[rhs]] / sd[position[lhs]]
            elif op == "~~":
                std = est / (sd[position[lhs]] * sd[position[rhs]])
            elif op == "|":
                std = est * parts["delta"][items[lhs]]
            elif op == "~1":
                std = (
                    est / sd[position[lhs]] if lhs in latents else est * parts["delta"][items[lhs]]
                )
            else:
                std = 1.0
            z = est / se if se > 0 else np.nan
            rows.append(
                {
                    "lhs": lhs,
                    "op": op,
                    "rhs": rhs,
                    "label": "",
                    **({"group": label} if multi else {}),
                    "est": est,
                    "se": se if index >= 0 else 0.0,
                    "z": z,
                    "pvalue": 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan,
                    "ci_lower": est - Z95 * se if index >= 0 else est,
                    "ci_upper": est + Z95 * se if index >= 0 else est,
                    "std_est": std,
                }
            )
    return pd.DataFrame(rows)


def fit_sem_ordinal(spec: ModelSpec, data: ResponseData, settings: SemConfig) -> FitResult:
    """WLSMV fit of `spec` (one group, or every group of `spec.group`)."""
    check_ordinal_model(spec, settings)
    started = time.perf_counter()
    frame = data.frame[list(spec.items)]
    problems: list[Problem] = []
    labels = data.id_column(spec.group, "group labels").astype(str) if spec.group else None
    n_input = len(frame)
    if data.has_missing and settings.missing == "listwise":
        keep = frame.notna().all(axis=1)
        frame = frame[keep]
        labels = labels[keep] if labels is not None else None
        problems.append(
            Problem("data", f"listwise deletion dropped {n_input - len(frame)} rows", "warning")
        )
    groups = tuple(pd.unique(labels)) if labels is not None else ("",)
    where = f"Data file {data.path}" + (f", column '{spec.group}'" if spec.group else "")
    if labels is not None and len(groups) < 2:
        raise InputError(f"{where}: only one group ({groups[0]!r}); remove data.group")
    with threadpool_limits(limits=1):
        samples = ordinal_samples(frame, labels, groups, where)
        result = fit_ordinal(
            spec,
            samples,
            groups,
            tuple(spec.group_equal),
            tuple(spec.group_partial),
            settings.parameterization,
        )
    if not result.fit.converged:
        problems.append(
            Problem("estimation", "DWLS did not converge; estimates are not trustworthy")
        )
    estimates = ordinal_estimates(result)
    negative = estimates[(estimates.op == "~~") & (estimates.lhs == estimates.rhs)]
    for _, row in negative[negative.est < 0].iterrows():
        problems.append(
            Problem(
                f"{row.lhs} ~~ {row.rhs}",
                f"Heywood case: negative variance {row.est:.4f}",
                "warning",
            )
        )
    info: dict[str, object] = {
        "estimator": "WLSMV",
        "estimator_detail": (
            "DWLS on polychoric correlations and thresholds, robust standard errors, "
            "scaled-shifted chi-square (lavaan 0.6-14 WLSMV)"
        ),
        "n_input": int(n_input),
        "n": int(sum(s.n for s in samples)),
        "missing": "pairwise" if data.has_missing and settings.missing != "listwise" else "none",
        "converged": bool(result.fit.converged),
        "iterations": int(result.fit.iterations),
        "n_free": result.table.n_free,
        "parameterization": settings.parameterization,
        "se": "robust (lavaan's robust.sem)",
    }
    if spec.group:
        info |= {
            "groups": {g: s.n for g, s in zip(groups, samples, strict=True)},
            "reference_group": groups[0],
            "group_equal": list(spec.group_equal),
            "group_partial": list(spec.group_partial),
            "identification": "semTools measEq.syntax(ID.fac = 'std.lv', "
            "ID.cat = 'Wu.Estabrook.2016')",
        }
    if settings.bootstrap > 0:
        info["bootstrap"] = "not available for WLSMV fits (robust standard errors)"
    extra_tables = {}
    if spec.group:  # latent means need thresholds, loadings and intercepts (at least partly) equal
        loadings = "loadings" in spec.group_equal
        paths_ok, means_ok, sentence = comparable(
            loadings, loadings and "intercepts" in spec.group_equal
        )
        info["invariance"] = sentence
        if not means_ok:
            problems.append(Problem("group comparison", sentence, "warning"))
        extra_tables["group_differences"] = group_differences(
            spec, result.table, result.fit.x, result.cov, paths_ok, means_ok
        )
    reliability, htmt, correlations = measurement_quality(spec, frame)
    if correlations is not None:
        extra_tables["latent_correlations"] = correlations
    return FitResult(
        engine="sem",
        estimates=estimates,
        effects=pd.DataFrame(columns=EFFECT_COLUMNS),
        fit=result.measures,
        info=info,
        reliability=reliability,
        htmt=htmt,
        extra_tables=extra_tables,
        problems=problems,
        timings={"estimation_s": round(time.perf_counter() - started, 3)},
        theta=result.fit.x,
        theta_cov=result.cov,
    )
