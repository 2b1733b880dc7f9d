"""Blank answers of two-level clusters integrated out (`models/twolevel/blanks.py` has the
algebra): their conditional means and covariance in one numba pass (`BlankIntegral`, no
gradient); the two-level kernel adds the resulting expected-scatter terms
(`kernels/twolevel_scatter.py`).

For cluster j with m_j blank cells (i, a), the precision of its blank answers given the observed
ones is P_mm with entries delta_ii' (W_j)_ab + (D_j)_ab (W_j = Sigma_W,j^-1, D_j = ((Sigma_W,j +
n_j Sigma_B)^-1 - W_j) / n_j), their conditional mean (as a residual from the expected value)
is -P_mm^-1 (P r)_m, where (P r)_(i, a) = (W_j r_i)_a + (D_j sum_i' r_i')_a and r holds the
residuals with the blank entries set to 0, and their conditional covariance V = P_mm^-1. With
e the blanks' deviations from their conditional means, the expected within scatter gains
A_j = sum_i Cov(e_i) - n_j Cov(ebar) and the expected d d' of the cluster mean gains
B_j = Cov(ebar): `BlankIntegral` returns them summed per group of clusters that share W and D
(all clusters of one size; each cluster with random slopes). A cluster with at most p blank
cells inverts P_mm directly (O(m^3), `BLANK_LANES` clusters at a time); one with more takes
the Woodbury form around its rows' blocks (`kernels/twolevel_woodbury.py`, O(p^3)), unless -D
is singular (a zero between-level variance). Every kernel here calls the lane helpers and so
compiles with their flags (`lanes.LANE_FASTMATH`, strict IEEE): with reassociation in the caller,
the helpers' code was optimised again inside it and draws depended on which numba caches were
warm (see lanes.py).
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.lanes import (
    LANE_FASTMATH,
    lane_matvec,
    lane_spd_inverse,
    matmul,
    series_inverse,
)
from bayeslead.bayes.kernels.missing import spd_inverse_into
from bayeslead.bayes.kernels.twolevel_woodbury import cell_products, woodbury_clusters
from bayeslead.bayes.kernels.version import CACHE_VERSION

# clusters whose blanks' conditional precisions are inverted together (vectorised), in order of
# their number of blank cells so that little padding is needed
BLANK_LANES = 8


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def blank_terms(
    lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes, slope_rows, slope_cols, mu,
    offsets, shift, rows, members, within, group, sizes, slot_item, slot_member, n_slots, depth,
):  # fmt: skip
    """(-1/2 sum_j log|P_mm,j| + b/2 (log 2 pi + 1), cluster means (J, p) and centred rows
    (J, n_max, p) with every blank at its conditional mean, A and B per group (G, p, p)).

    Sigma_W and Sigma_B as the two-level kernel builds them from its parameter inputs (with
    random slopes, `slopes` (J, r) at `slope_rows`, `slope_cols` of B_W, Sigma_W per cluster).
    A member row's expected value is mu + offsets[j] + shift[j, i]; `rows` holds the answers
    (blanks: any value), `members` (J, n_max) 1 for a member row. Cluster j uses the within
    covariance within[j], the size sizes[group[j]] and its first n_slots[j] blank cells
    (slot_item, slot_member: (J, M)). -inf if a covariance is not positive definite."""
    n_clusters, n_max, p = rows.shape
    sigma_b = _implied(lam, theta_b, psi_b, beta_b, depth)
    n_within = n_clusters if slopes.shape[1] else 1
    n_groups = sizes.shape[0]
    # residuals from the expected values (blank cells 0), their sums per cluster, and the sums
    # of the rows' shifts
    resid = np.zeros((n_clusters, n_max, p))
    sums = np.zeros((n_clusters, p))
    shifts = np.zeros((n_clusters, p))
    for j in range(n_clusters):
        for i in range(n_max):
            if members[j, i] > 0.0:
                for a in range(p):
                    value = rows[j, i, a] - mu[a] - offsets[j, a] - shift[j, i, a]
                    resid[j, i, a] = value
                    sums[j, a] += value
                    shifts[j, a] += shift[j, i, a]
        for s in range(n_slots[j]):
            i, a = slot_member[j, s], slot_item[j, s]
            sums[j, a] -= resid[j, i, a]
            resid[j, i, a] = 0.0
    # W = Sigma_W^-1 and D = ((Sigma_W + n Sigma_B)^-1 - W) / n of the groups with blanks
    sigma_w = np.zeros((n_within, p, p))
    w_inv = np.zeros((n_within, p, p))
    w_done = np.zeros(n_within, dtype=np.bool_)
    d = np.zeros((n_groups, p, p))
    d_done = np.zeros(n_groups, dtype=np.bool_)
    mat = np.empty((p, p))
    work = np.empty((p, p))
    for j in range(n_clusters):
        k, g = within[j], group[j]
        if n_slots[j] == 0 or d_done[g]:
            continue
        if not w_done[k]:
            b_w = beta_w.copy()
            for q in range(slopes.shape[1]):
                b_w[slope_rows[q], slope_cols[q]] += slopes[k, q]
            sigma_w[k] = _implied(lam, theta_w, psi_w, b_w, depth)
            if np.isnan(spd_inverse_into(sigma_w[k], w_inv[k], work)):
                return _failure(rows, n_groups)
            w_done[k] = True
        n = sizes[g]
        for a in range(p):
            for b in range(p):
                mat[a, b] = sigma_w[k, a, b] + n * sigma_b[a, b]
        if np.isnan(spd_inverse_into(mat, d[g], work)):
            return _failure(rows, n_groups)
        for a in range(p):
            for b in range(p):
                d[g, a, b] = (d[g, a, b] - w_inv[k, a, b]) / n
        d_done[g] = True
    pairs = np.zeros((n_groups, p, p))  # sum of V_st over the cells' items (a_s, a_t)
    extra_w = np.zeros((n_groups, p, p))
    total = 0.0
    count = 0
    # clusters with more blank cells than items: the Woodbury route (if Dn = -D is invertible)
    dn_inv = np.zeros((n_groups, p, p))
    dn_logdet = np.zeros(n_groups)
    dn_state = np.zeros(n_groups, dtype=np.int64)  # 0 not yet computed, 1 usable, -1 singular
    y_sum = np.zeros((n_groups, p, p))
    y_count = np.zeros(n_groups)
    direct = n_slots > 0
    for j in range(n_clusters):
        m, g = n_slots[j], group[j]
        if m <= p:
            continue
        if dn_state[g] == 0:
            for a in range(p):
                for b in range(p):
                    mat[a, b] = -d[g, a, b]
            dn_logdet[g] = spd_inverse_into(mat, dn_inv[g], work)
            dn_state[g] = -1 if np.isnan(dn_logdet[g]) else 1
        if dn_state[g] > 0:
            count += m
            y_count[g] += 1.0
            direct[j] = False
    value = woodbury_clusters(
        np.flatnonzero((n_slots > 0) & ~direct), w_inv, within, group, d, dn_inv, dn_logdet,
        resid, sums, slot_item, slot_member, n_slots, extra_w, y_sum, shifts,
    )  # fmt: skip
    if np.isnan(value):
        return _failure(rows, n_groups)
    total -= 0.5 * value
    for g in range(n_groups):
        if y_count[g] > 0.0:
            dn_y = matmul(dn_inv[g], y_sum[g])
            pairs[g] += matmul(dn_y, dn_inv[g]) - y_count[g] * dn_inv[g]
    # the others: P_mm and (P r)_m lane by lane (identity padding), inverted together
    order = np.argsort(n_slots, kind="mergesort")
    order = order[direct[order]]
    logdet = np.empty(BLANK_LANES)
    cells = np.empty(max(n_slots.max(), 1))  # a cluster's (P r)_m
    dsum = np.empty(p)
    for first in range(0, len(order), BLANK_LANES):
        lanes = min(BLANK_LANES, len(order) - first)
        size = n_slots[order[first + lanes - 1]]  # the largest in this set
        pmm = np.zeros((size, size, BLANK_LANES))
        inv = np.empty((size, size, BLANK_LANES))
        low = np.empty((size, size, BLANK_LANES))
        pr = np.zeros((size, BLANK_LANES))
        fills = np.empty((size, BLANK_LANES))
        for s in range(size):
            for lane in range(lanes):
                pmm[s, s, lane] = 1.0
        for lane in range(lanes):
            j = order[first + lane]
            wj, dj = w_inv[within[j]], d[group[j]]
            cell_products(j, wj, dj, resid, sums, slot_item, slot_member, n_slots[j], cells, dsum)
            for s in range(n_slots[j]):
                a, i = slot_item[j, s], slot_member[j, s]
                pr[s, lane] = cells[s]
                for t in range(s + 1):
                    value = dj[a, slot_item[j, t]]
                    if slot_member[j, t] == i:
                        value += wj[a, slot_item[j, t]]
                    pmm[s, t, lane] = value
        if not lane_spd_inverse(pmm, inv, low, logdet, lanes):
            return _failure(rows, n_groups)
        lane_matvec(inv, pr, fills, lanes)
        for lane in range(lanes):
            j = order[first + lane]
            g = group[j]
            m = n_slots[j]
            total -= 0.5 * logdet[lane]
            count += m
            for s in range(m):
                a, i = slot_item[j, s], slot_member[j, s]
                resid[j, i, a] = -fills[s, lane]
                shifts[j, a] -= fills[s, lane]
                pairs[g, a, a] += inv[s, s, lane]
                extra_w[g, a, a] += inv[s, s, lane]
                for t in range(s):
                    b = slot_item[j, t]
                    value = inv[s, t, lane]
                    pairs[g, a, b] += value
                    pairs[g, b, a] += value
                    if slot_member[j, t] == i:
                        extra_w[g, a, b] += value
                        extra_w[g, b, a] += value
    extra_b = np.empty((n_groups, p, p))
    for g in range(n_groups):
        for a in range(p):
            for b in range(p):
                extra_w[g, a, b] -= pairs[g, a, b] / sizes[g]
                extra_b[g, a, b] = pairs[g, a, b] / (sizes[g] * sizes[g])
    # the filled-in rows' cluster means and centred rows (the means less the expected value:
    # the residuals' and shifts' sums over the members, by now in `shifts`, / n)
    means = np.empty((n_clusters, p))
    centred = np.zeros((n_clusters, n_max, p))
    for j in range(n_clusters):
        n = 0.0
        for i in range(n_max):
            n += members[j, i]
        for a in range(p):
            shifts[j, a] = (shifts[j, a] + sums[j, a]) / n
            means[j, a] = shifts[j, a] + mu[a] + offsets[j, a]
        for i in range(n_max):
            if members[j, i] > 0.0:
                for a in range(p):
                    centred[j, i, a] = resid[j, i, a] + shift[j, i, a] - shifts[j, a]
    value = total + 0.5 * count * (np.log(2.0 * np.pi) + 1.0)
    return value, means, centred, extra_w, extra_b


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _implied(lam, theta, psi, beta, depth):
    """Lambda T Psi T' Lambda' + diag(theta), T = (I - B)^-1."""
    t = series_inverse(beta, depth)
    loadings = matmul(lam, t)
    out = matmul(matmul(loadings, psi), loadings.T)
    for k in range(theta.shape[0]):
        out[k, k] += theta[k]
    return out


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _failure(rows, n_groups):
    n_clusters, n_max, p = rows.shape
    empty = np.zeros((n_groups, p, p))
    return -np.inf, np.zeros((n_clusters, p)), np.zeros(rows.shape), empty, empty.copy()


class BlankIntegral(Op):
    """The blanks' conditional means and covariance terms (see the module docstring and
    `blank_terms`): outputs the log-density constant, the cluster means and centred rows with
    the blanks at their conditional means, and A and B per group.

    Inputs: the two-level kernel's lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b,
    slopes (J, r), slope rows and columns (r,), mu (p,), offsets (J, p), then shift (J, n_max,
    p) and the constants rows (J, n_max, p), members (J, n_max), within (J,), group (J,), sizes
    (G,), slot_item and slot_member (J, M), n_slots (J,). No output depends differentiably on
    the inputs: the means and rows maximise the joint density (envelope theorem) and the
    gradient of the rest is the kernel's expected-scatter terms (Fisher's identity), so the
    outputs are used with their gradient disconnected.
    """

    __props__ = ("depth",)

    def __init__(self, depth: int):
        self.depth = depth

    def make_node(self, *inputs):
        kinds = ["float64"] * 8 + ["int64"] * 2 + ["float64"] * 5 + ["int64"] * 2
        kinds += ["float64"] + ["int64"] * 3
        values = [pt.as_tensor_variable(v).astype(k) for v, k in zip(inputs, kinds, strict=True)]
        cube = pt.TensorType("float64", shape=(None, None, None))
        outputs = [pt.dscalar(), values[11].type(), values[13].type(), cube(), cube()]
        return Apply(self, values, outputs)

    def connection_pattern(self, node):
        return [[False] * len(node.outputs) for _ in node.inputs]

    def perform(self, node, inputs, outputs):
        for k, value in enumerate(blank_terms(*inputs, self.depth)):
            outputs[k][0] = np.asarray(value)


@register_funcify_default_op_cache_key(BlankIntegral)
def _numba_blank_integral(op, node, **kwargs):
    depth = op.depth

    @numba.njit(cache=True, fastmath=LANE_FASTMATH)
    def blank_integral(
        lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes, slope_rows, slope_cols,
        mu, offsets, shift, rows, members, within, group, sizes, slot_item, slot_member,
        n_slots,
    ):  # fmt: skip
        c = np.ascontiguousarray
        result = blank_terms(
            c(lam), c(theta_w), c(theta_b), c(psi_w), c(psi_b), c(beta_w), c(beta_b),
            c(slopes), slope_rows, slope_cols, c(mu), c(offsets), c(shift), rows, members,
            within, group, sizes, slot_item, slot_member, n_slots, depth,
        )  # fmt: skip
        return np.array(result[0]), result[1], result[2], result[3], result[4]

    return blank_integral, CACHE_VERSION
