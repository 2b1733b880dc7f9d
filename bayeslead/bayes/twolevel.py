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
    """Per-cluster sizes, means and within scatter matrices of the (z-scored) items."""

    counts: np.ndarray  # (J,)
    means: np.ndarray  # (J, p)
    scatters: np.ndarray  # (J, p, p) sum over members of (y - ybar_j)(y - ybar_j)'
    labels: np.ndarray  # (J,) cluster ids, in order


def cluster_moments(z: np.ndarray, cluster: np.ndarray) -> ClusterMoments:
    """Sufficient statistics of each cluster (complete rows)."""
    labels, index = np.unique(cluster, return_inverse=True)
    p = z.shape[1]
    counts = np.bincount(index).astype(float)
    means = np.zeros((len(labels), p))
    np.add.at(means, index, z)
    means /= counts[:, None]
    centred = z - means[index]
    scatters = np.zeros((len(labels), p, p))
    np.add.at(scatters, index, centred[:, :, None] * centred[:, None, :])
    return ClusterMoments(counts, means, scatters, labels)


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
    scatters,
    depth,
):
    p, m = lam.shape
    n_clusters, n_slopes = slopes.shape
    total = 0.0
    d_lam = np.zeros((p, m))
    d_theta_w = np.zeros(p)
    d_psi_w = np.zeros((m, m))
    d_beta_w = np.zeros((m, m))
    d_slopes = np.zeros((n_clusters, n_slopes))
    d_mu = np.zeros(p)
    g_b = np.zeros((p, p))
    t_b = _series_inverse(beta_b, depth)
    phi_b = t_b @ psi_b @ t_b.T
    sigma_b = lam @ phi_b @ lam.T + np.diag(theta_b)
    for j in range(n_clusters):
        b_j = beta_w.copy()
        for k in range(n_slopes):
            b_j[rows[k], cols[k]] += slopes[j, k]
        t_j = _series_inverse(b_j, depth)
        phi_j = t_j @ psi_w @ t_j.T
        sigma_w = lam @ phi_j @ lam.T + np.diag(theta_w)
        inv_w, logdet_w, ok_w = _cholesky_inverse(sigma_w)
        n = counts[j]
        inv_c, logdet_c, ok_c = _cholesky_inverse(sigma_b + sigma_w / n)
        if not (ok_w and ok_c):
            return (
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
        d = means[j] - mu
        s = scatters[j]
        c_d = inv_c @ d
        total += -0.5 * ((n - 1.0) * logdet_w + np.sum(inv_w * s)) - 0.5 * (logdet_c + d @ c_d)
        g_c = -0.5 * (inv_c - np.outer(c_d, c_d))
        g_w = -0.5 * ((n - 1.0) * inv_w - inv_w @ s @ inv_w) + g_c / n
        g_b += g_c
        d_mu += c_d
        d_lam += 2.0 * (g_w @ lam @ phi_j)
        d_theta_w += np.diag(g_w)
        h = lam.T @ g_w @ lam
        d_psi_w += t_j.T @ h @ t_j
        d_bj = 2.0 * (t_j.T @ h @ phi_j)
        d_beta_w += d_bj
        for k in range(n_slopes):
            d_slopes[j, k] = d_bj[rows[k], cols[k]]
    d_lam += 2.0 * (g_b @ lam @ phi_b)
    d_theta_b = np.diag(g_b).copy()
    h_b = lam.T @ g_b @ lam
    d_psi_b = t_b.T @ h_b @ t_b
    d_beta_b = 2.0 * (t_b.T @ h_b @ phi_b)
    return total, d_lam, d_theta_w, d_theta_b, d_psi_w, d_psi_b, d_beta_w, d_beta_b, d_slopes, d_mu


class TwoLevelLoglik(Op):
    """Two-level log-likelihood summed over clusters, with its gradient as extra outputs.

    Inputs: lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes (J, r), then the
    constants slope rows and columns (r,), mu (p), counts, means, scatters.
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
        scatters,
    ):
        r = _twolevel_terms(
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
            scatters,
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
        moments.scatters,
    )[0]
