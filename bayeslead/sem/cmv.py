"""Common-method variance checks by ML: the CFA marker technique (Williams, Hartman & Cavazotte
2010), Harman's one-factor CFA, the unmeasured latent method construct (ULMC; Podsakoff et al.
2003) and the sensitivity of the structural effects to each correction.

Marker sequence (all CFAs with unit factor variances, lavaan's ``std.lv = TRUE``):
`cfa_marker` (substantive and marker factors, all correlated); `baseline` (the marker orthogonal
to the substantive factors, its loadings and item residual variances fixed at their
`cfa_marker` values); `method_c` (baseline + the marker loading equally on every substantive
item); `method_u` (those loadings free); `method_r` (method_u with the substantive correlations
fixed at their baseline values). Equal loadings are one shared free index of the parameter
table (lavaan's equality constraint). The structural models keep lavaan's marker
identification and add the method_u marker block (`sem_marker_u`) or the ULMC (`sem_ulmc`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.effects import effect_draws
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import Parameter, ParameterTable, build_partable
from bayeslead.core.spec import Factor, ModelSpec
from bayeslead.core.twolevel_model import fix_parameters
from bayeslead.sem.fitmeasures import complete_data_fit

METHOD = "CMV"


@dataclass(frozen=True)
class CfaFit:
    """One fitted covariance model: its table, estimates and fit measures."""

    name: str
    table: ParameterTable
    theta: np.ndarray
    fit: dict[str, float]
    converged: bool

    def value(self, lhs: str, op: str, rhs: str) -> float:
        p = self.table.find(lhs, op, rhs)
        return p.value if p.free < 0 else float(self.theta[p.free])


def add_loadings(
    table: ParameterTable, factor: str, items: list[str], equal: bool
) -> ParameterTable:
    """`table` with `factor` loading on `items`: one free parameter each, or one shared free
    index (an equality constraint) when `equal`."""
    first = 1 + max((p.free for p in table.params), default=-1)
    pos = {name: k for k, name in enumerate(table.variables)}
    added = [
        Parameter(
            factor, "=~", item, "loading", "A", pos[item], pos[factor], first + (0 if equal else k)
        )
        for k, item in enumerate(items)
    ]
    return ParameterTable(table.variables, table.n_manifest, table.params + tuple(added))


def with_factor(spec: ModelSpec, name: str, indicators: tuple[str, ...] = ()) -> ModelSpec:
    """`spec` with one more first-order factor (the marker, or a method factor measured only
    by the loadings added later)."""
    return dataclasses.replace(
        spec, factors=(*spec.first_order, Factor(name, indicators), *spec.second_order)
    )


def fit_cfa(
    name: str, table: ParameterTable, cov: np.ndarray, n: int, method: str | None = None
) -> CfaFit:
    """ML fit of `table` to the divisor-N covariance `cov` of its manifest variables; the
    free loadings of a `method` factor start small (0.1)."""
    start = table.start_values(cov)
    for p in table.params:
        if p.op == "=~" and p.lhs == method and p.free >= 0:
            start[p.free] = 0.1
    solution = fit_ml(table, cov, start)
    theta, fmin, converged = solution.theta, solution.fmin, bool(solution.converged)
    if not converged and method is not None:
        # a method factor at its boundary (loadings 0: their sign is not identified and the
        # information is singular); fit with the loadings at 0 and count them as estimated
        zero = {
            (p.lhs, p.op, p.rhs): 0.0
            for p in table.params
            if p.op == "=~" and p.lhs == method and p.free >= 0
        }
        inner = fix_parameters(table, zero)
        boundary = fit_ml(inner, cov, inner.start_values(cov))
        if boundary.converged and boundary.fmin <= solution.fmin:
            values = dict(
                zip(
                    ((p.lhs, p.op, p.rhs) for p in inner.params),
                    inner.values(boundary.theta),
                    strict=True,
                )
            )
            theta = np.array([values[(p.lhs, p.op, p.rhs)] for p in table.free_params])
            fmin, converged = boundary.fmin, True
    fit = complete_data_fit(n, cov, table.sigma(theta), fmin, table.n_free)
    return CfaFit(name, table, theta, fit, converged)


def chisq_difference(restricted: CfaFit, free: CfaFit) -> dict[str, float]:
    """Likelihood-ratio test of nested models (lavaan's ``lavTestLRT`` for ML)."""
    diff = restricted.fit["chisq"] - free.fit["chisq"]
    df = restricted.fit["df"] - free.fit["df"]
    return {
        "comparison": f"{restricted.name} vs {free.name}",
        "chisq_restricted": restricted.fit["chisq"],
        "df_restricted": restricted.fit["df"],
        "chisq_free": free.fit["chisq"],
        "df_free": free.fit["df"],
        "chisq_diff": diff,
        "df_diff": df,
        "pvalue": float(stats.chi2.sf(max(diff, 0.0), df)) if df > 0 else float("nan"),
    }


def covariance_of(frame: pd.DataFrame, table: ParameterTable) -> np.ndarray:
    x = frame[list(table.manifest)].to_numpy(dtype=float)
    return np.cov(x.T, bias=True)


def marker_sequence(
    spec: ModelSpec, marker: Factor, frame: pd.DataFrame, equal_loadings: bool = True
) -> tuple[list[CfaFit], list[dict[str, float]], dict[tuple[str, str, str], float]]:
    """The marker models, their chi-square comparisons, and the marker block (fixed values of
    the marker's loadings and item residual variances from `cfa_marker`)."""
    substantive = [f.name for f in spec.first_order]
    items = list(spec.items)
    cfa = with_factor(spec.measurement_model(), marker.name, marker.indicators)
    n = len(frame)
    base_table = build_partable(cfa, identification="std.lv")
    cov = covariance_of(frame, base_table)
    cfa_marker = fit_cfa("cfa_marker", base_table, cov, n)
    block = {
        (marker.name, "=~", i): cfa_marker.value(marker.name, "=~", i) for i in marker.indicators
    }
    block |= {(i, "~~", i): cfa_marker.value(i, "~~", i) for i in marker.indicators}
    orthogonal = {(marker.name, "~~", s): 0.0 for s in substantive}
    baseline_table = fix_parameters(base_table, block | orthogonal)
    baseline = fit_cfa("baseline", baseline_table, cov, n)
    fits = [cfa_marker, baseline]
    u_table = add_loadings(baseline_table, marker.name, items, equal=False)
    method_u = fit_cfa("method_u", u_table, cov, n, marker.name)
    correlations = {
        (a, "~~", b): baseline.value(a, "~~", b)
        for k, a in enumerate(substantive)
        for b in substantive[k + 1 :]
    }
    method_r = fit_cfa("method_r", fix_parameters(u_table, correlations), cov, n, marker.name)
    tests = []
    if equal_loadings:
        c_table = add_loadings(baseline_table, marker.name, items, equal=True)
        method_c = fit_cfa("method_c", c_table, cov, n, marker.name)
        fits.append(method_c)
        tests += [chisq_difference(baseline, method_c), chisq_difference(method_c, method_u)]
    fits += [method_u, method_r]
    tests += [chisq_difference(baseline, method_u), chisq_difference(method_r, method_u)]
    return fits, tests, block


def harman_cfa(
    spec: ModelSpec, frame: pd.DataFrame, ulmc: bool = False
) -> tuple[list[CfaFit], list[dict[str, float]]]:
    """Harman's test as a CFA: one factor on every substantive item against the measurement
    model (marker identification, as lavaan's ``cfa()``); with `ulmc`, the measurement model
    against the same model plus the ULMC."""
    cfa = spec.measurement_model()
    one = ModelSpec(factors=(Factor("G", cfa.items),))
    table = build_partable(cfa)
    cov = covariance_of(frame, table)
    n = len(frame)
    fits = [fit_cfa("one_factor", build_partable(one), cov, n), fit_cfa("cfa", table, cov, n)]
    tests = [chisq_difference(fits[0], fits[1])]
    if ulmc:
        fits.append(fit_cfa("ulmc_cfa", ulmc_table(cfa), cov, n, METHOD))
        tests.append(chisq_difference(fits[1], fits[2]))
    return fits, tests


def ulmc_table(spec: ModelSpec) -> ParameterTable:
    """The ULMC: a method factor (variance 1) loading equally on every item, orthogonal to the
    exogenous constructs; the rest in lavaan's marker identification."""
    table = build_partable(with_factor(spec, METHOD))
    exogenous = [v for v in spec.exogenous() if v in spec.latents]
    values = {(METHOD, "~~", METHOD): 1.0} | {(METHOD, "~~", v): 0.0 for v in exogenous}
    return add_loadings(fix_parameters(table, values), METHOD, list(spec.items), equal=True)


def standardised_method_loading(fit: CfaFit) -> float:
    """The ULMC's method loading on the standardised items (mean over the items: equal raw
    loadings differ a little once standardised)."""
    std = fit.table.standardized(fit.theta)
    rows = [k for k, p in enumerate(fit.table.params) if p.op == "=~" and p.lhs == METHOD]
    return float(np.mean(std[rows]))


def marker_sem_table(spec: ModelSpec, marker: Factor, block: dict) -> ParameterTable:
    """The structural model with the method_u marker block: marker loadings and item residual
    variances fixed at their `cfa_marker` values, marker variance 1, orthogonal to the
    exogenous constructs, free marker loadings on every substantive item."""
    table = build_partable(with_factor(spec, marker.name, marker.indicators))
    exogenous = [v for v in spec.exogenous() if v in spec.latents]
    values = block | {(marker.name, "~~", marker.name): 1.0}
    values |= {(marker.name, "~~", v): 0.0 for v in exogenous}
    return add_loadings(fix_parameters(table, values), marker.name, list(spec.items), equal=False)


def structural_sensitivity(
    spec: ModelSpec, frame: pd.DataFrame, marker: Factor | None, block: dict | None, ulmc: bool
) -> tuple[list[CfaFit], pd.DataFrame]:
    """The structural model plain, with the marker block and with the ULMC; every path and
    named effect (raw and standardised) under each."""
    n = len(frame)
    tables = [("plain", build_partable(spec), spec)]
    if marker is not None:
        augmented = with_factor(spec, marker.name, marker.indicators)
        tables.append(("marker", marker_sem_table(spec, marker, block), augmented))
    if ulmc:
        tables.append(("ulmc", ulmc_table(spec), with_factor(spec, METHOD)))
    fits, rows = [], []
    for name, table, model in tables:
        method = {"marker": marker.name if marker else None, "ulmc": METHOD}.get(name)
        fit = fit_cfa(f"sem_{name}", table, covariance_of(frame, table), n, method)
        fits.append(fit)
        std = table.standardized(fit.theta)
        for k, p in enumerate(table.params):
            if p.op == "~":
                rows.append(
                    {
                        "model": name,
                        "effect": p.key,
                        "kind": "path",
                        "est": fit.value(p.lhs, p.op, p.rhs),
                        "std_est": float(std[k]),
                    }
                )
        for d in effect_draws(model, table, fit.theta):
            rows.append(
                {
                    "model": name,
                    "effect": d.effect.name,
                    "kind": d.kind,
                    "est": float(d.raw),
                    "std_est": float(d.std),
                }
            )
    return fits, pd.DataFrame(rows)
