"""The two-level kernel (`kernels/twolevel.py` has the model and the Op): the clusters'
log-likelihoods and their gradient in one numba pass over the clusters, `LANES` clusters at a
time (`lanes.py`), with the cluster-independent pieces from `twolevel_shared.py` and the
gradient assembled from the sums over clusters in `twolevel_gradient.py`.
"""

from __future__ import annotations

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import (
    LANE_FASTMATH,
    LANES,
    lane_matmul,
    lane_matvec,
    lane_series_inverse,
    lane_spd_inverse,
    lane_transpose,
    matmul,
    series_inverse,
)
from bayeslead.bayes.kernels.twolevel_gradient import gradient_from_sums
from bayeslead.bayes.kernels.twolevel_scatter import between_extra, within_extra
from bayeslead.bayes.kernels.twolevel_shared import loading_index, size_groups, within_shared


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def twolevel_terms(
    lam,
    theta_w,
    theta_b,
    psi_w,
    psi_b,
    beta_w,
    beta_b,
    slopes,
    rows,
    cols,
    mu,
    offsets,
    counts,
    means,
    centred,
    extra_index,
    extra_w,
    extra_b,
    depth,
):
    """Sum of the clusters' log-likelihoods and its gradient with respect to every input but
    the data (counts, means, centred rows).

    Every p x p inverse is replaced by the Woodbury identity around the diagonal residual
    variances, so only m x m matrices are inverted: M = Phi_j^-1 + Lambda' D^-1 Lambda within
    (D = diag(theta_w)), K = Q^-1 + Lambda' E^-1 Lambda between (Q = Phi_B + Phi_j / n,
    E = diag(theta_b + theta_w / n)); scatter matrices are replaced by the centred member rows,
    so a cluster costs O(n p m + m^3). The gradient uses the full-matrix formulas (G = dL/dSigma)
    contracted with Lambda, never forming G; as Sigma_W^-1 Lambda = D^-1 Lambda M^-1 Phi_j^-1 and
    C^-1 Lambda = V K^-1 Q^-1 (V = E^-1 Lambda, shared by clusters of one size), the p x m terms
    are shared left factors times sums of m x m matrices over clusters. Products with Lambda
    skip its zero loadings; the m x m algebra and the cluster-mean terms run on `LANES` clusters
    at a time, vectorised across clusters, the members' rows cluster by cluster. A cluster j with
    extra_index[j] = g >= 0 (`extra_index` empty: none) adds extra_w[g] to its within scatter and extra_b[g] to its d d'
    (the expected scatter of blank answers integrated out, `kernels/twolevel_scatter.py`).
    """
    p, m = lam.shape
    n_clusters, n_slopes = slopes.shape
    n_max = centred.shape[1]
    for k in range(p):
        if not (theta_w[k] > 0.0 and theta_b[k] >= 0.0):
            return _failure(p, m, n_clusters, n_slopes)
    ok, psi, psi_inv, logdet_psi, inv_theta, u_w, log_theta_w, a_w = within_shared(
        lam, theta_w, psi_w
    )
    if not ok:
        return _failure(p, m, n_clusters, n_slopes)
    t_b = series_inverse(beta_b, depth)
    phi_b = matmul(matmul(t_b, psi_b), t_b.T)
    load_start, load_item, load_construct = loading_index(lam)
    n_load = load_start[m]
    group, g_size, g_count, g_e, g_v, g_a, g_logdet_e = size_groups(
        lam, theta_w, theta_b, counts, n_max
    )
    n_groups = g_size.shape[0]
    low = np.empty((m, m, LANES))
    # sums over clusters: per size group where the left factor is V, per lane where vectorised
    s_k = np.zeros((n_groups, m, m))  # K^-1
    s_kq = np.zeros((n_groups, m, m))  # K^-1 Q^-1
    s_kq_phi = np.zeros((n_groups, m, m))  # K^-1 Q^-1 Phi_j
    s_x = np.zeros((m, m))  # X = (n - 1) M^-1 + Zm' Zm, Zm = Yc U M^-1
    g_t = np.zeros((m, p))  # Zm' Yc
    y_sq = np.zeros(p)  # squared centred rows (the diagonals of the scatter matrices)
    lane_total = np.zeros(LANES)
    lane_c = np.zeros((p, LANES))  # C^-1 d
    d_offsets = np.zeros((n_clusters, p))  # C_j^-1 d_j of every cluster
    lane_c_sq = np.zeros((p, LANES))  # (C^-1 d)^2
    lane_c_sq_n = np.zeros((p, LANES))  # (C^-1 d)^2 / n
    lane_c_w = np.zeros((p, m, LANES))  # C^-1 d w', w = Lambda' C^-1 d
    lane_c_w_phi = np.zeros((p, m, LANES))  # C^-1 d (Phi_j w)' / n
    d_psi_w = np.zeros((m, m))
    d_beta_w = np.zeros((m, m))
    d_slopes = np.zeros((n_clusters, n_slopes))
    # work space: lanes of m x m matrices and of vectors, and one cluster's rows
    tmp = np.empty((m, m, LANES))
    b_j = np.empty((m, m, LANES))
    i_minus_b = np.empty((m, m, LANES))
    t_j = np.empty((m, m, LANES))
    t_j_t = np.empty((m, m, LANES))  # T_j'
    i_minus_b_t = np.empty((m, m, LANES))
    phi_j = np.empty((m, m, LANES))
    phi_inv = np.empty((m, m, LANES))
    mat = np.empty((m, m, LANES))
    m_inv = np.empty((m, m, LANES))
    q_inv = np.empty((m, m, LANES))
    k_inv = np.empty((m, m, LANES))
    a_e = np.empty((m, m, LANES))
    kq = np.empty((m, m, LANES))
    x = np.empty((m, m, LANES))
    h = np.empty((m, m, LANES))
    extra_h = np.zeros((m, m, LANES))  # Lambda' F Lambda of a cluster's between addition
    xq = np.zeros((m, m))  # M^-1 U' A U M^-1 of a cluster's within addition
    n_extra = extra_index.shape[0]
    th = np.empty((m, m, LANES))
    vd = np.empty((m, LANES))
    kvd = np.empty((m, LANES))
    w = np.empty((m, LANES))
    phi_w = np.empty((m, LANES))
    e = np.empty((p, LANES))
    dev = np.empty((p, LANES))
    c_d = np.empty((p, LANES))
    logdet_m = np.empty(LANES)
    logdet_q = np.empty(LANES)
    logdet_k = np.empty(LANES)
    sizes = np.empty(LANES)
    inv_sizes = np.empty(LANES)
    m_j = np.empty((m, m))
    y_sq_j = np.empty(p)
    z = np.empty((n_max, m))
    zm = np.empty((n_max, m))
    for first in range(0, n_clusters, LANES):
        lanes = min(LANES, n_clusters - first)
        for s in range(lanes):
            sizes[s] = counts[first + s]
            inv_sizes[s] = 1.0 / sizes[s]
        # B_j, T_j = (I - B_j)^-1, Phi_j = T Psi T' and Phi_j^-1 = (I - B)' Psi^-1 (I - B)
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    b_j[r, c, s] = beta_w[r, c]
        for k in range(n_slopes):
            for s in range(lanes):
                b_j[rows[k], cols[k], s] += slopes[first + s, k]
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    i_minus_b[r, c, s] = (1.0 if r == c else 0.0) - b_j[r, c, s]
        lane_series_inverse(b_j, depth, t_j, tmp, lanes)
        lane_transpose(t_j, t_j_t, lanes)
        lane_matmul(t_j, psi, tmp, lanes)
        lane_matmul(tmp, t_j_t, phi_j, lanes)
        lane_matmul(psi_inv, i_minus_b, tmp, lanes)
        lane_transpose(i_minus_b, i_minus_b_t, lanes)
        lane_matmul(i_minus_b_t, tmp, phi_inv, lanes)
        # within: M = Phi_j^-1 + Lambda' D^-1 Lambda, |Sigma_W| = |D| |Psi_W| |M|
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    mat[r, c, s] = phi_inv[r, c, s] + a_w[r, c]
        if not lane_spd_inverse(mat, m_inv, low, logdet_m, lanes):
            return _failure(p, m, n_clusters, n_slopes)
        # between: C = Lambda Q Lambda' + E, |C| = |E| |Q| |K|
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    mat[r, c, s] = phi_b[r, c] + phi_j[r, c, s] * inv_sizes[s]
        if not lane_spd_inverse(mat, q_inv, low, logdet_q, lanes):
            return _failure(p, m, n_clusters, n_slopes)
        for s in range(lanes):
            g = group[first + s]
            for r in range(m):
                for c in range(m):
                    a_e[r, c, s] = g_a[g, r, c]
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    mat[r, c, s] = q_inv[r, c, s] + a_e[r, c, s]
        if not lane_spd_inverse(mat, k_inv, low, logdet_k, lanes):
            return _failure(p, m, n_clusters, n_slopes)
        # C^-1 d = E^-1 (d - Lambda K^-1 Lambda' E^-1 d) and w = Lambda' C^-1 d, d = ybar - mu
        for k in range(p):
            for s in range(lanes):
                e[k, s] = theta_b[k] + theta_w[k] * inv_sizes[s]
                dev[k, s] = means[first + s, k] - mu[k] - offsets[first + s, k]
                c_d[k, s] = dev[k, s] / e[k, s]
        for c in range(m):
            for s in range(lanes):
                vd[c, s] = 0.0
        for t in range(n_load):
            k, c = load_item[t], load_construct[t]
            for s in range(lanes):
                vd[c, s] += lam[k, c] * c_d[k, s]
        lane_matvec(k_inv, vd, kvd, lanes)
        lane_matvec(a_e, kvd, w, lanes)
        for r in range(m):
            for s in range(lanes):
                w[r, s] = vd[r, s] - w[r, s]
        lane_matvec(phi_j, w, phi_w, lanes)
        for k in range(p):
            for s in range(lanes):
                c_d[k, s] = dev[k, s]
        for t in range(n_load):
            k, c = load_item[t], load_construct[t]
            for s in range(lanes):
                c_d[k, s] -= lam[k, c] * kvd[c, s]
        for s in range(lanes):
            n = sizes[s]
            lane_total[s] -= 0.5 * (
                (n - 1.0) * (log_theta_w + logdet_psi + logdet_m[s])
                + g_logdet_e[group[first + s]]
                + logdet_q[s]
                + logdet_k[s]
            )
        for k in range(p):
            for s in range(lanes):
                c_d[k, s] /= e[k, s]
                lane_total[s] -= 0.5 * dev[k, s] * c_d[k, s]
                lane_c[k, s] += c_d[k, s]
                d_offsets[first + s, k] = c_d[k, s]
                lane_c_sq[k, s] += c_d[k, s] * c_d[k, s]
                lane_c_sq_n[k, s] += c_d[k, s] * c_d[k, s] * inv_sizes[s]
            for c in range(m):
                for s in range(lanes):
                    lane_c_w[k, c, s] += c_d[k, s] * w[c, s]
                    lane_c_w_phi[k, c, s] += c_d[k, s] * phi_w[c, s] * inv_sizes[s]
        for s in range(lanes):
            g = extra_index[first + s] if n_extra else -1
            extra_h[:, :, s] = 0.0
            if g >= 0:
                lane_total[s] -= between_extra(
                    extra_b[g],
                    lam,
                    g_v[group[first + s]],
                    g_e[group[first + s]],
                    k_inv[:, :, s],
                    phi_j[:, :, s],
                    inv_sizes[s],
                    lane_c_sq[:, s],
                    lane_c_sq_n[:, s],
                    lane_c_w[:, :, s],
                    lane_c_w_phi[:, :, s],
                    extra_h[:, :, s],
                )
        # the members' rows: Z = Yc U, Zm = Z M^-1, tr(Sigma_W^-1 S) = tr(D^-1 S) - tr(Zm' Z)
        for s in range(lanes):
            j = first + s
            nj = int(sizes[s])
            for r in range(m):
                for c in range(m):
                    m_j[r, c] = m_inv[r, c, s]
            trace_w = 0.0
            for k in range(p):
                y_sq_j[k] = 0.0
            for i in range(nj):
                row = centred[j, i]
                for k in range(p):
                    y_sq_j[k] += row[k] * row[k]
                for c in range(m):
                    acc = 0.0
                    for t in range(load_start[c], load_start[c + 1]):
                        acc += u_w[load_item[t], c] * row[load_item[t]]
                    z[i, c] = acc
                for r in range(m):
                    acc = 0.0
                    for c in range(m):
                        acc += m_j[r, c] * z[i, c]
                    zm[i, r] = acc
                    trace_w -= acc * z[i, r]
                for c in range(m):
                    acc = zm[i, c]
                    for k in range(p):
                        g_t[c, k] += acc * row[k]
            g = extra_index[j] if n_extra else -1
            xq[:, :] = 0.0
            if g >= 0:
                trace_w -= within_extra(extra_w[g], u_w, m_j, y_sq_j, g_t, xq)
            for k in range(p):
                y_sq[k] += y_sq_j[k]
                trace_w += y_sq_j[k] * inv_theta[k]
            lane_total[s] -= 0.5 * trace_w
            for r in range(m):
                for c in range(r + 1):
                    acc = (sizes[s] - 1.0) * m_j[r, c] + xq[r, c]
                    for i in range(nj):
                        acc += zm[i, r] * zm[i, c]
                    x[r, c, s] = acc
                    x[c, r, s] = acc
                    s_x[r, c] += acc
                    if c < r:
                        s_x[c, r] += acc
        # sums of K^-1, K^-1 Q^-1 and K^-1 Q^-1 Phi_j per size group
        lane_matmul(k_inv, q_inv, kq, lanes)
        lane_matmul(kq, phi_j, tmp, lanes)
        for s in range(lanes):
            g = group[first + s]
            for r in range(m):
                for c in range(m):
                    s_k[g, r, c] += k_inv[r, c, s]
                    s_kq[g, r, c] += kq[r, c, s]
                    s_kq_phi[g, r, c] += tmp[r, c, s]
        # H = dL/dPhi_j = Lambda' G_W Lambda = -1/2 [(n-1) Phi^-1 - Phi^-1 X Phi^-1]
        #                                      - 1/2 [Q^-1 - Q^-1 K^-1 Q^-1 - w w'] / n
        lane_matmul(x, phi_inv, tmp, lanes)
        lane_matmul(phi_inv, tmp, h, lanes)
        lane_matmul(q_inv, kq, tmp, lanes)
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    h[r, c, s] = (
                        -0.5 * ((sizes[s] - 1.0) * phi_inv[r, c, s] - h[r, c, s])
                        - 0.5
                        * (q_inv[r, c, s] - tmp[r, c, s] - w[r, s] * w[c, s] - extra_h[r, c, s])
                        * inv_sizes[s]
                    )
        # dPsi_W += T' H T, dB_j = 2 T' H Phi_j
        lane_matmul(t_j_t, h, th, lanes)
        lane_matmul(th, t_j, tmp, lanes)
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    d_psi_w[r, c] += tmp[r, c, s]
        lane_matmul(th, phi_j, tmp, lanes)
        for r in range(m):
            for c in range(m):
                for s in range(lanes):
                    d_beta_w[r, c] += 2.0 * tmp[r, c, s]
        for k in range(n_slopes):
            for s in range(lanes):
                d_slopes[first + s, k] = 2.0 * tmp[rows[k], cols[k], s]
    return gradient_from_sums(
        lam, t_b, phi_b, u_w, inv_theta, counts, lane_total, s_x, g_t, y_sq, lane_c, lane_c_sq,
        lane_c_sq_n, lane_c_w, lane_c_w_phi, g_v, g_e, g_size, g_count, s_k, s_kq, s_kq_phi,
        d_psi_w, d_beta_w, d_slopes, d_offsets,
    )  # fmt: skip


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def _failure(p, m, n_clusters, n_slopes):
    """The result for parameters outside the support: -inf and zero gradients."""
    return (
        -np.inf,
        np.zeros((p, m)),
        np.zeros(p),
        np.zeros(p),
        np.zeros((m, m)),
        np.zeros((m, m)),
        np.zeros((m, m)),
        np.zeros((m, m)),
        np.zeros((n_clusters, n_slopes)),
        np.zeros(p),
        np.zeros((n_clusters, p)),
    )
