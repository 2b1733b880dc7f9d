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

from bayeslead.bayes.ops import CACHE_VERSION, _cholesky_inverse


@dataclass(frozen=True)
class ClusterMoments:
    """Per-cluster sizes, means and centred member rows of the (z-scored) items."""

    counts: np.ndarray  # (J,)
    means: np.ndarray  # (J, p)
    centred: np.ndarray  # (J, n_max, p) members' deviations from the cluster mean, zero-padded
    labels: np.ndarray  # (J,) cluster ids, in order


def cluster_moments(z: np.ndarray, cluster: np.ndarray) -> ClusterMoments:
    """Cluster sizes, means and centred rows (complete rows); padding rows are zero, so they
    add nothing to a cluster's scatter matrix."""
    labels, index = np.unique(cluster, return_inverse=True)
    index = np.ravel(index)
    p = z.shape[1]
    counts = np.bincount(index).astype(float)
    means = np.zeros((len(labels), p))
    np.add.at(means, index, z)
    means /= counts[:, None]
    centred = np.zeros((len(labels), int(counts.max()), p))
    position = np.zeros(len(index), dtype=int)
    seen = np.zeros(len(labels), dtype=int)
    for i, j in enumerate(index):
        position[i] = seen[j]
        seen[j] += 1
    centred[index, position] = z - means[index]
    return ClusterMoments(counts, means, centred, labels)


@numba.njit(cache=True)
def _series_inverse(b, depth):
    """(I - B)^-1 of a nilpotent B: I + B + ... + B^depth."""
    m = b.shape[0]
    total = np.eye(m)
    term = np.eye(m)
    for _ in range(depth):
        term = term @ b
        total = total + term
    return total


@numba.njit(cache=True)
def _twolevel_terms(
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
    counts,
    means,
    centred,
    depth,
):
    """Sum of the clusters' log-likelihoods and its gradient with respect to every input.

    Every p x p inverse is replaced by the Woodbury identity around the diagonal residual
    variances (only m x m inverses remain), and scatter matrices by the centred member rows,
    so a cluster costs O(n p m + p m^2) instead of O(p^3). The gradient uses the full-matrix
    formulas (G = dL/dSigma) contracted with Lambda and diagonals, never forming G.
    """
    p, m = lam.shape
    n_clusters, n_slopes = slopes.shape
    eye = np.eye(m)
    total = 0.0
    d_lam = np.zeros((p, m))
    d_theta_w = np.zeros(p)
    d_psi_w = np.zeros((m, m))
    d_beta_w = np.zeros((m, m))
    d_slopes = np.zeros((n_clusters, n_slopes))
    d_mu = np.zeros(p)
    x_between = np.zeros((p, m))  # sum over clusters of G_C Lambda
    diag_between = np.zeros(p)  # sum over clusters of diag(G_C)
    fail = (
        -np.inf,
        d_lam,
        d_theta_w,
        np.zeros(p),
        d_psi_w,
        np.zeros((m, m)),
        d_beta_w,
        np.zeros((m, m)),
        d_slopes,
        d_mu,
    )
    for k in range(p):
        if not (theta_w[k] > 0.0 and theta_b[k] >= 0.0):
            return fail
    psi_inv, logdet_psi, ok = _cholesky_inverse(psi_w)
    if not ok:
        return fail
    t_b = _series_inverse(beta_b, depth)
    phi_b = t_b @ psi_b @ t_b.T
    u_w = lam / theta_w.reshape(p, 1)  # D^-1 Lambda
    a_w = lam.T @ u_w  # Lambda' D^-1 Lambda
    log_theta_w = np.sum(np.log(theta_w))
    for j in range(n_clusters):
        n = counts[j]
        nj = int(n)
        b_j = beta_w.copy()
        for k in range(n_slopes):
            b_j[rows[k], cols[k]] += slopes[j, k]
        t_j = _series_inverse(b_j, depth)
        phi_j = t_j @ psi_w @ t_j.T
        i_minus_b = eye - b_j
        m_w = i_minus_b.T @ psi_inv @ i_minus_b + a_w  # Phi_j^-1 + Lambda' D^-1 Lambda
        m_inv, logdet_m, ok_m = _cholesky_inverse(m_w)
        # between part: C = Lambda Q Lambda' + diag(e)
        q = phi_b + phi_j / n
        e = theta_b + theta_w / n
        q_inv, logdet_q, ok_q = _cholesky_inverse(q)
        v = lam / e.reshape(p, 1)
        k_c = q_inv + lam.T @ v
        k_inv, logdet_k, ok_k = _cholesky_inverse(k_c)
        if not (ok_m and ok_q and ok_k):
            return fail
        # within: Sigma_W^-1 = D^-1 - U M^-1 U'
        yc = centred[j, :nj]  # (n, p)
        z = yc @ u_w  # (n, m)
        trace_w = np.sum(yc * yc / theta_w.reshape(1, p)) - np.sum((z @ m_inv) * z)
        logdet_w = log_theta_w + logdet_psi + logdet_m
        d = means[j] - mu
        vd = v.T @ d
        c_d = d / e - v @ (k_inv @ vd)  # C^-1 d
        quad = d @ c_d
        logdet_c = np.sum(np.log(e)) + logdet_q + logdet_k
        total += -0.5 * ((n - 1.0) * logdet_w + trace_w) - 0.5 * (logdet_c + quad)
        # gradient contractions of G_C = -1/2 (C^-1 - C^-1 d d' C^-1)
        r_c = v - v @ (k_inv @ (lam.T @ v))  # C^-1 Lambda
        x_c = -0.5 * (r_c - np.outer(c_d, c_d @ lam))
        diag_cinv = 1.0 / e - np.sum((v @ k_inv) * v, axis=1)
        diag_c = -0.5 * (diag_cinv - c_d * c_d)
        # contractions of G_W = -1/2 ((n-1) Sigma_W^-1 - F F') + G_C / n, F = Sigma_W^-1 Yc'
        r_w = u_w - u_w @ (m_inv @ a_w)  # Sigma_W^-1 Lambda
        f = (yc / theta_w.reshape(1, p)).T - u_w @ (m_inv @ z.T)  # (p, n)
        x_w = -0.5 * ((n - 1.0) * r_w - f @ (f.T @ lam)) + x_c / n
        diag_winv = 1.0 / theta_w - np.sum((u_w @ m_inv) * u_w, axis=1)
        diag_w = -0.5 * ((n - 1.0) * diag_winv - np.sum(f * f, axis=1)) + diag_c / n
        x_between += x_c
        diag_between += diag_c
        d_mu += c_d
        d_lam += 2.0 * (x_w @ phi_j)
        d_theta_w += diag_w
        h = lam.T @ x_w
        d_psi_w += t_j.T @ h @ t_j
        d_bj = 2.0 * (t_j.T @ h @ phi_j)
        d_beta_w += d_bj
        for k in range(n_slopes):
            d_slopes[j, k] = d_bj[rows[k], cols[k]]
    d_lam += 2.0 * (x_between @ phi_b)
    h_b = lam.T @ x_between
    d_psi_b = t_b.T @ h_b @ t_b
    d_beta_b = 2.0 * (t_b.T @ h_b @ phi_b)
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
    )


class TwoLevelLoglik(Op):
    """Two-level log-likelihood summed over clusters, with its gradient as extra outputs.

    Inputs: lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes (J, r), then the
    constants slope rows and columns (r,), mu (p), counts, means, centred rows.
    """

    __props__ = ("depth",)

    def __init__(self, depth: int):
        self.depth = depth

    def make_node(self, *inputs):
        floats = [pt.as_tensor_variable(v).astype("float64") for v in inputs[:8]]
        rows, cols = (pt.as_tensor_variable(v).astype("int64") for v in inputs[8:10])
        rest = [pt.as_tensor_variable(v).astype("float64") for v in inputs[10:]]
        mu = rest[0]
        outputs = [pt.dscalar()] + [v.type() for v in floats] + [mu.type()]
        return Apply(self, [*floats, rows, cols, *rest], outputs)

    def perform(self, node, inputs, outputs):
        result = _twolevel_terms(*inputs, self.depth)
        outputs[0][0] = np.array(result[0])
        for k in range(1, 10):
            outputs[k][0] = result[k]

    def L_op(self, inputs, outputs, output_grads):
        g = output_grads[0]
        grads = [g * d for d in outputs[1:9]]
        constants = [
            pt.zeros_like(inputs[8], dtype="float64"),
            pt.zeros_like(inputs[9], dtype="float64"),
        ]
        return [*grads, *constants, g * outputs[9], *[pt.zeros_like(v) for v in inputs[11:]]]


@register_funcify_default_op_cache_key(TwoLevelLoglik)
def _numba_twolevel(op, node, **kwargs):
    depth = op.depth

    @numba.njit(cache=True)
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
        counts,
        means,
        centred,
    ):
        # arrays handed over by the sampler may be non-contiguous views; the kernel reshapes
        c = np.ascontiguousarray
        r = _twolevel_terms(
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
            counts,
            means,
            centred,
            depth,
        )
        return np.array(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]

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
):
    """Symbolic two-level log-likelihood (see `TwoLevelLoglik`)."""
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
        moments.counts,
        moments.means,
        moments.centred,
    )[0]
