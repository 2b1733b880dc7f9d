"""The two-level kernel's terms for blank answers integrated out (`kernels/twolevel_blanks.py`):
a cluster's expected within scatter and expected d d' of its mean exceed those of the filled-in
rows by A and B (the blanks' conditional covariance), and the kernel's value and gradient take
them in through the same contractions it uses for the rows (Fisher's identity). Called from
`kernels/twolevel_terms.py` for one cluster per group of clusters that share A's and B's weights.
"""

from __future__ import annotations

import numba

from bayeslead.bayes.kernels.lanes import LANE_FASTMATH, matmul


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def within_extra(a, u_w, m_inv, y_sq, g_t, xq):
    """A cluster's expected-scatter addition `a` (p x p) in the kernel's within terms, with
    U = D^-1 Lambda (`u_w`) and M^-1 (`m_inv`): adds diag(a) to `y_sq`, M^-1 U' a to `g_t`
    (m x p), writes M^-1 U' a U M^-1 into `xq` and returns tr(M^-1 U' a U), so that
    tr(Sigma_W^-1 a) = tr(D^-1 a) - the returned value."""
    for k in range(a.shape[0]):
        y_sq[k] += a[k, k]
    ua = matmul(u_w.T, a)  # U' a
    mua = matmul(m_inv, ua)
    q = matmul(ua, u_w)
    for c in range(g_t.shape[0]):
        for k in range(g_t.shape[1]):
            g_t[c, k] += mua[c, k]
    mq = matmul(m_inv, q)
    xq[:, :] = matmul(mq, m_inv)
    trace = 0.0
    for c in range(q.shape[0]):
        trace += mq[c, c]
    return trace


@numba.njit(cache=True, fastmath=LANE_FASTMATH)
def between_extra(b, lam, v, e, k_inv, phi, inv_n, c_sq, c_sq_n, c_w, c_w_phi, h):
    """A cluster's addition `b` (p x p) to the expected d d' in the kernel's between terms, with
    V = E^-1 Lambda (`v`), E (`e`), K^-1 (`k_inv`) and Phi_j (`phi`), so C^-1 = E^-1 - V K^-1 V':
    with F = C^-1 b C^-1 adds diag(F) to `c_sq` (/ n to `c_sq_n`), F Lambda to `c_w`,
    F Lambda Phi_j / n to `c_w_phi`, writes Lambda' F Lambda into `h` and returns
    1/2 tr(C^-1 b)."""
    p = b.shape[0]
    n_t = matmul(k_inv, v.T)  # N = K^-1 V', C^-1 = E^-1 - V N
    c_inv = matmul(v, n_t)
    for k in range(p):
        for c in range(p):
            c_inv[k, c] = -c_inv[k, c]
        c_inv[k, k] += 1.0 / e[k]
    c_lam = matmul(c_inv, lam)
    b_c_lam = matmul(b, c_lam)
    f_lam = matmul(c_inv, b_c_lam)
    f_lam_phi = matmul(f_lam, phi)
    b_n = matmul(b, n_t.T)  # diag(F) from F = E^-1 b E^-1 - 2 sym(E^-1 b N' V') + V N b N' V'
    n_b_n = matmul(n_t, b_n)
    trace = 0.0
    for k in range(p):
        diag = b[k, k] / (e[k] * e[k])
        for c in range(p):
            trace += c_inv[k, c] * b[c, k]
        for c in range(v.shape[1]):
            diag -= 2.0 * b_n[k, c] * v[k, c] / e[k]
            for r in range(v.shape[1]):
                diag += v[k, c] * n_b_n[c, r] * v[k, r]
        c_sq[k] += diag
        c_sq_n[k] += diag * inv_n
        for c in range(lam.shape[1]):
            c_w[k, c] += f_lam[k, c]
            c_w_phi[k, c] += f_lam_phi[k, c] * inv_n
    h[:, :] = matmul(c_lam.T, b_c_lam)
    return 0.5 * trace
