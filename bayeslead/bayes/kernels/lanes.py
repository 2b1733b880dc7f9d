"""Small-matrix algebra for numba kernels, batched over clusters ("lanes").

Matrices are stored with the lanes on the last axis, (rows, cols, lanes), so the innermost loops
run over clusters and vectorise; products skip entries that are zero in every lane (sparse
loadings and path matrices). Used by the two-level likelihood (`kernels/twolevel_terms.py`) and
its blank answers.
"""

from __future__ import annotations

import numba
import numpy as np

# clusters whose m x m algebra runs together, lane by lane along the last axis (vectorised)
LANES = 64
# Stated, not inherited: numba gives a kernel without flags its first caller's fastmath flags and
# keys its cache without them, so the lane algebra's last bits depended on which caller compiled
# it first (the two-level graph or the missing-data kernel). Strict IEEE (no fastmath): numba
# links a callee's optimised IR into each caller's module, where it is optimised again, and a call
# runs whichever copy of the symbol was loaded first (the callee's own, compiled in this process,
# or the copy in a caller loaded from a disk cache); with reassociation the copies' last bits
# differed, so two-level draws depended on which caches were warm. The loops over lanes vectorise
# without reassociation.
LANE_FASTMATH = False


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def matmul(a, b):
    """a @ b for small 2-D matrices (explicit loops compile faster than BLAS calls)."""
    out = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            for j in range(b.shape[1]):
                out[i, j] += a[i, k] * b[k, j]
    return out


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def series_inverse(b, depth):
    """(I - B)^-1 = I + B (I + B (I + ...)) of a nilpotent B (B^(depth+1) = 0)."""
    m = b.shape[0]
    total = np.eye(m)
    for _ in range(depth):
        total = matmul(b, total)
        for i in range(m):
            total[i, i] += 1.0
    return total


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _lane_nonzero(a, i, k, lanes):
    """Whether a[i, k] is non-zero in any of the first `lanes` lanes."""
    s = 0
    while s < lanes and a[i, k, s] == 0.0:
        s += 1
    return s < lanes


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def lane_matmul(a, b, out, lanes):
    """out = a @ b in each of the first `lanes` lanes (last axis), skipping entries of a that
    are zero in every lane; out must not alias a or b."""
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for s in range(lanes):
                out[i, j, s] = 0.0
        for k in range(a.shape[1]):
            if _lane_nonzero(a, i, k, lanes):
                for j in range(b.shape[1]):
                    for s in range(lanes):
                        out[i, j, s] += a[i, k, s] * b[k, j, s]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def lane_transpose(a, out, lanes):
    """out = a' lane by lane."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for s in range(lanes):
                out[j, i, s] = a[i, j, s]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def lane_matvec(a, v, out, lanes):
    """out = a @ v lane by lane (v and out: one vector per lane)."""
    for i in range(a.shape[0]):
        for s in range(lanes):
            out[i, s] = 0.0
        for k in range(a.shape[1]):
            for s in range(lanes):
                out[i, s] += a[i, k, s] * v[k, s]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def lane_series_inverse(b, depth, out, work, lanes):
    """out = (I - B)^-1 lane by lane, B nilpotent (see `series_inverse`)."""
    m = b.shape[0]
    for i in range(m):
        for j in range(m):
            for s in range(lanes):
                out[i, j, s] = 1.0 if i == j else 0.0
    for _ in range(depth):
        lane_matmul(b, out, work, lanes)
        for i in range(m):
            for j in range(m):
                for s in range(lanes):
                    out[i, j, s] = work[i, j, s] + (1.0 if i == j else 0.0)


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def lane_spd_inverse(a, out, low, logdet, lanes):
    """out = a^-1 and logdet = log|a| lane by lane for small SPD matrices, via Cholesky (low:
    work space for the factor); False if a lane is not positive definite."""
    k = a.shape[0]
    for s in range(lanes):
        logdet[s] = 1.0  # first the product of the pivots
    for j in range(k):  # L, with 1 / L[j, j] on the diagonal
        for i in range(j, k):
            for s in range(lanes):
                low[i, j, s] = a[i, j, s]
            for c in range(j):
                for s in range(lanes):
                    low[i, j, s] -= low[i, c, s] * low[j, c, s]
        for s in range(lanes):
            if not low[j, j, s] > 0.0:
                return False
        for s in range(lanes):
            logdet[s] *= low[j, j, s]
            low[j, j, s] = 1.0 / np.sqrt(low[j, j, s])
        for i in range(j + 1, k):
            for s in range(lanes):
                low[i, j, s] *= low[j, j, s]
    for s in range(lanes):
        if 0.0 < logdet[s] < np.inf:
            logdet[s] = np.log(logdet[s])
        else:  # the product over- or underflowed
            logdet[s] = 0.0
            for j in range(k):
                logdet[s] -= 2.0 * np.log(low[j, j, s])
    # L^-1 in place, column by column: X[i, j] = -X[i, i] sum_{c=j}^{i-1} L[i, c] X[c, j]
    # (the entries of L still needed are not yet overwritten)
    for j in range(k):
        for i in range(j + 1, k):
            for s in range(lanes):
                low[i, j, s] *= low[j, j, s]
            for c in range(j + 1, i):
                for s in range(lanes):
                    low[i, j, s] += low[i, c, s] * low[c, j, s]
            for s in range(lanes):
                low[i, j, s] *= -low[i, i, s]
    for i in range(k):  # a^-1 = L^-T L^-1
        for j in range(i + 1):
            for s in range(lanes):
                out[i, j, s] = 0.0
            for c in range(i, k):
                for s in range(lanes):
                    out[i, j, s] += low[c, i, s] * low[c, j, s]
            for s in range(lanes):
                out[j, i, s] = out[i, j, s]
    return True


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def add_lane_sums(a, out, factor):
    """out += factor * (a summed over its last axis, the lanes); a and out contiguous."""
    rows = a.reshape((-1, a.shape[-1]))
    flat = out.reshape(-1)
    for r in range(rows.shape[0]):
        total = 0.0
        for s in range(rows.shape[1]):
            total += rows[r, s]
        flat[r] += factor * total
