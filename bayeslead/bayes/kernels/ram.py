"""The model-implied covariance of the manifest variables from a RAM table, as one PyTensor Op
with an analytic gradient (McArdle & McDonald 1984).

    Sigma = F B S B' F',  B = (I - A)^-1,

with A (directed paths and loadings) and S (variances and covariances) given as lists of entries
(row, column, free index or -1 with a fixed value), manifest variables first (F keeps the first
p rows). A recursive model orders its variables so that every cause precedes its effects; with
A's entries sorted that way, B's rows follow from ``B = I + A B`` in one pass over the entries,
and the reverse pass uses the standard SEM identities

    dL/dS_kl = (U' M U)_kl (x 1/2 on the diagonal),  dL/dA_rc = (U' M U S B')_rc,

with U = F B (the manifest rows of B) and M = G + G' (G = dL/dSigma). Written as PyTensor
algebra (powers of A, then B S B') the bundled study's gradient took about 27 products of 37 x 37
matrices; here it costs a few products of p x v blocks.
"""

from __future__ import annotations

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.ops import FASTMATH
from bayeslead.bayes.kernels.version import CACHE_VERSION


@numba.njit(cache=True, fastmath=FASTMATH)
def _entry_value(theta, free, fixed):
    return theta[free] if free >= 0 else fixed


@numba.njit(cache=True, fastmath=FASTMATH)
def ram_rows(theta, a_entries, a_fixed, v):
    """B = (I - A)^-1 from A's entries sorted with every cause's row before its effects'."""
    b = np.eye(v)
    for e in range(a_entries.shape[0]):
        r, c = a_entries[e, 0], a_entries[e, 1]
        value = _entry_value(theta, a_entries[e, 2], a_fixed[e])
        for k in range(v):
            b[r, k] += value * b[c, k]
    return b


@numba.njit(cache=True, fastmath=FASTMATH)
def _times_s(x, theta, s_entries, s_fixed):
    """x S for a (n, v) block x and the symmetric S of the entries."""
    out = np.zeros(x.shape)
    n = x.shape[0]
    for e in range(s_entries.shape[0]):
        k, m = s_entries[e, 0], s_entries[e, 1]
        value = _entry_value(theta, s_entries[e, 2], s_fixed[e])
        for i in range(n):
            out[i, m] += x[i, k] * value
        if k != m:
            for i in range(n):
                out[i, k] += x[i, m] * value
    return out


@numba.njit(cache=True, fastmath=FASTMATH)
def ram_sigma(theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
    """The manifest block of B S B' (exactly symmetric)."""
    v, p = sizes[0], sizes[1]
    u = ram_rows(theta, a_entries, a_fixed, v)[:p]
    us = _times_s(u, theta, s_entries, s_fixed)
    sigma = np.empty((p, p))
    for i in range(p):
        for j in range(i + 1):
            total = 0.0
            for k in range(v):
                total += us[i, k] * u[j, k]
            sigma[i, j] = total
            sigma[j, i] = total
    return sigma


@numba.njit(cache=True, fastmath=FASTMATH)
def ram_sigma_grad(g_sigma, theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
    """dL/dtheta from G = dL/dSigma (the identities of the module docstring)."""
    v, p = sizes[0], sizes[1]
    b = ram_rows(theta, a_entries, a_fixed, v)
    u = b[:p]
    m = g_sigma + g_sigma.T
    h = np.zeros((p, v))
    for i in range(p):
        for j in range(p):
            mij = m[i, j]
            for k in range(v):
                h[i, k] += mij * u[j, k]
    grad = np.zeros(theta.shape[0])
    for e in range(s_entries.shape[0]):
        free = s_entries[e, 2]
        if free < 0:
            continue
        row, col = s_entries[e, 0], s_entries[e, 1]
        total = 0.0
        for i in range(p):
            total += u[i, row] * h[i, col]
        grad[free] += 0.5 * total if row == col else total
    hs = _times_s(h, theta, s_entries, s_fixed)
    q = np.zeros((v, p))  # q[c] = (H S B')[:, c], for the causes c only
    done = np.zeros(v, dtype=np.bool_)
    for e in range(a_entries.shape[0]):
        free = a_entries[e, 2]
        if free < 0:
            continue
        r, c = a_entries[e, 0], a_entries[e, 1]
        if not done[c]:
            for i in range(p):
                total = 0.0
                for k in range(v):
                    total += hs[i, k] * b[c, k]
                q[c, i] = total
            done[c] = True
        total = 0.0
        for i in range(p):
            total += u[i, r] * q[c, i]
        grad[free] += total
    return grad


class RamCovariance(Op):
    """Sigma (p x p) from theta and the RAM table's entries (`ram_sigma`); its gradient is
    `RamCovarianceGrad`, the reverse pass of the module docstring.

    Inputs: theta (free parameters), A's entries (n, 3) int64 (row, column, free index or -1)
    sorted causes first, their fixed values, S's entries (one per symmetric pair) and fixed
    values, and sizes = (variables, manifest variables). The table's arrays are graph
    constants: structure, in the compiled model's cache key.
    """

    __props__ = ()

    def make_node(self, theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
        inputs = _inputs(theta, a_entries, a_fixed, s_entries, s_fixed, sizes)
        return Apply(self, inputs, [pt.dmatrix()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = ram_sigma(*inputs)

    def L_op(self, inputs, outputs, output_grads):
        grad = RamCovarianceGrad()(output_grads[0], *inputs)
        return [grad, *(pt.zeros_like(x, dtype="float64") for x in inputs[1:])]


class RamCovarianceGrad(Op):
    """dL/dtheta of `RamCovariance` given dL/dSigma (`ram_sigma_grad`; no second derivatives)."""

    __props__ = ()

    def make_node(self, g_sigma, theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
        g_sigma = pt.as_tensor_variable(g_sigma).astype("float64")
        inputs = _inputs(theta, a_entries, a_fixed, s_entries, s_fixed, sizes)
        return Apply(self, [g_sigma, *inputs], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = ram_sigma_grad(*inputs)


def _inputs(theta, a_entries, a_fixed, s_entries, s_fixed, sizes) -> list:
    floats = [pt.as_tensor_variable(x).astype("float64") for x in (theta, a_fixed, s_fixed)]
    ints = [pt.as_tensor_variable(x).astype("int64") for x in (a_entries, s_entries, sizes)]
    return [floats[0], ints[0], floats[1], ints[1], floats[2], ints[2]]


@register_funcify_default_op_cache_key(RamCovariance)
def _numba_ram_covariance(op, node, **kwargs):
    @numba.njit(cache=True, fastmath=FASTMATH)
    def ram_covariance(theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
        return ram_sigma(theta, a_entries, a_fixed, s_entries, s_fixed, sizes)

    return ram_covariance, CACHE_VERSION


@register_funcify_default_op_cache_key(RamCovarianceGrad)
def _numba_ram_covariance_grad(op, node, **kwargs):
    @numba.njit(cache=True, fastmath=FASTMATH)
    def ram_covariance_grad(g_sigma, theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
        return ram_sigma_grad(g_sigma, theta, a_entries, a_fixed, s_entries, s_fixed, sizes)

    return ram_covariance_grad, CACHE_VERSION
