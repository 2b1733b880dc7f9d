"""JAX implementations of the likelihood Ops, for `bayes.sampler: numpyro` (pip extra "jax").

numpyro differentiates the log-density with JAX's autodiff, so only the forward computations
are needed; the derivative outputs of `IntervalLogProb` and `RowsLoglik` are produced with
`jax.grad` in case a graph uses them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import erfc
from pytensor.link.jax.dispatch import jax_funcify

from bayeslead.bayes.kernels.missing_op import RowsLoglik
from bayeslead.bayes.kernels.missing_rows import RowData
from bayeslead.bayes.kernels.ops import IntervalLogProb, PatternLoglik
from bayeslead.bayes.kernels.ram import RamCovariance, RamCovarianceGrad

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
        args = (sigma, mu, observed, weight, count, scatter, mean)
        # the Op's further outputs: the value's gradients (unused by numpyro, which
        # differentiates the value itself, so XLA drops them)
        grads = jax.grad(jax_pattern_loglik, argnums=(0, 1, 5, 6))(*args)
        return (jax_pattern_loglik(*args), *grads)

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


def rows_plan(data: RowData) -> tuple[list, list]:
    """The incomplete respondents of `data` grouped by their number of missing items k (static
    shapes for batched factorisations): low-rank groups (rows, missing items, observed mask)
    and direct-route groups (rows, observed items)."""
    p = data.rows.shape[1]
    pattern = np.repeat(np.arange(len(data.n_missing)), np.diff(data.starts))
    lowrank, direct = [], []
    for k in np.unique(data.n_missing):
        for route in (0, 1):
            members = np.flatnonzero(
                (data.n_missing[pattern] == k) & (data.direct[pattern] == route)
            )
            if not len(members):
                continue
            order = data.order[pattern[members]]
            rows = data.rows[members]
            if route == 0:
                mask = np.ones((len(members), p))
                np.put_along_axis(mask, order[:, :k], 0.0, axis=1)
                lowrank.append((rows, order[:, :k], mask))
            else:
                direct.append((rows, order[:, k:]))
    return lowrank, direct


def jax_rows_loglik(sigma, mu, data: RowData, plan: tuple[list, list]):
    """`bayeslead.bayes.kernels.missing.rows_loglik`'s value (same formulas, batched over the
    respondents with the same k); -inf if Sigma is not positive definite."""
    p = sigma.shape[0]
    chol = jnp.linalg.cholesky(sigma)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(chol)))
    half = solve_triangular(chol, jnp.eye(p), lower=True)
    prec = half.T @ half
    s_yy, s_yo, s_oo = data.stats
    f = s_yy - s_yo * mu[None, :] - s_yo.T * mu[:, None] + s_oo * jnp.outer(mu, mu)
    total = -0.5 * (data.count * logdet + jnp.sum(prec * f))
    lowrank, direct = plan
    for rows, miss, mask in lowrank:
        r = (rows - mu[None, :]) * mask
        low = jnp.linalg.cholesky(prec[miss[:, :, None], miss[:, None, :]])
        v = jnp.einsum("nkp,np->nk", prec[miss], r)
        w = solve_triangular(low, v[..., None], lower=True)[..., 0]
        logdet_mm = 2.0 * jnp.sum(jnp.log(jnp.diagonal(low, axis1=1, axis2=2)))
        total = total - 0.5 * (logdet_mm - jnp.sum(w * w))
    for rows, obs in direct:
        r = jnp.take_along_axis(rows, obs, axis=1) - mu[obs]
        low = jnp.linalg.cholesky(sigma[obs[:, :, None], obs[:, None, :]])
        w = solve_triangular(low, r[..., None], lower=True)[..., 0]
        logdet_oo = 2.0 * jnp.sum(jnp.log(jnp.diagonal(low, axis1=1, axis2=2)))
        total = total - 0.5 * (logdet_oo + jnp.sum(w * w))
    return jnp.where(jnp.isfinite(total), total, -jnp.inf)


@jax_funcify.register(RowsLoglik)
def _jax_rows_loglik(op, node=None, **kwargs):
    arrays = [np.asarray(v.data) for v in node.inputs[2:]]  # the data are graph constants
    data = RowData(arrays[0], arrays[1], float(arrays[2]), *arrays[3:])
    plan = rows_plan(data)
    value_and_grad = jax.value_and_grad(jax_rows_loglik, argnums=(0, 1))

    def rows_loglik_op(sigma, mu, *_data):
        value, (g_sigma, g_mu) = value_and_grad(sigma, mu, data, plan)
        return value, g_sigma, g_mu

    return rows_loglik_op


def jax_ram_sigma(theta, a_entries, a_fixed, s_entries, s_fixed, sizes):
    """`bayeslead.bayes.kernels.ram.ram_sigma` (the entries are static: graph constants)."""
    v, p = int(sizes[0]), int(sizes[1])
    matrices = []
    for entries, fixed in ((a_entries, a_fixed), (s_entries, s_fixed)):
        free = entries[:, 2]
        values = jnp.where(free >= 0, theta[np.maximum(free, 0)], fixed)
        matrices.append(jnp.zeros((v, v)).at[entries[:, 0], entries[:, 1]].add(values))
    a, s = matrices
    s = s + s.T - jnp.diag(jnp.diag(s))
    b = jnp.linalg.inv(jnp.eye(v) - a)
    return (b @ s @ b.T)[:p, :p]


def _ram_structure(node, first: int) -> list[np.ndarray]:
    return [np.asarray(x.data) for x in node.inputs[first + 1 :]]


@jax_funcify.register(RamCovariance)
def _jax_ram_covariance(op, node=None, **kwargs):
    structure = _ram_structure(node, 0)

    def ram_covariance(theta, *_structure):
        return jax_ram_sigma(theta, *structure)

    return ram_covariance


@jax_funcify.register(RamCovarianceGrad)
def _jax_ram_covariance_grad(op, node=None, **kwargs):
    structure = _ram_structure(node, 1)

    def ram_covariance_grad(g_sigma, theta, *_structure):
        return jax.vjp(lambda t: jax_ram_sigma(t, *structure), theta)[1](g_sigma)[0]

    return ram_covariance_grad
