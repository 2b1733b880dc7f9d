"""WLSMV for ordinal items, as lavaan 0.6-14's ``estimator = "WLSMV"``: diagonally weighted
least squares on each group's thresholds and polychoric correlations, robust standard errors, the
mean-and-variance adjusted (scaled-shifted) chi-square, and Satorra's (2000) scaled-shifted
difference test of nested models (lavaan's ``lavTestLRT`` for WLSMV fits).

Sample statistics of group g: s_g = (thresholds, polychorics) and Gamma_g, lavaan's NACOV (n_g
times their asymptotic covariance; `bayeslead.core.polychoric`, blanks pairwise). Weights
W_g = 1 / diag(Gamma_g). The fit minimises F = sum_g f_g r_g' W_g r_g (r_g = s_g - sigma_g(x),
f_g = n_g / N) by Gauss-Newton steps; chi-square = N F. With Delta_g = d sigma_g / d x and the
information E = sum_g f_g Delta_g' W_g Delta_g, the robust covariance of x is
E^-1 (sum_g f_g Delta_g' W_g Gamma_g W_g Delta_g) E^-1 / N, and the scaled-shifted test uses
U Gamma = Gamma V - Delta E^-1 Delta' V Gamma V over the stacked groups (V = blocks f_g W_g,
Gamma blocks Gamma_g / f_g): a = sqrt(df / tr((U Gamma)^2)), chi-square.scaled = a chi-square +
df - a tr(U Gamma) (lavaan's ``lav_test_satorra_bentler``, ``scaled.shifted``). RMSEA uses
N - G (lavaan's N for estimators other than ML); the robust CFI / TLI / RMSEA are lavaan's
catML-based ones (`robust_measures`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, stats

from bayeslead.core.polychoric import Polychoric, polychoric
from bayeslead.sem.fitmeasures import chisq_fit, rmsea_interval
from bayeslead.sem.ordinal_table import OrdinalTable


@dataclass(frozen=True)
class OrdinalSample:
    """One group's polychoric statistics: s = (thresholds, correlations), NACOV and weights."""

    stats: Polychoric
    s: np.ndarray
    gamma: np.ndarray
    weights: np.ndarray

    @property
    def n(self) -> int:
        return self.stats.n


def ordinal_sample(x: np.ndarray) -> OrdinalSample:
    """The WLSMV sample statistics of one group's responses (N x p, NaN = blank)."""
    pc = polychoric(x, acov=True)
    s = np.concatenate([*pc.thresholds, pc.rho])
    return OrdinalSample(pc, s, pc.gamma, 1.0 / np.diag(pc.gamma))


@dataclass(frozen=True)
class DwlsFit:
    """The DWLS solution and what the robust statistics need."""

    x: np.ndarray
    fmin: float  # sum_g (n_g - 1) / N r'Wr (chi-square / N)
    iterations: int
    converged: bool
    deltas: list[np.ndarray]  # per group, d sigma_g / d x (global)
    information: np.ndarray  # E = sum_g f_g Delta_g' W_g Delta_g, f_g = n_g / N

    def chisq(self, samples: list[OrdinalSample]) -> float:
        """lavaan's test statistic, sum_g (n_g - 1) r_g' W_g r_g."""
        return self.fmin * sum(s.n for s in samples)


def _weights(samples: list[OrdinalSample]) -> np.ndarray:
    """f_g = n_g / N (lavaan's group weights of the information and the test)."""
    n = np.array([s.n for s in samples], dtype=float)
    return n / n.sum()


def _fit_weights(samples: list[OrdinalSample]) -> np.ndarray:
    """(n_g - 1) / N: lavaan 0.6-14 scales a group's DWLS discrepancy by (n_g - 1) / n_g."""
    n = np.array([s.n for s in samples], dtype=float)
    return (n - 1.0) / n.sum()


def _state(table: OrdinalTable, x: np.ndarray, samples: list[OrdinalSample]):
    fg = _fit_weights(samples)
    value, grad = 0.0, np.zeros(table.n_free)
    info = np.zeros((table.n_free, table.n_free))
    deltas = []
    for g, sample in enumerate(samples):
        phi = table.local(x, g)
        r = sample.s - table.moments(phi)
        d = table.jacobian(phi) @ table.expansion(g)
        deltas.append(d)
        wd = d * sample.weights[:, None]
        value += fg[g] * float(r @ (sample.weights * r))
        grad += fg[g] * (wd.T @ r)
        info += fg[g] * (d.T @ wd)
    return value, grad, info, deltas


def objective(table: OrdinalTable, x: np.ndarray, samples: list[OrdinalSample]) -> float:
    """F(x) = sum_g (n_g - 1) / N r_g' W_g r_g (inf where the model is not defined)."""
    fg = _fit_weights(samples)
    total = 0.0
    for g, sample in enumerate(samples):
        r = sample.s - table.moments(table.local(x, g))
        total += fg[g] * float(r @ (sample.weights * r))
    return total if np.isfinite(total) else np.inf


def fit_dwls(
    table: OrdinalTable,
    samples: list[OrdinalSample],
    start: np.ndarray,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> DwlsFit:
    """DWLS estimates by Gauss-Newton with step halving, from `start`."""
    x = np.asarray(start, dtype=float).copy()
    value, grad, info, deltas = _state(table, x, samples)
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        step = linalg.solve(info, grad, assume_a="sym")
        t = 1.0
        while t > 1e-8:
            trial = objective(table, x + t * step, samples)
            if trial <= value:
                break
            t *= 0.5
        x = x + t * step
        new_value, grad, info, deltas = _state(table, x, samples)
        change = abs(value - new_value)
        value = new_value
        if np.max(np.abs(t * step)) < 1e-8 or change < tol * max(value, 1e-12):
            converged = bool(np.max(np.abs(grad)) < 1e-6)
            if converged:
                break
    fg = _weights(samples)
    information = sum(
        f * (d.T @ (d * s.weights[:, None])) for f, d, s in zip(fg, deltas, samples, strict=True)
    )
    return DwlsFit(x, value, iterations, converged, deltas, information)


def robust_covariance(fit: DwlsFit, samples: list[OrdinalSample]) -> np.ndarray:
    """lavaan's ``se = "robust.sem"``: E^-1 (sum_g f_g D'W Gamma W D) E^-1 / (N - G)."""
    fg = _weights(samples)
    n = sum(s.n for s in samples) - len(samples)
    meat = np.zeros_like(fit.information)
    for g, sample in enumerate(samples):
        wd = fit.deltas[g] * sample.weights[:, None]
        meat += fg[g] * (wd.T @ sample.gamma @ wd)
    e_inv = np.linalg.inv(fit.information)
    return e_inv @ meat @ e_inv / n


def _stacked(samples: list[OrdinalSample]):
    fg = _weights(samples)
    v = linalg.block_diag(*[f * np.diag(s.weights) for f, s in zip(fg, samples, strict=True)])
    gamma = linalg.block_diag(*[s.gamma / f for f, s in zip(fg, samples, strict=True)])
    return v, gamma


def ug_traces(
    deltas: list[np.ndarray], information: np.ndarray, samples: list[OrdinalSample]
) -> tuple[float, float]:
    """tr(U Gamma) and tr((U Gamma)^2) of a model (lavaan's ``trace.UGamma``, ``...2``)."""
    v, gamma = _stacked(samples)
    d = np.vstack(deltas)
    ug = gamma @ v
    if d.shape[1]:
        ug = ug - d @ np.linalg.solve(information, d.T) @ v @ gamma @ v
    return float(np.trace(ug)), float(np.sum(ug * ug.T))


def scaled_shifted(chisq: float, df: float, tr1: float, tr2: float) -> dict[str, float]:
    """The scaled-shifted statistic, its scaling factor (1/a) and shift (b)."""
    if df <= 0:
        return {"chisq_scaled": chisq, "scaling_factor": np.nan, "shift": np.nan}
    a = np.sqrt(df / tr2)
    b = df - a * tr1
    return {"chisq_scaled": a * chisq + b, "scaling_factor": 1.0 / a, "shift": b}


def baseline_test(samples: list[OrdinalSample], n_thresholds: int) -> dict[str, float]:
    """lavaan's baseline for ordinal items: thresholds free, polychorics 0, in every group."""
    n = sum(s.n for s in samples)
    fg = _weights(samples)
    chisq = sum(
        (s.n - 1) * float(np.sum(s.weights[n_thresholds:] * s.s[n_thresholds:] ** 2))
        for s in samples
    )
    df = sum(len(s.s) - n_thresholds for s in samples)
    size = len(samples[0].s)
    deltas, info = [], np.zeros((n_thresholds * len(samples),) * 2)
    for g, s in enumerate(samples):
        d = np.zeros((size, n_thresholds * len(samples)))
        d[np.arange(n_thresholds), g * n_thresholds + np.arange(n_thresholds)] = 1.0
        deltas.append(d)
        info += fg[g] * (d.T @ (d * s.weights[:, None]))
    tr1, tr2 = ug_traces(deltas, info, samples)
    return {"chisq": chisq, "df": float(df), "n": float(n)} | scaled_shifted(chisq, df, tr1, tr2)


def difference_test(
    restricted: DwlsFit,
    free: DwlsFit,
    chisq_diff: float,
    df_diff: int,
    samples: list[OrdinalSample],
) -> dict[str, float]:
    """Satorra's (2000) scaled-shifted difference test of `restricted` nested in `free`
    (lavaan's ``lav_test_diff_Satorra2000`` with ``A.method = "delta"``, reference H1)."""
    if df_diff <= 0:
        return {"chisq_diff": chisq_diff, "df_diff": df_diff, "p_diff": np.nan}
    d1 = np.vstack(free.deltas)
    d0 = np.vstack(restricted.deltas)
    h = np.linalg.pinv(d1) @ d0
    u, sing, _ = np.linalg.svd(h, full_matrices=True)
    rank = int(np.sum(sing > sing.max() * max(h.shape) * np.finfo(float).eps))
    a = u[:, rank:].T  # the orthogonal complement of H's columns: A H = 0
    p_inv = np.linalg.inv(free.information)
    apa = a @ p_inv @ a.T
    p_aa_p = p_inv @ a.T @ np.linalg.pinv(apa) @ a @ p_inv
    # lavaan: V = blocks W_g, Gamma = blocks f_g Gamma_g (tr(U Gamma) is then the f_g-weighted
    # sum of the groups' traces, as lavaan computes it)
    fg = _weights(samples)
    gamma = linalg.block_diag(*[f * s.gamma for f, s in zip(fg, samples, strict=True)])
    v = linalg.block_diag(*[np.diag(s.weights) for s in samples])
    ug = v @ d1 @ p_aa_p @ d1.T @ v @ gamma
    tr1 = float(np.trace(ug))
    tr2 = float(np.sum(ug * ug.T))
    scale = np.sqrt(df_diff / tr2)
    shift = df_diff - scale * tr1
    statistic = chisq_diff * scale + shift
    return {
        "chisq_diff": float(statistic),
        "df_diff": df_diff,
        "p_diff": float(stats.chi2.sf(statistic, df_diff)),
    }


def wlsmv_fit_measures(
    table: OrdinalTable, fit: DwlsFit, samples: list[OrdinalSample]
) -> dict[str, float]:
    """lavaan 0.6-14's ``fitMeasures`` of a WLSMV fit: the standard and scaled-shifted
    chi-squares, baseline, CFI / TLI / RMSEA (multi-group: times sqrt(G)) from each, and SRMR
    (per group over the correlations with the zero diagonal, weighted by n_g / N)."""
    n, n_groups = sum(s.n for s in samples), len(samples)
    k = sum(table.n_thresholds)
    chisq = fit.chisq(samples)
    df = float(n_groups * table.n_moments - table.n_free)
    tr1, tr2 = ug_traces(fit.deltas, fit.information, samples)
    scaled = scaled_shifted(chisq, df, tr1, tr2)
    base = baseline_test(samples, k)
    out = {"npar": float(table.n_free), "chisq": chisq, "df": df}
    n_rmsea = n - n_groups  # lavaan's N for RMSEA when the estimator is not ML
    standard = chisq_fit(chisq, int(df), base["chisq"], int(base["df"]), n_rmsea)
    robust = chisq_fit(
        scaled["chisq_scaled"], int(df), base["chisq_scaled"], int(base["df"]), n_rmsea
    )
    for key in ("rmsea", "rmsea_ci_lower", "rmsea_ci_upper"):
        standard[key] *= np.sqrt(n_groups)
        robust[key] *= np.sqrt(n_groups)
    out |= standard
    out |= {
        "chisq_scaled": scaled["chisq_scaled"],
        "df_scaled": df,
        "pvalue_scaled": robust["pvalue"],
        "chisq_scaling_factor": scaled["scaling_factor"],
        "chisq_shift_parameter": scaled["shift"],
    }
    out |= {f"{key}_scaled": robust[key] for key in robust if key != "pvalue"}
    p = table.p
    fg = _weights(samples)
    srmr = 0.0
    for g, sample in enumerate(samples):
        resid = sample.s[k:] - table.moments(table.local(fit.x, g))[k:]
        srmr += fg[g] * np.sqrt(np.sum(resid**2) / (p * (p + 1) / 2))
    out["srmr"] = float(srmr)
    out["baseline_chisq"] = base["chisq"]
    out["baseline_df"] = base["df"]
    out["baseline_chisq_scaled"] = base["chisq_scaled"]
    return out | robust_measures(table, fit, samples, df, base["df"])


def robust_measures(
    table: OrdinalTable, fit: DwlsFit, samples: list[OrdinalSample], df: float, df_base: float
) -> dict[str, float]:
    """lavaan 0.6-14's robust CFI / TLI / RMSEA of a categorical fit (Savalei 2021,
    ``lav_fit_catml_dwls``): the normal-theory (catML) discrepancy of the polychoric matrices at
    the DWLS estimates, its scaling c = tr(U' V U Gamma) / df (V the catML weight, U = I -
    Delta E^-1 Delta' W on the correlations), and the independence model's. lavaan gives them
    only for models without equalities across groups (NaN otherwise, as lavaan's NA)."""
    keys = ["cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper"]
    nan = {f"{key}_robust": np.nan for key in keys}
    first, others = table.index[0], table.index[1:]
    if np.intersect1d(first[first >= 0], others[others >= 0]).size:
        return nan
    p, k = table.p, sum(table.n_thresholds)
    fg = _weights(samples)
    rows, cols = np.triu_indices(p, 1)
    xx3 = xx3_null = 0.0
    v_blocks, w_blocks, gamma_blocks, deltas = [], [], [], []
    for g, sample in enumerate(samples):
        corr = sample.stats.corr
        implied = np.eye(p)
        implied[rows, cols] = implied[cols, rows] = table.moments(table.local(fit.x, g))[k:]
        inv = np.linalg.inv(implied)
        logdet_r = np.linalg.slogdet(corr)[1]
        discrepancy = np.linalg.slogdet(implied)[1] + np.trace(corr @ inv) - logdet_r - p
        xx3 += sample.n * discrepancy
        xx3_null -= sample.n * logdet_r
        # the ML weight of the correlations, 1/2 D'(S^-1 x S^-1)D on the off-diagonal pairs
        a, b = inv[rows], inv[cols]
        weight = a[:, rows] * b[:, cols] + a[:, cols] * b[:, rows]
        v_blocks.append(fg[g] * weight)
        w_blocks.append(fg[g] * np.diag(sample.weights[k:]))
        gamma_blocks.append(sample.gamma[k:, k:] / fg[g])
        deltas.append(fit.deltas[g][k:])
    delta = np.vstack(deltas)
    w = linalg.block_diag(*w_blocks)
    u = np.eye(len(w)) - delta @ np.linalg.solve(fit.information, delta.T) @ w
    gamma = linalg.block_diag(*gamma_blocks)
    thresholds = len(np.unique(table.index[:, table.blocks()["tau"]]))
    df3 = len(samples) * len(rows) - (table.n_free - thresholds)
    c_hat = float(np.trace(u.T @ linalg.block_diag(*v_blocks) @ u @ gamma)) / df3
    c_null = float(np.trace(gamma)) / (len(samples) * len(rows))
    t1 = max(xx3 - c_hat * df, 0.0)
    t2 = max(xx3 - c_hat * df, xx3_null - c_null * df_base, 0.0)
    n = sum(s.n for s in samples) - len(samples)
    scale = np.sqrt(len(samples))
    lower, upper = rmsea_interval(xx3 / c_hat, int(df3), n)
    return {
        "cfi_robust": 1.0 - t1 / t2 if t2 > 0 else 1.0,
        "tli_robust": 1.0 - (xx3 - c_hat * df) * df_base / ((xx3_null - c_null * df_base) * df),
        "rmsea_robust": float(np.sqrt(max(xx3 / n / df3 - c_hat / n, 0.0)) * scale),
        "rmsea_ci_lower_robust": lower * np.sqrt(c_hat) * scale,
        "rmsea_ci_upper_robust": upper * np.sqrt(c_hat) * scale,
    }
