"""The two-level likelihood: respondents in clusters, with random within-cluster slopes.

Each construct is a between-cluster part plus a within-cluster part; items are
``y = mu + Lambda (eta_b + eta_w) + e_b + e_w`` with loadings equal across levels. Given a
cluster's slopes, all Gaussian parts (cluster latents and item residuals, within latents) are
integrated out exactly. With the cluster mean ybar_j, the within scatter S_j and n_j members:

    Sigma_W,j = Lambda Phi_W,j Lambda' + Theta_W,   Phi_W,j = T_j Psi_W T_j',  T_j = (I - B_W - U_j)^-1
    Sigma_B   = Lambda Phi_B Lambda' + Theta_B,     Phi_B   = T_B Psi_B T_B'
    log L_j   = -1/2 [(n_j - 1) log|Sigma_W,j| + tr(Sigma_W,j^-1 S_j)]
                -1/2 [log|C_j| + d_j' C_j^-1 d_j],   C_j = Sigma_B + Sigma_W,j / n_j,  d_j = ybar_j - mu

so the only sampled cluster-level quantities are the (non-centred) random slopes. One PyTensor
Op computes the sum over clusters and the analytic gradient with respect to every matrix in a
single numba pass (Bauer, Preacher & Gil 2006 model; cf. lavaan's two-level likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.lanes import (
    LANE_FASTMATH,
    LANES,
    add_lane_sums,
    lane_matmul,
    lane_matvec,
    lane_series_inverse,
    lane_spd_inverse,
    lane_transpose,
    matmul,
    series_inverse,
)
from bayeslead.bayes.kernels.ops import CACHE_VERSION
from bayeslead.bayes.kernels.twolevel_scatter import between_extra, within_extra


@dataclass(frozen=True)
class ClusterMoments:
    """Per-cluster sizes, means and centred member rows of the (z-scored) items (arrays, or
    data containers of them inside a model)."""

    counts: np.ndarray  # (J,)
    means: np.ndarray  # (J, p)
    centred: np.ndarray  # (J, n_max, p) members' deviations from the cluster mean, zero-padded
    labels: np.ndarray  # (J,) cluster ids, in order


def cluster_positions(cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster ids in order, each row's cluster as an index into them, and each row's position
    among its cluster's members (in data order)."""
    labels, index = np.unique(cluster, return_inverse=True)
    index = np.ravel(index)
    position = np.zeros(len(index), dtype=int)
    seen = np.zeros(len(labels), dtype=int)
    for i, j in enumerate(index):
        position[i] = seen[j]
        seen[j] += 1
    return labels, index, position


def cluster_moments(z: np.ndarray, cluster: np.ndarray) -> ClusterMoments:
    """Cluster sizes, means and centred rows (complete rows); padding rows are zero, so they
    add nothing to a cluster's scatter matrix."""
    labels, index, position = cluster_positions(cluster)
    p = z.shape[1]
    counts = np.bincount(index).astype(float)
    means = np.zeros((len(labels), p))
    np.add.at(means, index, z)
    means /= counts[:, None]
    centred = np.zeros((len(labels), int(counts.max()), p))
    centred[index, position] = z - means[index]
    return ClusterMoments(counts, means, centred, labels)


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
    # cluster-independent pieces: Psi_W (in every lane), Psi_W^-1, T_B, Phi_B, D^-1 Lambda
    low = np.empty((m, m, LANES))
    psi = np.empty((m, m, LANES))
    psi_inv = np.empty((m, m, LANES))
    for r in range(m):
        for c in range(m):
            for s in range(LANES):
                psi[r, c, s] = psi_w[r, c]
    logdet_psi = np.empty(1)
    if not lane_spd_inverse(psi, psi_inv, low, logdet_psi, 1):
        return _failure(p, m, n_clusters, n_slopes)
    for r in range(m):
        for c in range(m):
            for s in range(1, LANES):
                psi_inv[r, c, s] = psi_inv[r, c, 0]
    t_b = series_inverse(beta_b, depth)
    phi_b = matmul(matmul(t_b, psi_b), t_b.T)
    inv_theta = np.empty(p)
    u_w = np.empty((p, m))  # U = D^-1 Lambda
    log_theta_w = 0.0
    for k in range(p):
        inv_theta[k] = 1.0 / theta_w[k]
        log_theta_w += np.log(theta_w[k])
        for c in range(m):
            u_w[k, c] = lam[k, c] * inv_theta[k]
    a_w = matmul(lam.T, u_w)  # Lambda' D^-1 Lambda
    # the non-zero loadings, construct by construct: items load_item[load_start[c]:load_start[c+1]]
    load_start = np.zeros(m + 1, dtype=np.int64)
    for c in range(m):
        load_start[c + 1] = load_start[c]
        for k in range(p):
            load_start[c + 1] += lam[k, c] != 0.0
    n_load = load_start[m]
    load_item = np.empty(n_load, dtype=np.int64)
    load_construct = np.empty(n_load, dtype=np.int64)
    t = 0
    for c in range(m):
        for k in range(p):
            if lam[k, c] != 0.0:
                load_item[t] = k
                load_construct[t] = c
                t += 1
    # clusters of one size share E, V = E^-1 Lambda, Lambda' V and log|E|
    group_of_size = np.full(n_max + 1, -1)
    group = np.empty(n_clusters, dtype=np.int64)
    n_groups = 0
    for j in range(n_clusters):
        size = int(counts[j])
        if group_of_size[size] < 0:
            group_of_size[size] = n_groups
            n_groups += 1
        group[j] = group_of_size[size]
    g_size = np.zeros(n_groups)
    g_count = np.zeros(n_groups)
    for j in range(n_clusters):
        g_size[group[j]] = counts[j]
        g_count[group[j]] += 1.0
    g_e = np.empty((n_groups, p))
    g_v = np.empty((n_groups, p, m))
    g_a = np.empty((n_groups, m, m))
    g_logdet_e = np.zeros(n_groups)
    for g in range(n_groups):
        for k in range(p):
            g_e[g, k] = theta_b[k] + theta_w[k] / g_size[g]
            g_logdet_e[g] += np.log(g_e[g, k])
            for c in range(m):
                g_v[g, k, c] = lam[k, c] / g_e[g, k]
        g_a[g] = matmul(lam.T, g_v[g])
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
                (n - 1.0) * (log_theta_w + logdet_psi[0] + logdet_m[s])
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
    total = 0.0
    for s in range(LANES):
        total += lane_total[s]
    # within: sum_j 2 G_W Lambda Phi_j = D^-1 sum Yc' Zm - U sum X, and sum diag(G_W)
    n_within = 0.0
    for j in range(n_clusters):
        n_within += counts[j] - 1.0
    u_x = matmul(u_w, s_x)
    d_lam = np.empty((p, m))
    d_theta_w = np.empty(p)
    for k in range(p):
        g_u = 0.0
        x_u = 0.0
        for c in range(m):
            d_lam[k, c] = g_t[c, k] * inv_theta[k] - u_x[k, c]
            g_u += g_t[c, k] * u_w[k, c]
            x_u += u_x[k, c] * u_w[k, c]
        d_theta_w[k] = -0.5 * (
            n_within * inv_theta[k] - y_sq[k] * inv_theta[k] ** 2 + 2.0 * inv_theta[k] * g_u - x_u
        )
    # between: G_C Lambda = -1/2 (V K^-1 Q^-1 - C^-1 d d' C^-1 Lambda), also in G_W as G_C / n
    d_mu = np.zeros(p)
    diag_between = np.zeros(p)
    x_between = np.zeros((p, m))
    add_lane_sums(lane_c, d_mu, 1.0)
    add_lane_sums(lane_c_sq, diag_between, 0.5)
    add_lane_sums(lane_c_sq_n, d_theta_w, 0.5)
    add_lane_sums(lane_c_w, x_between, 0.5)
    add_lane_sums(lane_c_w_phi, d_lam, 1.0)
    for g in range(n_groups):
        v = g_v[g]
        v_k = matmul(v, s_k[g])
        v_kq = matmul(v, s_kq[g])
        v_kq_phi = matmul(v, s_kq_phi[g])
        for k in range(p):
            diag_c = g_count[g] / g_e[g, k]
            for c in range(m):
                diag_c -= v_k[k, c] * v[k, c]
                x_between[k, c] -= 0.5 * v_kq[k, c]
                d_lam[k, c] -= v_kq_phi[k, c] / g_size[g]
            diag_between[k] -= 0.5 * diag_c
            d_theta_w[k] -= 0.5 * diag_c / g_size[g]
    x_phi_b = matmul(x_between, phi_b)
    for k in range(p):
        for c in range(m):
            d_lam[k, c] += 2.0 * x_phi_b[k, c]
    th_b = matmul(t_b.T, matmul(lam.T, x_between))
    d_psi_b = matmul(th_b, t_b)
    d_beta_b = matmul(th_b, phi_b)
    for r in range(m):
        for c in range(m):
            d_beta_b[r, c] *= 2.0
    return (
        total,
        d_lam,
        d_theta_w,
        diag_between,
        d_psi_w,
        d_psi_b,
        d_beta_w,
        d_beta_b,
        d_slopes,
        d_mu,
        d_offsets,
    )


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


class TwoLevelLoglik(Op):
    """Two-level log-likelihood summed over clusters, with its gradient as extra outputs.

    Inputs: lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes (J, r), then the
    constants slope rows and columns (r,), mu (p), per-cluster mean offsets (J, p; e.g. level-3
    latent intercepts times the loadings), counts, means, centred rows, and the blank answers'
    expected-scatter additions: extra_index (J,), extra_w and extra_b (G, p, p) (see
    `twolevel_terms`; G = 0 without blanks). The data get no gradient: they are constants, or
    blank answers' conditional moments whose gradient is disconnected
    (`models/twolevel/blanks.py`).
    """

    __props__ = ("depth",)

    def __init__(self, depth: int):
        self.depth = depth

    def make_node(self, *inputs):
        floats = [pt.as_tensor_variable(v).astype("float64") for v in inputs[:8]]
        rows, cols = (pt.as_tensor_variable(v).astype("int64") for v in inputs[8:10])
        rest = [pt.as_tensor_variable(v).astype("float64") for v in inputs[10:15]]
        index = pt.as_tensor_variable(inputs[15]).astype("int64")
        extras = [pt.as_tensor_variable(v).astype("float64") for v in inputs[16:]]
        mu, offsets = rest[0], rest[1]
        outputs = [pt.dscalar()] + [v.type() for v in floats] + [mu.type(), offsets.type()]
        return Apply(self, [*floats, rows, cols, *rest, index, *extras], outputs)

    def perform(self, node, inputs, outputs):
        result = twolevel_terms(*inputs, self.depth)
        outputs[0][0] = np.array(result[0])
        for k in range(1, 11):
            outputs[k][0] = result[k]

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        grads = [g * d for d in outputs[1:9]]
        constants = [
            pt.zeros_like(inputs[8], dtype="float64"),
            pt.zeros_like(inputs[9], dtype="float64"),
        ]
        means = [g * outputs[9], g * outputs[10]]
        data = [pt.zeros_like(v, dtype="float64") for v in inputs[12:]]
        return [*grads, *constants, *means, *data]


@register_funcify_default_op_cache_key(TwoLevelLoglik)
def _numba_twolevel(op, node, **kwargs):
    depth = op.depth

    @numba.njit(cache=True, fastmath=LANE_FASTMATH)
    def twolevel_loglik(
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
    ):
        # arrays handed over by the sampler may be non-contiguous views; the kernel reshapes
        c = np.ascontiguousarray
        r = twolevel_terms(
            c(lam),
            c(theta_w),
            c(theta_b),
            c(psi_w),
            c(psi_b),
            c(beta_w),
            c(beta_b),
            c(slopes),
            rows,
            cols,
            c(mu),
            c(offsets),
            counts,
            c(means),
            c(centred),
            extra_index,
            c(extra_w),
            c(extra_b),
            depth,
        )
        return np.array(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]

    return twolevel_loglik, CACHE_VERSION


def twolevel_loglik(
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
    moments: ClusterMoments,
    depth: int,
    offsets=None,
    data=None,
):
    """Symbolic two-level log-likelihood (see `TwoLevelLoglik`); `offsets` (J, p) shift each
    cluster's mean (default none); `data`: symbolic (means, centred rows, (extra_index, extra_w,
    extra_b)) in place of the moments' constants (blank answers integrated out, `blanks.py`)."""
    if offsets is None:
        offsets = pt.zeros_like(moments.means, dtype="float64")
    if data is None:  # no additions (an empty extra_index)
        empty = np.zeros((0, 0, 0))
        data = (moments.means, moments.centred, (np.zeros(0, dtype=int), empty, empty))
    means, centred, extras = data
    return TwoLevelLoglik(depth)(
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
        moments.counts,
        means,
        centred,
        *extras,
    )[0]
