"""A PyTensor Op for the exact normal log-likelihood of respondents with blanks
(`bayeslead.bayes.kernels.missing.rows_loglik`), registered for the numba backend like
`PatternLoglik` (numba kernels cached on disk; a numpy `perform` for PyMC's own samplers).

One Op returns the log-likelihood and its two gradients from one pass (as `IntervalLogProb`
does), so nutpie's joint log-density-and-gradient function runs the kernel once per evaluation.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.missing import rows_loglik
from bayeslead.bayes.kernels.missing_rows import RowData
from bayeslead.bayes.kernels.version import CACHE_VERSION


class RowsLoglik(Op):
    """loglik(Sigma, mu; respondents with blanks) with its gradients as extra outputs."""

    __props__ = ()

    def make_node(self, sigma, mu, stats, sums, count, rows, order, n_missing, starts, direct):
        floats = [
            pt.as_tensor_variable(v).astype("float64")
            for v in (sigma, mu, stats, sums, count, rows)
        ]
        ints = [
            pt.as_tensor_variable(v).astype("int64") for v in (order, n_missing, starts, direct)
        ]
        outputs = [pt.dscalar(), floats[0].type(), floats[1].type()]
        return Apply(self, [*floats, *ints], outputs)

    def perform(self, node, inputs, outputs):
        value, g_sigma, g_mu, _ = rows_loglik(*inputs[:4], float(inputs[4]), *inputs[5:], True)
        outputs[0][0] = np.array(value)
        outputs[1][0] = g_sigma
        outputs[2][0] = g_mu

    def connection_pattern(self, node):
        return [[True, True, True]] * 2 + [[False, False, False]] * (len(node.inputs) - 2)

    def L_op(self, inputs, outputs, output_grads):
        for extra in output_grads[1:]:
            if not isinstance(extra.type, DisconnectedType):
                raise NotImplementedError("second derivatives of RowsLoglik")
        out = output_grads[0]
        return [out * outputs[1], out * outputs[2]] + [DisconnectedType()() for _ in inputs[2:]]


@register_funcify_default_op_cache_key(RowsLoglik)
def _numba_rows_loglik(op, node, **kwargs):
    @numba.njit(cache=True)
    def rows_loglik_op(sigma, mu, stats, sums, count, rows, order, n_missing, starts, direct):
        value, g_sigma, g_mu, _ = rows_loglik(
            sigma, mu, stats, sums, count.item(), rows, order, n_missing, starts, direct, True
        )
        return np.array(value), g_sigma, g_mu

    return rows_loglik_op, CACHE_VERSION


def missing_loglik(sigma, mu, data: RowData):
    """Symbolic log-likelihood of the respondents in `data` given Sigma and mu (z-scale)."""
    return RowsLoglik()(sigma, mu, *data.arrays)[0]
