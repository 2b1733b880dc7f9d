"""Blank answers of two-level clusters with more blank cells than items (`kernels/twolevel_blanks.py`
has the algebra): their conditional precision P_mm = Bd - S Dn S' (Bd: each row's block of
W = Sigma_W^-1, S: cells to items, Dn = -D) inverted by the Woodbury identity around the rows'
blocks,

    V = P_mm^-1 = Bd^-1 + Bd^-1 S Y^-1 S' Bd^-1,   Y = Dn^-1 - S' Bd^-1 S   (p x p),

so a cluster costs O(p^3) however many blanks it has (Y = Sigma_W Lambda_b Sigma_W, Lambda_b the
posterior precision of the cluster's between part: positive definite). The algebra runs in
lanes (`lanes.py`), vectorised: the clusters' Y `CLUSTER_LANES` clusters at a time, and their
rows' k x k blocks of W `ROW_LANES` rows at a time, in order of their number of blanks (identity
padding). Sums over an item's entries (W r_i) run as four interleaved partial sums, so that the
strict-IEEE flags (`lanes.LANE_FASTMATH`) leave no long chain of dependent additions.
"""

from __future__ import annotations

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import (
    LANE_FASTMATH,
    lane_matmul,
    lane_matvec,
    lane_spd_inverse,
)

# rows whose k x k blocks are inverted together, in order of k
ROW_LANES = 32
# clusters whose p x p matrices Y are factorised together (few: their rows update them one by one)
CLUSTER_LANES = 16


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def woodbury_clusters(
    clusters, w_inv, within, group, d, dn_inv, dn_logdet, resid, sums, slot_item, slot_member,
    n_slots, same, y_sum, shifts,
):  # fmt: skip
    """The blanks of `clusters` (indices; each with its blank cells ordered by row) through the
    Woodbury form. Cluster j uses W = w_inv[within[j]], D = d[group[j]], Dn^-1 = dn_inv[group[j]]
    and log|Dn| = dn_logdet[group[j]]. Writes the blanks' conditional means (as residuals from
    the expected values) into `resid` and adds them to `shifts`, adds sum_i S_i' V_ii S_i to
    `same[group[j]]` and Y^-1 to `y_sum[group[j]]` (S' V S = Dn^-1 Y^-1 Dn^-1 - Dn^-1, summed by
    the caller); returns the sum of log|P_mm| over the clusters, nan if a matrix is not
    positive definite."""
    p = d.shape[1]
    n_max = resid.shape[1]
    m_max = 1
    for j in clusters:
        m_max = max(m_max, n_slots[j])
    y = np.empty((p, p, CLUSTER_LANES))
    y_inv = np.empty((p, p, CLUSTER_LANES))
    low = np.empty((p, p, CLUSTER_LANES))
    z = np.zeros((p, CLUSTER_LANES))
    yz = np.empty((p, CLUSTER_LANES))
    logdet = np.empty(CLUSTER_LANES)
    logdet_rows = np.empty(CLUSTER_LANES)
    pr = np.empty((CLUSTER_LANES, m_max))  # (P r)_m, then Bd^-1 (P r)_m, of each lane's cells
    # each row with blanks: (lane, first cell, cells)
    rows = np.empty((CLUSTER_LANES * n_max, 3), dtype=np.int64)
    dsum = np.empty(p)
    total = 0.0
    for start in range(0, len(clusters), CLUSTER_LANES):
        lanes = min(CLUSTER_LANES, len(clusters) - start)
        batch = clusters[start : start + lanes]
        for a in range(p):  # Dn^-1 in every lane
            for b in range(p):
                for lane in range(lanes):
                    y[a, b, lane] = dn_inv[group[batch[lane]], a, b]
            for lane in range(lanes):
                z[a, lane] = 0.0
        n_rows = 0
        for lane in range(lanes):
            j = batch[lane]
            logdet_rows[lane] = 0.0
            cell_products(
                j, w_inv[within[j]], d[group[j]], resid, sums, slot_item, slot_member,
                n_slots[j], pr[lane], dsum,
            )  # fmt: skip
            n_rows = _add_rows(j, lane, slot_member, n_slots[j], rows, n_rows)
        order = _by_cells(rows, n_rows)
        size = 0  # the rows' inverses, chunk by chunk: (k, k, ROW_LANES) each
        for first in range(0, n_rows, ROW_LANES):
            k = order[min(first + ROW_LANES, n_rows) - 1, 2]
            size += k * k * ROW_LANES
        store = np.empty(size)
        offset = 0
        for first in range(0, n_rows, ROW_LANES):
            chunk, binv, offset = _chunk(order, first, store, offset)
            if not _row_inverses(chunk, batch, w_inv, within, slot_item, logdet_rows, binv):
                return np.nan
            _forward(chunk, batch, binv, slot_item, pr, y, z)
        if not lane_spd_inverse(y, y_inv, low, logdet, lanes):
            return np.nan
        lane_matvec(y_inv, z, yz, lanes)
        for lane in range(lanes):
            total += logdet_rows[lane] + logdet[lane] + dn_logdet[group[batch[lane]]]
        offset = 0
        for first in range(0, n_rows, ROW_LANES):
            chunk, binv, offset = _chunk(order, first, store, offset)
            _back(
                chunk, batch, group, binv, resid, slot_item, slot_member, pr, y_inv, yz, same,
                shifts,
            )  # fmt: skip
        _add_by_group(y_inv, group[batch], y_sum)
    return total


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _chunk(order, first, store, offset):
    """The `ROW_LANES` rows of `order` from `first`, their blocks' inverses (k x k x ROW_LANES,
    k their largest number of cells) in `store` from `offset`, and the next offset."""
    chunk = order[first : first + ROW_LANES]
    k = chunk[len(chunk) - 1, 2]
    size = k * k * ROW_LANES
    return chunk, store[offset : offset + size].reshape((k, k, ROW_LANES)), offset + size


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _add_by_group(y_inv, groups, y_sum):
    """y_sum[groups[lane]] += y_inv[:, :, lane] for each of the len(groups) lanes."""
    lanes = len(groups)
    p = y_sum.shape[1]
    if np.all(groups == groups[0]):  # one group: sums over contiguous lanes
        g = groups[0]
        for a in range(p):
            for b in range(p):
                acc = 0.0
                for lane in range(lanes):
                    acc += y_inv[a, b, lane]
                y_sum[g, a, b] += acc
        return
    for a in range(p):
        for b in range(p):
            for lane in range(lanes):
                y_sum[groups[lane], a, b] += y_inv[a, b, lane]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _by_cells(rows, n_rows):
    """The first `n_rows` rows in order of their number of cells (a stable counting sort)."""
    k_max = 0
    for r in range(n_rows):
        k_max = max(k_max, rows[r, 2])
    start = np.zeros(k_max + 2, dtype=np.int64)
    for r in range(n_rows):
        start[rows[r, 2] + 1] += 1
    for k in range(k_max + 1):
        start[k + 1] += start[k]
    out = np.empty((n_rows, 3), dtype=np.int64)
    for r in range(n_rows):
        k = rows[r, 2]
        out[start[k]] = rows[r]
        start[k] += 1
    return out


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def cell_products(j, w, d, resid, sums, slot_item, slot_member, m, out, dsum):
    """(P r)_m of cluster j's m blank cells, (W r_i)_a + (D sums)_a (r_i: row i's residuals
    with its blanks at 0, sums: their sum over the cluster's rows), into out[:m]; `dsum` (p):
    work space."""
    p = w.shape[0]
    for a in range(p):
        dsum[a] = 0.0
    for b in range(p):  # W and D are symmetric: columns as rows, independent sums innermost
        value = sums[j, b]
        for a in range(p):
            dsum[a] += d[b, a] * value
    for s in range(m):  # four partial sums: independent chains
        a = slot_item[j, s]
        row = resid[j, slot_member[j, s]]
        acc0 = acc1 = acc2 = acc3 = 0.0
        for b in range(0, p - 3, 4):
            acc0 += w[a, b] * row[b]
            acc1 += w[a, b + 1] * row[b + 1]
            acc2 += w[a, b + 2] * row[b + 2]
            acc3 += w[a, b + 3] * row[b + 3]
        for b in range(p - p % 4, p):
            acc0 += w[a, b] * row[b]
        out[s] = (acc0 + acc1) + (acc2 + acc3) + dsum[a]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _add_rows(j, lane, slot_member, m, rows, n_rows):
    """Appends cluster j's rows with blanks, (lane, first cell, cells), to `rows`; returns
    their count."""
    first = 0
    while first < m:
        last = first + 1
        while last < m and slot_member[j, last] == slot_member[j, first]:
            last += 1
        rows[n_rows, 0] = lane
        rows[n_rows, 1] = first
        rows[n_rows, 2] = last - first
        n_rows += 1
        first = last
    return n_rows


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _row_inverses(chunk, batch, w_inv, within, slot_item, logdets, inv):
    """The inverses of the rows' blocks W_(K, K) of `chunk` ((lane, first cell, cells) rows,
    in order of cells) into `inv` (k x k x ROW_LANES, in lanes, identity-padded to the largest
    block), each log-determinant added to logdets[lane]; False if a block is not positive
    definite."""
    n = len(chunk)
    k = inv.shape[0]
    block = np.empty((k, k, ROW_LANES))
    low = np.empty((k, k, ROW_LANES))
    logdet = np.empty(ROW_LANES)
    for r in range(n):
        lane, first, cells = chunk[r, 0], chunk[r, 1], chunk[r, 2]
        j = batch[lane]
        w = w_inv[within[j]]
        for s in range(k):
            for t in range(k):
                if s < cells and t < cells:
                    block[s, t, r] = w[slot_item[j, first + s], slot_item[j, first + t]]
                else:
                    block[s, t, r] = 1.0 if s == t else 0.0
    if not lane_spd_inverse(block, inv, low, logdet, n):
        return False
    for r in range(n):
        logdets[chunk[r, 0]] += logdet[r]
    return True


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _forward(chunk, batch, binv, slot_item, pr, y, z):
    """u = Bd_i^-1 (P r)_m of the chunk's rows into `pr`; subtracts S_i' Bd_i^-1 S_i from their
    clusters' Y and adds S_i' u to their z."""
    k, n = binv.shape[0], len(chunk)
    vec = np.zeros((k, ROW_LANES))
    out = np.empty((k, ROW_LANES))
    for r in range(n):
        lane, first, cells = chunk[r, 0], chunk[r, 1], chunk[r, 2]
        for s in range(cells):
            vec[s, r] = pr[lane, first + s]
    lane_matvec(binv, vec, out, n)
    for r in range(n):
        lane, first, cells = chunk[r, 0], chunk[r, 1], chunk[r, 2]
        j = batch[lane]
        for s in range(cells):
            a = slot_item[j, first + s]
            pr[lane, first + s] = out[s, r]
            z[a, lane] += out[s, r]
            for t in range(cells):
                y[a, slot_item[j, first + t], lane] -= binv[s, t, r]


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _back(chunk, batch, group, binv, resid, slot_item, slot_member, u, y_inv, yz, same, shifts):
    """The chunk's rows after Y^-1: each blank's conditional mean (V (P r)_m = u + Bd_i^-1 S_i
    Y^-1 z) into `resid` and `shifts`, each row's V_ii = Bd_i^-1 + Bd_i^-1 (Y^-1)_(K_i, K_i)
    Bd_i^-1 into `same`."""
    k, n = binv.shape[0], len(chunk)
    vec = np.zeros((k, ROW_LANES))
    out = np.empty((k, ROW_LANES))
    sub = np.zeros((k, k, ROW_LANES))
    tb = np.empty((k, k, ROW_LANES))
    v = np.empty((k, k, ROW_LANES))
    for r in range(n):
        lane, first, cells = chunk[r, 0], chunk[r, 1], chunk[r, 2]
        j = batch[lane]
        for s in range(cells):
            a = slot_item[j, first + s]
            vec[s, r] = yz[a, lane]
            for t in range(cells):
                sub[s, t, r] = y_inv[a, slot_item[j, first + t], lane]
    lane_matvec(binv, vec, out, n)
    lane_matmul(sub, binv, tb, n)
    lane_matmul(binv, tb, v, n)
    for r in range(n):
        lane, first, cells = chunk[r, 0], chunk[r, 1], chunk[r, 2]
        j = batch[lane]
        g = group[j]
        i = slot_member[j, first]
        for s in range(cells):
            a = slot_item[j, first + s]
            fill = u[lane, first + s] + out[s, r]
            resid[j, i, a] = -fill
            shifts[j, a] -= fill
            for t in range(cells):
                same[g, a, slot_item[j, first + t]] += binv[s, t, r] + v[s, t, r]
