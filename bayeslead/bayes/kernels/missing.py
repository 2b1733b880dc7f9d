"""Exact normal log-likelihood of respondents with arbitrary missing cells, and its gradient.

Pure numerics (numpy + numba, no PyTensor): `rows_loglik` is `njit(cache=True)`, closes over
nothing and can be called from other numba kernels as well as from the PyTensor Op in
`bayeslead.bayes.kernels.missing_op`. It replaces the per-pattern factorisation of
`bayeslead.bayes.kernels.ops.PatternLoglik` for data with blanks: with scattered blanks almost
every respondent is a pattern of their own, and one p x p factorisation per pattern made
sampling 30-80x slower than complete data.

For respondent i with observed items o and missing items m (k = |m|), r = y_o - mu_o and the
complete-data precision P = Sigma^-1:

    Sigma_oo^-1 = P_oo - P_om P_mm^-1 P_mo,      log|Sigma_oo| = log|Sigma| + log|P_mm|
    r' Sigma_oo^-1 r = e' P e,   e = (r, xhat),  xhat = -P_mm^-1 P_mo r = E[y_m - mu_m | y_o]

so, up to the 2 pi constant (omitted, as in the per-pattern kernel),

    loglik = -1/2 [ n log|Sigma| + sum_i log|P_mm,i| + tr(P F(mu)) + sum_i v_i' xhat_i ],

with v_i = P_mo r_i and F(mu) = sum_i rt_i rt_i' (rt = r zero-filled at the missing items), a
quadratic in mu whose coefficients are sufficient statistics computed once (`RowData`). The
gradient is Fisher's identity (expected complete-data gradient):

    dL/dSigma = 1/2 P (T - n Sigma) P,    T = sum_i E[(y_i - mu)(y_i - mu)' | y_o] = F + X + X' + Z
    dL/dmu    = P sum_i E[y_i - mu | y_o]

(X the observed x imputed cross products, Z the imputed block xhat xhat' + P_mm^-1). A
respondent with k missing items costs O(p k + k^3) after one p x p inversion; complete
respondents cost nothing beyond the O(p^2) sufficient statistics. Patterns with more missing
than observed items use the direct O((p - k)^3) form instead ("direct" route), accumulated into
separate sums.
"""

from __future__ import annotations

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import LANES, lane_spd_inverse
from bayeslead.bayes.kernels.missing_rows import RowData

# sums may be reordered (vectorised dot products); no assumption about NaN or infinity, which
# signal a covariance matrix that is not positive definite
FAST = {"reassoc", "contract"}


def em_moments(
    data: RowData, mu: np.ndarray, sigma: np.ndarray, tol: float = 1e-10, max_iter: int = 5000
) -> tuple[np.ndarray, np.ndarray, float]:
    """EM estimates of the unrestricted mean and covariance of the respondents in `data`, from
    (mu, sigma), until no entry moves by more than `tol`; returns (mu, sigma, log-likelihood
    without the 2 pi constant).

    The kernel's gradient is Fisher's identity, so one E-step is one kernel call:
    E[y - mu] summed = Sigma dL/dmu and T = Sigma (2 dL/dSigma) Sigma + N Sigma.
    """
    n = data.count + float(np.diff(data.starts)[data.direct == 1].sum())
    for _ in range(max_iter):
        _, g_sigma, g_mu, ok = rows_loglik(sigma, mu, *data.arrays, True)
        if not ok:
            raise FloatingPointError("EM left the positive definite cone")
        shift = sigma @ g_mu / n
        second = sigma @ (2.0 * g_sigma) @ sigma / n + sigma
        new_sigma = second - np.outer(shift, shift)
        new_sigma = 0.5 * (new_sigma + new_sigma.T)
        step = max(np.max(np.abs(shift)), np.max(np.abs(new_sigma - sigma)))
        mu, sigma = mu + shift, new_sigma
        if step < tol:
            break
    return mu, sigma, rows_loglik(sigma, mu, *data.arrays, False)[0]


# flags stated: unset, it took those of whichever caller compiled it first (this module's FAST or
# the strict two-level blanks kernel), and its disk cache is not keyed by them
@numba.njit(cache=True, fastmath=FAST)
def spd_inverse_into(a, inv, work):
    """Write the inverse of the leading k x k block of `a` (k = inv.shape[0]) into `inv`; return
    its log-determinant, or nan if it is not positive definite. `work` (>= k x k) is scratch for
    the Cholesky factor; only the lower triangle of `a` is read."""
    k = inv.shape[0]
    chol = work
    for j in range(k):
        diag = a[j, j]
        for m in range(j):
            diag -= chol[j, m] * chol[j, m]
        if not diag > 0.0:
            return np.nan
        chol[j, j] = np.sqrt(diag)
        for i in range(j + 1, k):
            off = a[i, j]
            for m in range(j):
                off -= chol[i, m] * chol[j, m]
            chol[i, j] = off / chol[j, j]
    logdet = 0.0
    for j in range(k):
        logdet += 2.0 * np.log(chol[j, j])
    # L^-1 (lower) into the upper triangle of inv, transposed: inv[c, i] = (L^-1)[i, c]
    for c in range(k):
        for i in range(c, k):
            value = 1.0 if i == c else 0.0
            for m in range(c, i):
                value -= chol[i, m] * inv[c, m]
            inv[c, i] = value / chol[i, i]
    # inv = L^-T L^-1, from the rows of L^-T stored in the upper triangle (overwrite in order)
    for i in range(k):
        for j in range(i, k):
            s = 0.0
            for m in range(j, k):
                s += inv[i, m] * inv[j, m]
            inv[i, j] = s
    for i in range(k):
        for j in range(i):
            inv[i, j] = inv[j, i]
    return logdet


@numba.njit(cache=True, fastmath=FAST)
def rows_loglik(sigma, mu, stats, sums, count, rows, order, n_missing, starts, direct, want_grad):
    """Log-likelihood of the respondents in `RowData` (without the 2 pi constant) and, if
    `want_grad`, its gradients with respect to Sigma (p x p, entries treated as independent) and
    mu. Returns (value, g_sigma, g_mu, ok); ok is False (value -inf) if Sigma or one of the
    blocks it needs is not positive definite.

    Consecutive low-rank patterns with the same k (`row_data` sorts them so) have their P_mm
    inverted together, `LANES` at a time, vectorised across patterns."""
    p = sigma.shape[0]
    g_sigma = np.zeros((p, p))
    g_mu = np.zeros(p)
    prec = np.empty((p, p))
    work = np.empty((p, p))
    logdet_sigma = spd_inverse_into(sigma, prec, work)
    if not np.isfinite(logdet_sigma):
        return -np.inf, g_sigma, g_mu, False
    # F(mu) = sum rt rt' from the sufficient statistics; T starts as F
    s_yy = stats[0]
    s_yo = stats[1]
    s_oo = stats[2]
    t_mat = np.empty((p, p))
    for j in range(p):
        for m in range(p):
            t_mat[j, m] = (
                s_yy[j, m] - s_yo[j, m] * mu[m] - s_yo[m, j] * mu[j] + s_oo[j, m] * mu[j] * mu[m]
            )
    quad = 0.0
    for j in range(p):
        for m in range(p):
            quad += prec[j, m] * t_mat[j, m]
    e_sum = np.empty(p)  # sum of E[y - mu | y_o] over lowrank respondents
    for j in range(p):
        e_sum[j] = sums[j] - s_oo[j, j] * mu[j]
    cross = np.zeros((p, p))  # cross[a, b] = sum xhat_a r_b (a missing, b observed)
    scratch = np.empty((3, p))  # r, v, xhat of one respondent
    n_patterns = n_missing.shape[0]
    k_max = 0
    for g in range(n_patterns):
        if direct[g] == 0 and n_missing[g] > k_max:
            k_max = n_missing[g]
    lane_buffers = np.empty((3, k_max * k_max * LANES))
    lane_logdet = np.empty(LANES)
    logdet_extra = 0.0
    direct_value = 0.0
    g = 0
    while g < n_patterns:
        k = n_missing[g]
        if direct[g] == 1:
            value_g = _direct_pattern(
                sigma,
                mu,
                rows,
                order[g],
                k,
                starts[g],
                starts[g + 1],
                work,
                g_sigma,
                g_mu,
                scratch,
                want_grad,
            )
            if not np.isfinite(value_g):
                return -np.inf, g_sigma, g_mu, False
            direct_value += value_g
            g += 1
            continue
        end = g
        while end < n_patterns and end - g < LANES and direct[end] == 0 and n_missing[end] == k:
            end += 1
        lanes = end - g
        block = lane_buffers[0, : k * k * LANES].reshape((k, k, LANES))
        inverse = lane_buffers[1, : k * k * LANES].reshape((k, k, LANES))
        low = lane_buffers[2, : k * k * LANES].reshape((k, k, LANES))
        for s in range(lanes):
            for a in range(k):
                for b in range(k):
                    block[a, b, s] = prec[order[g + s, a], order[g + s, b]]
        if not lane_spd_inverse(block, inverse, low, lane_logdet, lanes):
            return -np.inf, g_sigma, g_mu, False
        for s in range(lanes):
            n_g = starts[g + s + 1] - starts[g + s]
            logdet_extra += n_g * lane_logdet[s]
            quad += _lowrank_pattern(
                prec,
                mu,
                rows,
                order[g + s],
                k,
                starts[g + s],
                n_g,
                inverse,
                s,
                t_mat,
                cross,
                e_sum,
                scratch,
            )
        g = end
    value = -0.5 * (count * logdet_sigma + logdet_extra + quad) + direct_value
    if not want_grad:
        return value, g_sigma, g_mu, True
    # T = F + U + Z (already in t_mat) + cross + cross'; then 1/2 P (T - n Sigma) P
    for j in range(p):
        for m in range(p):
            t_mat[j, m] += cross[j, m] + cross[m, j]
    pt_mat = work
    for j in range(p):
        for m in range(p):
            pt_mat[j, m] = 0.0
        for c in range(p):
            pjl = prec[j, c]
            for m in range(p):
                pt_mat[j, m] += pjl * t_mat[c, m]
    for j in range(p):
        for m in range(p):
            s = 0.0
            for c in range(p):
                s += pt_mat[j, c] * prec[m, c]  # P is symmetric: rows are contiguous
            g_sigma[j, m] += 0.5 * (s - count * prec[j, m])
        s = 0.0
        for c in range(p):
            s += prec[j, c] * e_sum[c]
        g_mu[j] += s
    return value, g_sigma, g_mu, True


@numba.njit(cache=True, fastmath=FAST, inline="always")
def _lowrank_pattern(
    prec, mu, rows, order, k, first, n_g, inverse, lane, t_mat, cross, e_sum, scratch
):
    """One low-rank pattern (missing items order[:k], P_mm^-1 = inverse[:, :, lane]): adds its
    U = n_g P_mm^-1, Z = sum xhat xhat' to t_mat, sum xhat r' to cross, sum xhat to e_sum, and
    returns sum v' xhat (its part of the quadratic form)."""
    p = prec.shape[0]
    r = scratch[0]
    v = scratch[1]
    xhat = scratch[2]
    quad = 0.0
    for a in range(k):
        ia = order[a]
        for b in range(k):
            t_mat[ia, order[b]] += n_g * inverse[a, b, lane]
    for i in range(first, first + n_g):
        for j in range(p):
            r[j] = rows[i, j] - mu[j]
        for a in range(k):
            r[order[a]] = 0.0
        for a in range(k):
            row = prec[order[a]]
            s = 0.0
            for j in range(p):
                s += row[j] * r[j]
            v[a] = s
        for a in range(k):
            s = 0.0
            for b in range(k):
                s -= inverse[a, b, lane] * v[b]
            xhat[a] = s
            quad += v[a] * s
        for a in range(k):
            ia = order[a]
            xa = xhat[a]
            e_sum[ia] += xa
            crow = cross[ia]
            for j in range(p):
                crow[j] += xa * r[j]
            for b in range(k):
                t_mat[ia, order[b]] += xa * xhat[b]
    return quad


@numba.njit(cache=True)
def _direct_pattern(
    sigma, mu, rows, order, k, first, stop, work, g_sigma, g_mu, scratch, want_grad
):
    """One direct-route pattern (observed items order[k:]): returns its log-likelihood (nan if
    Sigma_oo is not positive definite) and adds its gradient to g_sigma and g_mu."""
    p = sigma.shape[0]
    q = p - k
    n_g = stop - first
    sub = np.empty((q, q))
    soo_inv = np.empty((q, q))
    for a in range(q):
        for b in range(q):
            sub[a, b] = sigma[order[k + a], order[k + b]]
    logdet_oo = spd_inverse_into(sub, soo_inv, work)
    if not np.isfinite(logdet_oo):
        return np.nan
    value = -0.5 * n_g * logdet_oo
    if want_grad:
        for a in range(q):
            ia = order[k + a]
            for b in range(q):
                g_sigma[ia, order[k + b]] -= 0.5 * n_g * soo_inv[a, b]
    r = scratch[0]
    v = scratch[1]
    for i in range(first, stop):
        for a in range(q):
            r[a] = rows[i, order[k + a]] - mu[order[k + a]]
        for a in range(q):
            s = 0.0
            for b in range(q):
                s += soo_inv[a, b] * r[b]
            v[a] = s
            value -= 0.5 * r[a] * s
        if want_grad:
            for a in range(q):
                ia = order[k + a]
                g_mu[ia] += v[a]
                for b in range(q):
                    g_sigma[ia, order[k + b]] += 0.5 * v[a] * v[b]
    return value
