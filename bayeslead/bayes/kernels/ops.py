"""A PyTensor Op for the normal log-likelihood of missing-data patterns, with its gradient.

    loglik(Sigma, mu) = -1/2 sum_g [ w_g log|Sigma_g| + tr(Sigma_g^-1 (S_g + n_g d_g d_g')) ]

over patterns g (Sigma_g the block of observed items, S_g the scatter about the pattern mean,
d_g = pattern mean - mu; complete data is one pattern with weight N - 1 and no mean term, the
means integrated out). Writing it as one Op with an analytic gradient keeps the sampled graph
free of linear-algebra Ops, whose numba compilation dominated start-up (about 10 s of a 19 s
compile for the serial SEM). The numba kernels are cached on disk, so later runs skip their
compilation; a numpy `perform` serves PyMC's own samplers and a JAX implementation numpyro.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from bayeslead.bayes.kernels.moments import PatternMoments
from bayeslead.bayes.kernels.version import CACHE_VERSION

# Every kernel states its fastmath flags. Left unset, numba inherits them from the first caller
# that compiles a signature (PyTensor's numba graph compiles with FASTMATH, a Python call without)
# and its caches are not keyed by flags, so the machine code - and the sampler's draws, from the
# first warm-up step on - depended on what ran first and on what the caches held. The
# factorisation is strict IEEE (exact sqrt and log, no reordering); the O(p^2) accumulations may
# reassociate and contract (PyTensor's set), the combination the recorded reference runs used.
FASTMATH = {"arcp", "contract", "afn", "reassoc", "nsz"}


@numba.njit(cache=True, fastmath=False)
def _cholesky_inverse(a):
    """Inverse and log-determinant of an SPD matrix via Cholesky; ok=False if not SPD."""
    k = a.shape[0]
    chol = np.zeros((k, k))
    for j in range(k):
        diag = a[j, j]
        for m in range(j):
            diag -= chol[j, m] * chol[j, m]
        if not diag > 0.0:
            return np.zeros((k, k)), 0.0, False
        chol[j, j] = np.sqrt(diag)
        for i in range(j + 1, k):
            off = a[i, j]
            for m in range(j):
                off -= chol[i, m] * chol[j, m]
            chol[i, j] = off / chol[j, j]
    inv_chol = np.zeros((k, k))  # L^-1 by forward substitution
    for c in range(k):
        for i in range(c, k):
            value = 1.0 if i == c else 0.0
            for m in range(c, i):
                value -= chol[i, m] * inv_chol[m, c]
            inv_chol[i, c] = value / chol[i, i]
    logdet = 0.0
    for j in range(k):
        logdet += 2.0 * np.log(chol[j, j])
    return inv_chol.T @ inv_chol, logdet, True


@numba.njit(cache=True, fastmath=FASTMATH)
def pattern_terms(sigma, mu, observed, weight, count, scatter, mean, want_grad):
    """Log-likelihood over patterns and (optionally) its gradients; ok=False if any block of
    Sigma is not positive definite."""
    patterns, p = observed.shape
    total = 0.0
    g_sigma = np.zeros((p, p))
    g_mu = np.zeros(p)
    g_scatter = np.zeros((patterns, p, p))
    g_mean = np.zeros((patterns, p))
    for g in range(patterns):
        idx = np.flatnonzero(observed[g] > 0.5)
        k = idx.size
        sub = np.empty((k, k))
        t = np.empty((k, k))
        d = np.empty(k)
        for a in range(k):
            d[a] = mean[g, idx[a]] - mu[idx[a]]
        for a in range(k):
            for b in range(k):
                sub[a, b] = sigma[idx[a], idx[b]]
                t[a, b] = scatter[g, idx[a], idx[b]] + count[g] * d[a] * d[b]
        inv, logdet, ok = _cholesky_inverse(sub)
        if not ok:
            return -np.inf, g_sigma, g_mu, g_scatter, g_mean, False
        total += -0.5 * (weight[g] * logdet + np.sum(inv * t))
        if want_grad:
            grad = -0.5 * (weight[g] * inv - inv @ t @ inv)
            inv_d = inv @ d
            for a in range(k):
                g_mu[idx[a]] += count[g] * inv_d[a]
                g_mean[g, idx[a]] = -count[g] * inv_d[a]
                for b in range(k):
                    g_sigma[idx[a], idx[b]] += grad[a, b]
                    g_scatter[g, idx[a], idx[b]] = -0.5 * inv[a, b]
    return total, g_sigma, g_mu, g_scatter, g_mean, True


class PatternLoglik(Op):
    """loglik(Sigma, mu; pattern moments) as a scalar, followed by its gradients with respect to
    Sigma, mu, the scatters and the means as four more outputs.

    One call factorises each pattern's block once for the value and the gradient: a sampler
    asks for both at every leapfrog step, and as two Ops (value, then gradient) every step
    factorised and inverted each block twice (bundled study: 13 of the kernels' 31 us per
    gradient). The gradient outputs are the value's derivatives only (no second derivatives).
    """

    __props__ = ()

    def make_node(self, sigma, mu, observed, weight, count, scatter, mean):
        inputs = [
            pt.as_tensor_variable(v).astype("float64")
            for v in (sigma, mu, observed, weight, count, scatter, mean)
        ]
        outputs = [pt.dscalar(), pt.dmatrix(), pt.dvector(), pt.dtensor3(), pt.dmatrix()]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, outputs):
        result = pattern_terms(*inputs, True)
        outputs[0][0] = np.array(result[0])
        for k in range(1, 5):
            outputs[k][0] = result[k]

    def L_op(self, inputs, outputs, output_grads):
        if any(not isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            raise NotImplementedError("PatternLoglik: no second derivatives")
        out = output_grads[0]
        g_sigma, g_mu, g_scatter, g_mean = outputs[1:]
        zero = [pt.zeros_like(v) for v in inputs[2:5]]
        return [out * g_sigma, out * g_mu, *zero, out * g_scatter, out * g_mean]


@register_funcify_default_op_cache_key(PatternLoglik)
def _numba_pattern_loglik(op, node, **kwargs):
    @numba.njit(cache=True, fastmath=FASTMATH)
    def pattern_loglik(sigma, mu, observed, weight, count, scatter, mean):
        # a non-positive-definite Sigma gives -inf (the sampler rejects the proposal)
        result = pattern_terms(sigma, mu, observed, weight, count, scatter, mean, True)
        return np.array(result[0]), result[1], result[2], result[3], result[4]

    return pattern_loglik, CACHE_VERSION


def pattern_loglik(sigma, mu, moments: PatternMoments, scatter=None, weight=None):
    """Symbolic log-likelihood of `moments` given Sigma and mu (mu = 0 for complete data);
    `scatter` and `weight` may replace the moments' by symbolic ones (latent scores, data
    containers)."""
    return PatternLoglik()(
        sigma,
        mu,
        moments.observed,
        moments.weight if weight is None else weight,
        moments.count,
        moments.scatter if scatter is None else scatter,
        moments.mean,
    )[0]


# --- ordinal response probabilities ----------------------------------------------------------
_SQRT2 = np.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@numba.njit(cache=True)
def interval_terms(lower, upper, loadings, phi, scores, column, logit):
    """Ordered-response log-likelihood and its derivatives with respect to every input.

    Response (i, j) has latent response y* = w_j u_ic + e with w_j = loading_j x SD of the
    item's construct c = column[j] (sqrt(phi[c, c]), phi the constructs' covariance), u_ic the
    standardised score of the construct, and e standard normal
    (probit) or logistic (logit). With s_j = sqrt(1 + w_j^2) the y* SD, the category
    probability is P(lower * s_j - w_j u_ic < e < upper * s_j - w_j u_ic): thresholds are in
    units of the y* SD. Entries whose lower bound is positive use the upper tail (precision).
    lower, upper: (N, p); loadings: (p,); phi: (m, m); scores: (N, m); column: (p,) integers.
    """
    n, p = lower.shape
    total = 0.0
    d_lower = np.zeros((n, p))
    d_upper = np.zeros((n, p))
    d_w = np.zeros(p)
    d_scores = np.zeros(scores.shape)
    item_sd = np.empty(p)
    for j in range(p):
        item_sd[j] = np.sqrt(phi[column[j], column[j]])
    w = loadings * item_sd
    scale = np.sqrt(1.0 + w * w)
    for i in range(n):
        for j in range(p):
            eta = w[j] * scores[i, column[j]]
            a = lower[i, j] * scale[j] - eta
            b = upper[i, j] * scale[j] - eta
            if logit:
                fa = 1.0 / (1.0 + math.exp(-a))
                fb = 1.0 / (1.0 + math.exp(-b))
                prob = fb - fa if a <= 0.0 else (1.0 - fa) - (1.0 - fb)
                dens_a = fa * (1.0 - fa)
                dens_b = fb * (1.0 - fb)
            else:
                if a > 0.0:
                    prob = 0.5 * (math.erfc(a / _SQRT2) - math.erfc(b / _SQRT2))
                else:
                    prob = 0.5 * (math.erfc(-b / _SQRT2) - math.erfc(-a / _SQRT2))
                dens_a = _INV_SQRT_2PI * math.exp(-0.5 * a * a)
                dens_b = _INV_SQRT_2PI * math.exp(-0.5 * b * b)
            prob = max(prob, 1e-300)
            total += math.log(prob)
            ga = -dens_a / prob
            gb = dens_b / prob
            d_lower[i, j] = ga * scale[j]
            d_upper[i, j] = gb * scale[j]
            # d/dw through the scale and through eta
            d_w[j] += (ga * lower[i, j] + gb * upper[i, j]) * w[j] / scale[j] - (ga + gb) * scores[
                i, column[j]
            ]
            d_scores[i, column[j]] -= (ga + gb) * w[j]
    d_phi = np.zeros(phi.shape)
    for j in range(p):
        d_phi[column[j], column[j]] += d_w[j] * loadings[j] / (2.0 * item_sd[j])
    return total, d_lower, d_upper, d_w * item_sd, d_phi, d_scores


class IntervalLogProb(Op):
    """Ordered-response log-likelihood of (N, p) responses (see `interval_terms`).

    One Op with all partial derivatives as extra outputs, computed in the same pass (the CDFs
    are the expensive part); the gradient reuses them. It takes raw inputs (gathers of the
    parameters, not elementwise expressions of them), which keeps graph rewrites from
    duplicating it.
    """

    __props__ = ("link",)

    def __init__(self, link: str = "probit"):
        self.link = link

    def make_node(self, lower, upper, loadings, item_sd, scores, column):
        floats = [
            pt.as_tensor_variable(v).astype("float64")
            for v in (lower, upper, loadings, item_sd, scores)
        ]
        column = pt.as_tensor_variable(column).astype("int64")
        outputs = [pt.dscalar()] + [v.type() for v in floats]
        return Apply(self, [*floats, column], outputs)

    def perform(self, node, inputs, outputs):
        result = interval_terms(*inputs, self.link == "logit")
        outputs[0][0] = np.array(result[0])
        for k in range(1, 6):
            outputs[k][0] = result[k]

    def L_op(self, inputs, outputs, output_grads):
        grads = [output_grads[0] * d for d in outputs[1:]]
        return [*grads, pt.zeros_like(inputs[5], dtype="float64")]


@register_funcify_default_op_cache_key(IntervalLogProb)
def _numba_interval(op, node, **kwargs):
    logit = op.link == "logit"

    @numba.njit(cache=True)
    def interval_log_prob(lower, upper, loadings, phi, scores, column):
        r = interval_terms(lower, upper, loadings, phi, scores, column, logit)
        return np.array(r[0]), r[1], r[2], r[3], r[4], r[5]

    return interval_log_prob, CACHE_VERSION


def interval_log_prob(lower, upper, loadings, phi, scores, column, link: str = "probit"):
    """Symbolic ordered-response log-likelihood (see `IntervalLogProb`)."""
    return IntervalLogProb(link)(lower, upper, loadings, phi, scores, column)[0]
