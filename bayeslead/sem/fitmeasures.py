"""lavaan's fit measures for ML estimation (complete data, no mean structure).

chi-square = N * F_ML; baseline = the independence model; CFI/TLI as lavaan; RMSEA with N in the
denominator and its 90% interval from the noncentral chi-square; SRMR as Bentler's (lavaan's
``srmr``); logl with the means at the sample means; AIC/BIC count the free parameters without
intercepts.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats


def chisq_fit(chisq: float, df: int, chisq_base: float, df_base: int, n: int) -> dict[str, float]:
    """p-value, CFI, TLI, RMSEA and its 90% interval from model and baseline chi-squares."""
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else float("nan")
    d_model = max(chisq - df, 0.0)
    denom = max(chisq - df, chisq_base - df_base, 0.0)
    cfi = 1.0 - d_model / denom if denom > 0 else 1.0
    if df > 0 and df_base > 0 and chisq_base / df_base != 1:
        tli = (chisq_base / df_base - chisq / df) / (chisq_base / df_base - 1.0)
    else:
        tli = 1.0
    rmsea = float(np.sqrt(d_model / (df * n))) if df > 0 else 0.0
    lower, upper = rmsea_interval(chisq, df, n)
    return {
        "pvalue": pvalue,
        "cfi": float(cfi),
        "tli": float(tli),
        "rmsea": rmsea,
        "rmsea_ci_lower": lower,
        "rmsea_ci_upper": upper,
    }


def rmsea_interval(chisq: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """Confidence interval of RMSEA via the noncentrality parameter (as lavaan)."""
    if df <= 0:
        return 0.0, 0.0
    tail = (1.0 - level) / 2.0

    def solve(prob: float) -> float:
        def f(lam: float) -> float:
            return stats.ncx2.cdf(chisq, df, lam) - prob

        if f(0.0) < 0.0:
            return 0.0
        hi = max(chisq, 1.0)
        while f(hi) > 0.0:
            hi *= 2.0
        return optimize.brentq(f, 0.0, hi, xtol=1e-10)

    lam_lower = solve(1.0 - tail)
    lam_upper = solve(tail)
    return float(np.sqrt(lam_lower / (n * df))), float(np.sqrt(lam_upper / (n * df)))


def srmr(cov: np.ndarray, sigma: np.ndarray) -> float:
    """Bentler's SRMR: residual covariances scaled by the sample SDs, over the lower triangle."""
    sd = np.sqrt(np.diag(cov))
    resid = (cov - sigma) / np.outer(sd, sd)
    rows, cols = np.tril_indices_from(resid)
    return float(np.sqrt(np.mean(resid[rows, cols] ** 2)))


def complete_data_fit(
    n: int, cov: np.ndarray, sigma: np.ndarray, fmin: float, n_free: int, fixed_x: tuple = ()
) -> dict[str, float]:
    """All fit measures of a complete-data ML fit (lavaan's `fitMeasures()` subset).

    `fixed_x` are the positions of exogenous observed variables: as lavaan's default
    ``fixed.x = TRUE`` their (co)variances are not counted in npar (they equal the sample
    values), the baseline model keeps their covariances free and logl is conditional on them.
    """
    p = cov.shape[0]
    k = len(fixed_x)
    moments = p * (p + 1) // 2
    df = moments - n_free
    npar = n_free - k * (k + 1) // 2
    chisq = n * fmin
    _, logdet_s = np.linalg.slogdet(cov)
    others = [j for j in range(p) if j not in set(fixed_x)]
    base_logdet = float(np.sum(np.log(np.diag(cov)[others])))
    if k:
        base_logdet += np.linalg.slogdet(cov[np.ix_(fixed_x, fixed_x)])[1]
    chisq_base = n * (base_logdet - logdet_s)
    df_base = moments - p - k * (k - 1) // 2
    out = {"npar": float(npar), "chisq": float(chisq), "df": float(df)}
    out |= chisq_fit(chisq, df, chisq_base, df_base, n)
    out["srmr"] = srmr(cov, sigma)
    logl_h1 = -0.5 * n * (p * np.log(2 * np.pi) + logdet_s + p)
    logl = logl_h1 - 0.5 * chisq
    if k:  # lavaan's fixed.x logl is conditional on the exogenous observed variables
        logdet_x = np.linalg.slogdet(cov[np.ix_(fixed_x, fixed_x)])[1]
        logl += 0.5 * n * (k * np.log(2 * np.pi) + logdet_x + k)
    out["logl"] = float(logl)
    out["aic"] = float(-2 * logl + 2 * npar)
    out["bic"] = float(-2 * logl + np.log(n) * npar)
    out["baseline_chisq"] = float(chisq_base)
    out["baseline_df"] = float(df_base)
    return out
