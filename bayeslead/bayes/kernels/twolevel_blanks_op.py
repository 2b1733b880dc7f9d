"""The PyTensor Op of the two-level blank-answer correction
(`bayeslead.bayes.kernels.twolevel_blanks.blank_model_terms`), registered for the numba backend
(kernels cached on disk; a numpy `perform` for PyMC's own samplers). One Op returns the value,
its gradients and the blank cells' filling from one pass.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.twolevel_blanks import FAST, BlankCells, integrated_clusters

# PyTensor caches the compiled wrapper by Op type, props and this number: bump it whenever the
# kernel (`twolevel_blanks.py`) or the Op's inputs or outputs change (cached wrappers inline it).
CACHE_VERSION = 4


class BlankCorrection(Op):
    """-1/2 sum_j log|Omega_mm,j| and the clusters filled in at the blank cells' conditional
    means (see `twolevel_blanks.py`).

    Inputs: lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes (J, r) as in the
    two-level kernel, then the constants slope rows and columns (r,), counts (J,), the member
    rows (J, n_max, p) and their answered cells, the clusters' expected item means (J, p), and
    the cells' start (J + 1,), member and item (b,). Outputs: the value, its gradients with
    respect to the first eight inputs, and the filled-in cluster means (J, p) and centred rows
    (J, n_max, p), which carry no gradient (envelope theorem).
    """

    __props__ = ("depth",)

    def __init__(self, depth: int):
        self.depth = depth

    def make_node(self, *inputs):
        floats = [pt.as_tensor_variable(v).astype("float64") for v in inputs[:8]]
        rows, cols = (pt.as_tensor_variable(v).astype("int64") for v in inputs[8:10])
        data = [pt.as_tensor_variable(v).astype("float64") for v in inputs[10:14]]
        ints = [pt.as_tensor_variable(v).astype("int64") for v in inputs[14:]]
        outputs = [pt.dscalar()] + [v.type() for v in floats] + [pt.dmatrix(), pt.tensor3()]
        return Apply(self, [*floats, rows, cols, *data, *ints], outputs)

    def perform(self, node, inputs, outputs):
        result = integrated_clusters(*inputs[:10], self.depth, *inputs[10:])
        outputs[0][0] = np.array(result[0])
        for k in range(1, 11):
            outputs[k][0] = result[k]

    def connection_pattern(self, node):
        # the filling maximises the filled-in likelihood: its gradient contributes nothing
        return [[True] * 9 + [False] * 2] * 8 + [[False] * 11] * (len(node.inputs) - 8)

    def L_op(self, inputs, outputs, output_grads):
        for extra in output_grads[1:9]:
            if not isinstance(extra.type, DisconnectedType):
                raise NotImplementedError("second derivatives of BlankCorrection")
        out = output_grads[0]
        grads = [out * d for d in outputs[1:9]]
        return grads + [DisconnectedType()() for _ in inputs[8:]]


@register_funcify_default_op_cache_key(BlankCorrection)
def _numba_blank_correction(op, node, **kwargs):
    depth = op.depth

    @numba.njit(cache=True, fastmath=FAST)
    def blank_correction(
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
        counts,
        filled,
        observed,
        shift,
        start,
        member,
        item,
    ):
        c = np.ascontiguousarray
        r = integrated_clusters(
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
            depth,
            counts,
            c(filled),
            c(observed),
            c(shift),
            start,
            member,
            item,
        )
        return np.array(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]

    return blank_correction, CACHE_VERSION


def blank_correction(matrices: tuple, counts, filled, shift, cells: BlankCells) -> tuple:
    """Symbolic (-1/2 sum_j log|Omega_mm,j|, filled-in cluster means, centred rows) of the
    two-level model's `matrices` (lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes,
    rows, cols, depth); see `BlankCorrection`."""
    *arrays, depth = matrices
    out = BlankCorrection(depth)(
        *arrays, counts, filled, cells.observed, shift, cells.start, cells.member, cells.item
    )
    return out[0], out[9], out[10]
