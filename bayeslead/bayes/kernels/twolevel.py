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
single numba pass (Bauer, Preacher & Gil 2006 model; cf. lavaan's two-level likelihood):
`kernels/twolevel_terms.py`, over `twolevel_shared.py` and `twolevel_gradient.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.lanes import LANE_FASTMATH
from bayeslead.bayes.kernels.twolevel_terms import twolevel_terms
from bayeslead.bayes.kernels.version import CACHE_VERSION


@dataclass(frozen=True)
class ClusterMoments:
    """Per-cluster sizes, means and centred member rows of the (z-scored) items (arrays, or
    data containers of them inside a model)."""

    counts: np.ndarray  # (J,)
    means: np.ndarray  # (J, p)
    centred: np.ndarray  # (J, n_max, p) members' deviations from the cluster mean, zero-padded
    labels: np.ndarray  # (J,) cluster ids, in order


@dataclass(frozen=True)
class FilledRows:
    """The kernel's data in place of a `ClusterMoments`' means and centred rows (symbolic, inside
    a model): the rows with each blank answer at its conditional mean, and the blanks'
    expected-scatter additions (`models/twolevel/blanks.py`, `kernels/twolevel_scatter.py`)."""

    means: object  # (J, p)
    centred: object  # (J, n_max, p)
    extra_index: object  # (J,) the group whose additions a cluster carries, -1 none
    extra_within: object  # (G, p, p) A, added to the within scatter
    extra_between: object  # (G, p, p) B, added to d d' of the cluster mean


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
    data: FilledRows | None = None,
):
    """Symbolic two-level log-likelihood (see `TwoLevelLoglik`); `offsets` (J, p) shift each
    cluster's mean (default none); `data` replaces the moments' means and rows (blank answers
    integrated out, `models/twolevel/blanks.py`)."""
    if offsets is None:
        offsets = pt.zeros_like(moments.means, dtype="float64")
    if data is None:  # no additions (an empty extra_index)
        empty = np.zeros((0, 0, 0))
        data = FilledRows(moments.means, moments.centred, np.zeros(0, dtype=int), empty, empty)
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
        data.means,
        data.centred,
        data.extra_index,
        data.extra_within,
        data.extra_between,
    )[0]
