"""JAX implementations of the likelihood Ops, for `bayes.sampler: numpyro` (pip extra "jax").

numpyro differentiates the log-density with JAX's autodiff, so only the forward computations
are needed; the derivative outputs of `IntervalLogProb` are produced with `jax.grad` in case a
graph uses them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc
from pytensor.link.jax.dispatch import jax_funcify

from bayeslead.bayes.kernels.ops import IntervalLogProb, PatternLoglik

jax.config.update("jax_enable_x64", True)


def jax_pattern_loglik(sigma, mu, observed, weight, count, scatter, mean):
    total = 0.0
    for g in range(observed.shape[0]):  # patterns are static (constants of the graph)
        idx = np.flatnonzero(np.asarray(observed[g]) > 0.5)
        sub = sigma[jnp.ix_(idx, idx)]
        d = mean[g, idx] - mu[idx]
        t = scatter[g][jnp.ix_(idx, idx)] + count[g] * jnp.outer(d, d)
        chol = jnp.linalg.cholesky(sub)
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
        half = jax.scipy.linalg.solve_triangular(chol, jnp.eye(len(idx)), lower=True)
        total = total - 0.5 * (weight[g] * logdet + jnp.sum((half @ t) * half))
    return jnp.where(jnp.isfinite(total), total, -jnp.inf)


@jax_funcify.register(PatternLoglik)
def _jax_pattern_loglik(op, node=None, **kwargs):
    constants = [np.asarray(v.data) if hasattr(v, "data") else None for v in node.inputs]

    def pattern_loglik(sigma, mu, observed, weight, count, scatter, mean):
        observed = constants[2] if constants[2] is not None else observed
        return jax_pattern_loglik(sigma, mu, observed, weight, count, scatter, mean)

    return pattern_loglik


def jax_interval_total(lower, upper, loadings, phi, scores, column, logit: bool):
    w = loadings * jnp.sqrt(jnp.diag(phi)[column])
    scale = jnp.sqrt(1.0 + w**2)[None, :]
    eta = scores[:, column] * w[None, :]
    a = lower * scale - eta
    b = upper * scale - eta
    if logit:
        prob = jnp.where(
            a > 0, jax.nn.sigmoid(-a) - jax.nn.sigmoid(-b), jax.nn.sigmoid(b) - jax.nn.sigmoid(a)
        )
    else:
        flip = a > 0
        lo = jnp.where(flip, -b, a)
        hi = jnp.where(flip, -a, b)
        # a clipped log of the normal CDF difference (pytensor's erfcx has no JAX version)
        prob = 0.5 * (erfc(-hi / np.sqrt(2.0)) - erfc(-lo / np.sqrt(2.0)))
    return jnp.sum(jnp.log(jnp.maximum(prob, 1e-300)))


@jax_funcify.register(IntervalLogProb)
def _jax_interval(op, node=None, **kwargs):
    logit = op.link == "logit"
    column = np.asarray(node.inputs[5].data)
    value_and_grad = jax.value_and_grad(jax_interval_total, argnums=(0, 1, 2, 3, 4))

    def interval_log_prob(lower, upper, loadings, phi, scores, _column):
        total, grads = value_and_grad(lower, upper, loadings, phi, scores, column, logit)
        return (total, *grads)

    return interval_log_prob
