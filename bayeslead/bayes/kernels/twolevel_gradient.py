"""The two-level kernel's gradient from its sums over clusters (`kernels/twolevel_terms.py`): the
within terms (sum_j 2 G_W Lambda Phi_j and diag(G_W)) and the between terms (G_C Lambda, also in
G_W as G_C / n), contracted with Lambda, Phi_B and T_B into the gradient of every parameter
matrix.
"""

from __future__ import annotations

import numba
import numpy as np

from bayeslead.bayes.kernels.lanes import LANE_FASTMATH, LANES, add_lane_sums, matmul


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def gradient_from_sums(
    lam, t_b, phi_b, u_w, inv_theta, counts, lane_total, s_x, g_t, y_sq, lane_c, lane_c_sq,
    lane_c_sq_n, lane_c_w, lane_c_w_phi, g_v, g_e, g_size, g_count, s_k, s_kq, s_kq_phi,
    d_psi_w, d_beta_w, d_slopes, d_offsets,
):  # fmt: skip
    """The kernel's result (`twolevel_terms`) from the per-lane and per-size-group sums over
    clusters and the gradients already complete (Psi_W, B_W, the slopes, the offsets)."""
    p, m = lam.shape
    n_clusters = counts.shape[0]
    n_groups = g_v.shape[0]
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
