"""Polychoric correlations (two-step, pairwise present) and their asymptotic covariance:
sample statistics of ordinal items, model-free, for both engines (the ML engine's WLSMV,
`bayeslead.sem.wlsmv`; the Bayesian limited-information route).

Step 1: each item's thresholds from its own observed marginal (normal quantiles of the
cumulative category shares). Step 2: each pair's correlation by ML on its bivariate table (cases
where both items are observed), thresholds fixed at step 1 (Olsson 1979, two-step), Fisher
scoring from the Pearson correlation of the codes. Step 3: the asymptotic covariance of
(thresholds, correlations) as lavaan's ``muthen1984`` computes it (Muthen 1984; Muthen &
Satorra 1995): the sandwich ``B^-1 (S'S) B^-T`` of the stacked casewise scores S (a missing
response scores 0), the bread B built from outer products of scores (A11 per item, A21 = scores
of rho times the pair's threshold scores, A22 diagonal). lavaan's NACOV
(``lavInspect(fit, "gamma")``) is N times that.

Every casewise quantity depends only on the cell (category pair) of the case, so all work is on
K x K tables; only the meat S'S needs the N x (thresholds + pairs) score matrix. Matches lavaan
0.6-14 (``estimator = "WLSMV", missing = "pairwise"``) to 1e-7 on psych's bfi
(`tests/core/test_polychoric.py`). Like lavaan, cell probabilities are floored at
``eps^(2/3)`` and there is no continuity correction (psych adds one: it differs by about 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy import stats

from bayeslead.core.bivariate import INF, bvn_cdf, bvn_pdf, norm_cdf, norm_pdf


@numba.njit(cache=True)
def _cell_probs(t1, t2, k1, k2, rho, pi, dpi):
    """Cell probabilities (k1 x k2) and their derivative in rho; t1, t2 padded with -INF / INF."""
    for a in range(k1):
        for b in range(k2):
            pi[a, b] = (
                bvn_cdf(t1[a + 1], t2[b + 1], rho)
                - bvn_cdf(t1[a], t2[b + 1], rho)
                - bvn_cdf(t1[a + 1], t2[b], rho)
                + bvn_cdf(t1[a], t2[b], rho)
            )
            if pi[a, b] < 3.7e-11:  # lavaan's floor, .Machine$double.eps^(2/3)
                pi[a, b] = 3.7e-11
            dpi[a, b] = (
                bvn_pdf(t1[a + 1], t2[b + 1], rho)
                - bvn_pdf(t1[a], t2[b + 1], rho)
                - bvn_pdf(t1[a + 1], t2[b], rho)
                + bvn_pdf(t1[a], t2[b], rho)
            )


@numba.njit(cache=True)
def _pair_tables(codes, ncat, pairs, kmax):
    n, p = codes.shape
    m = pairs.shape[0]
    tables = np.zeros((m, kmax, kmax))
    for q in range(m):
        i = pairs[q, 0]
        j = pairs[q, 1]
        for r in range(n):
            a = codes[r, i]
            b = codes[r, j]
            if a >= 0 and b >= 0:
                tables[q, a, b] += 1.0
    return tables


@numba.njit(cache=True)
def _fit_pairs(tables, padded, ncat, pairs, start, tol, max_iter):
    """ML correlation of every pair (Fisher scoring, thresholds fixed); returns rho, iterations."""
    m = pairs.shape[0]
    kmax = tables.shape[1]
    rho = start.copy()
    iters = np.zeros(m, dtype=np.int64)
    pi = np.empty((kmax, kmax))
    dpi = np.empty((kmax, kmax))
    for q in range(m):
        i = pairs[q, 0]
        j = pairs[q, 1]
        k1 = ncat[i]
        k2 = ncat[j]
        total = 0.0
        for a in range(k1):
            for b in range(k2):
                total += tables[q, a, b]
        r = rho[q]
        for it in range(max_iter):
            _cell_probs(padded[i], padded[j], k1, k2, r, pi, dpi)
            g = 0.0
            info = 0.0
            for a in range(k1):
                for b in range(k2):
                    g += tables[q, a, b] * dpi[a, b] / pi[a, b]
                    info += total * dpi[a, b] * dpi[a, b] / pi[a, b]
            step = g / info
            new = r + step
            if new > 0.9999:
                new = 0.5 * (r + 0.9999)
            elif new < -0.9999:
                new = 0.5 * (r - 0.9999)
            iters[q] = it + 1
            if abs(new - r) < tol:
                r = new
                break
            r = new
        rho[q] = r
    return rho, iters


@numba.njit(cache=True, inline="always")
def _edge(u, upper, lower, r, sr):
    """phi(u) times P(lower < other < upper | this item's y* = u) of a bivariate normal."""
    return norm_pdf(u) * (norm_cdf((upper - r * u) / sr) - norm_cdf((lower - r * u) / sr))


@numba.njit(cache=True)
def _pair_scores(tables, padded, ncat, pairs, rho, kmax):
    """Per-cell scores of each pair: d log pi / d rho and d log pi / d thresholds of both items.

    s_rho: (m, K, K); s_th1, s_th2: (m, K, K, K - 1) (threshold index of item 1 / item 2)."""
    m = pairs.shape[0]
    s_rho = np.zeros((m, kmax, kmax))
    s_th1 = np.zeros((m, kmax, kmax, kmax - 1))
    s_th2 = np.zeros((m, kmax, kmax, kmax - 1))
    pi = np.empty((kmax, kmax))
    dpi = np.empty((kmax, kmax))
    for q in range(m):
        i = pairs[q, 0]
        j = pairs[q, 1]
        k1 = ncat[i]
        k2 = ncat[j]
        t1 = padded[i]
        t2 = padded[j]
        r = rho[q]
        sr = math.sqrt(1.0 - r * r)
        _cell_probs(t1, t2, k1, k2, r, pi, dpi)
        for a in range(k1):
            for b in range(k2):
                s_rho[q, a, b] = dpi[a, b] / pi[a, b]
                # a threshold's score: the density at it times the other item's interval
                if a < k1 - 1:
                    s_th1[q, a, b, a] += _edge(t1[a + 1], t2[b + 1], t2[b], r, sr) / pi[a, b]
                if a > 0:
                    s_th1[q, a, b, a - 1] -= _edge(t1[a], t2[b + 1], t2[b], r, sr) / pi[a, b]
                if b < k2 - 1:
                    s_th2[q, a, b, b] += _edge(t2[b + 1], t1[a + 1], t1[a], r, sr) / pi[a, b]
                if b > 0:
                    s_th2[q, a, b, b - 1] -= _edge(t2[b], t1[a + 1], t1[a], r, sr) / pi[a, b]
    return s_rho, s_th1, s_th2


@numba.njit(cache=True)
def _casewise_scores(codes, ncat, th_start, n_th, pairs, uni_scores, s_rho):
    """Stacked casewise scores (N, thresholds + pairs); missing responses score 0."""
    n, p = codes.shape
    m = pairs.shape[0]
    total_th = th_start[p - 1] + n_th[p - 1]
    out = np.zeros((n, total_th + m))
    for r in range(n):
        for i in range(p):
            c = codes[r, i]
            if c >= 0:
                for k in range(n_th[i]):
                    out[r, th_start[i] + k] = uni_scores[i, c, k]
        for q in range(m):
            a = codes[r, pairs[q, 0]]
            b = codes[r, pairs[q, 1]]
            if a >= 0 and b >= 0:
                out[r, total_th + q] = s_rho[q, a, b]
    return out


@dataclass(frozen=True)
class Polychoric:
    """Two-step polychoric correlations of p ordinal items and their asymptotic covariance.

    `corr` (p, p); `thresholds` per item; `rho` the correlations in lavaan's order (row-major
    upper triangle: (1,2), (1,3), ..., (p-1,p)); `gamma` lavaan's NACOV, the asymptotic
    covariance of sqrt(N) x (thresholds, rho) (None unless requested); `n` cases (rows),
    `n_pair` cases observed on each pair.
    """

    corr: np.ndarray
    thresholds: list[np.ndarray]
    rho: np.ndarray
    pairs: np.ndarray
    n: int
    n_pair: np.ndarray
    gamma: np.ndarray | None
    levels: list[np.ndarray]
    iterations: np.ndarray

    @property
    def n_thresholds(self) -> int:
        return int(sum(len(t) for t in self.thresholds))

    @property
    def gamma_rho(self) -> np.ndarray:
        """Asymptotic covariance of sqrt(N) x rho (the correlation block of `gamma`)."""
        k = self.n_thresholds
        return self.gamma[k:, k:]

    @property
    def acov_rho(self) -> np.ndarray:
        """Sampling covariance of rho (gamma / N)."""
        return self.gamma_rho / self.n


def encode(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Integer category codes 0..K-1 per item (its sorted observed values), -1 where missing."""
    x = np.asarray(x, dtype=float)
    codes = np.full(x.shape, -1, dtype=np.int64)
    levels = []
    for j in range(x.shape[1]):
        seen = ~np.isnan(x[:, j])
        values, inverse = np.unique(x[seen, j], return_inverse=True)
        if len(values) < 2:
            raise ValueError(f"item {j} has fewer than two observed categories")
        codes[seen, j] = inverse
        levels.append(values)
    return codes, levels


def polychoric(x: np.ndarray, acov: bool = True, tol: float = 1e-10) -> Polychoric:
    """Two-step polychoric correlations of the columns of `x` (NaN = missing), pairwise present,
    and (with `acov`) lavaan's NACOV of (thresholds, correlations)."""
    codes, levels = encode(x)
    n, p = codes.shape
    ncat = np.array([len(v) for v in levels], dtype=np.int64)
    kmax = int(ncat.max())
    padded = np.full((p, kmax + 1), INF)
    thresholds = []
    counts = np.zeros((p, kmax))
    for j in range(p):
        seen = codes[:, j] >= 0
        counts[j, : ncat[j]] = np.bincount(codes[seen, j], minlength=ncat[j])
        th = stats.norm.ppf(np.cumsum(counts[j, : ncat[j]])[:-1] / seen.sum())
        thresholds.append(th)
        padded[j, 0] = -INF
        padded[j, 1 : ncat[j]] = th
    iu = np.triu_indices(p, 1)
    pairs = np.ascontiguousarray(np.column_stack(iu).astype(np.int64))
    tables = _pair_tables(codes, ncat, pairs, kmax)
    n_pair = tables.sum(axis=(1, 2))
    # start at the Pearson correlation of the codes (pairwise present), as lavaan does
    start = np.empty(len(pairs))
    z = np.where(codes >= 0, codes, np.nan).astype(float)
    for q, (i, j) in enumerate(pairs):
        both = ~np.isnan(z[:, i]) & ~np.isnan(z[:, j])
        start[q] = np.clip(np.corrcoef(z[both, i], z[both, j])[0, 1], -0.95, 0.95)
    rho, iterations = _fit_pairs(tables, padded, ncat, pairs, start, tol, 100)
    corr = np.eye(p)
    corr[iu] = rho
    corr[(iu[1], iu[0])] = rho
    gamma = _gamma(codes, ncat, padded, counts, pairs, tables, rho, kmax) if acov else None
    return Polychoric(corr, thresholds, rho, pairs, n, n_pair, gamma, levels, iterations)


def _gamma(codes, ncat, padded, counts, pairs, tables, rho, kmax) -> np.ndarray:
    """lavaan's NACOV: N x B^-1 (S'S) B^-T (see the module docstring)."""
    n, p = codes.shape
    n_th = ncat - 1
    th_start = np.concatenate([[0], np.cumsum(n_th)[:-1]]).astype(np.int64)
    total_th = int(n_th.sum())
    m = len(pairs)
    # univariate probit scores per category: d log P(c) / d tau_k
    uni = np.zeros((p, kmax, kmax - 1))
    for j in range(p):
        t = padded[j]
        prob = np.diff(stats.norm.cdf(np.r_[-np.inf, t[1 : ncat[j]], np.inf]))
        dens = stats.norm.pdf(t[1 : ncat[j]])
        for c in range(ncat[j]):
            if c < ncat[j] - 1:
                uni[j, c, c] += dens[c] / prob[c]
            if c > 0:
                uni[j, c, c - 1] -= dens[c - 1] / prob[c]
    s_rho, s_th1, s_th2 = _pair_scores(tables, padded, ncat, pairs, rho, kmax)
    scores = _casewise_scores(codes, ncat, th_start, n_th, pairs, uni, s_rho)
    inner = scores.T @ scores
    # A11: per-item blocks of the threshold part of the meat
    a11_inv = np.zeros((total_th, total_th))
    for j in range(p):
        s = slice(th_start[j], th_start[j] + n_th[j])
        block = (uni[j, : ncat[j], : n_th[j]].T * counts[j, : ncat[j]]) @ uni[
            j, : ncat[j], : n_th[j]
        ]
        a11_inv[s, s] = np.linalg.inv(block)
    # A21: sum over cells of n_ab * s_rho * d log pi / d tau (each pair's two items)
    a21 = np.zeros((m, total_th))
    weighted = tables * s_rho  # (m, K, K)
    for q, (i, j) in enumerate(pairs):
        a21[q, th_start[i] : th_start[i] + n_th[i]] = np.einsum(
            "ab,abk->k", weighted[q], s_th1[q, :, :, : n_th[i]]
        )
        a21[q, th_start[j] : th_start[j] + n_th[j]] = np.einsum(
            "ab,abk->k", weighted[q], s_th2[q, :, :, : n_th[j]]
        )
    a22 = np.einsum("qab,qab->q", tables, s_rho**2)
    b_inv = np.zeros((total_th + m, total_th + m))
    b_inv[:total_th, :total_th] = a11_inv
    b_inv[total_th:, total_th:] = np.diag(1.0 / a22)
    b_inv[total_th:, :total_th] = -(a21 / a22[:, None]) @ a11_inv
    return n * (b_inv @ inner @ b_inv.T)
