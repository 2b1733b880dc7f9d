"""Two-level random-intercept models as two RAM parameter tables, fitted by ML.

`TwoLevelModel` joins a within table (level-1 variables) and a between table (level-2
variables) into one free-parameter vector ``[within free, between free not tied, intercepts]``:
between parameters may be tied to within ones (loadings equal across levels), exogenous observed
covariates are fixed at their sample moments (lavaan's ``fixed.x = TRUE``), and intercepts are
free at the level where a variable's mean lives (items at level 2). The same class carries the
saturated (h1) and the independence (baseline) models, whose tables hold only variances and
covariances. `fit_twolevel` minimises lavaan's -2 log-likelihood (`core.twolevel_ml`) by BFGS
with the analytic gradient, polished by Newton steps on the numerical Hessian of that gradient
(the observed information lavaan uses for two-level standard errors).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from bayeslead.core.ml import Solution
from bayeslead.core.partable import Parameter, ParameterTable
from bayeslead.core.twolevel_ml import ClusterStats, minus2_loglik, placement


def fix_parameters(
    table: ParameterTable, values: dict[tuple[str, str, str], float]
) -> ParameterTable:
    """`table` with the parameters keyed (lhs, op, rhs) fixed at the given values (free
    positions renumbered; rows sharing a free index keep sharing one)."""
    params, renumber = [], {}
    for p in table.params:
        key = (p.lhs, p.op, p.rhs)
        swapped = (p.rhs, p.op, p.lhs)
        value = values.get(key, values.get(swapped) if p.op == "~~" else None)
        if value is not None:
            params.append(dataclasses.replace(p, free=-1, value=float(value)))
        elif p.free >= 0:
            new = renumber.setdefault(p.free, len(renumber))
            params.append(dataclasses.replace(p, free=new))
        else:
            params.append(p)
    return ParameterTable(table.variables, table.n_manifest, tuple(params))


def covariance_table(names: tuple[str, ...], pairs: list[tuple[int, int]]) -> ParameterTable:
    """A table of manifest variances and the covariances of `pairs` (i < j): the saturated and
    independence models of one level."""
    params: list[Parameter] = []
    for i, a in enumerate(names):
        params.append(Parameter(a, "~~", a, "residual_variance", "S", i, i, len(params)))
    for i, j in pairs:
        params.append(
            Parameter(names[i], "~~", names[j], "residual_covariance", "S", j, i, len(params))
        )
    return ParameterTable(tuple(names), len(names), tuple(params))


@dataclass(frozen=True)
class TwoLevelModel:
    """Within and between tables, ties, intercepts and fixed means of one two-level model."""

    within: ParameterTable
    between: ParameterTable
    ties: dict[int, int]  # between free position -> within free position
    intercepts: tuple[tuple[int, str], ...]  # (level 1 or 2, variable) with a free mean
    fixed_means: dict[tuple[int, str], float]  # (level, variable) -> fixed mean

    @property
    def n_between(self) -> int:
        return self.between.n_free - len(self.ties)

    @property
    def n_free(self) -> int:
        return self.within.n_free + self.n_between + len(self.intercepts)

    def expand(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Within free vector, between free vector and intercepts of `theta` (..., n_free)."""
        theta = np.asarray(theta, dtype=float)
        qw = self.within.n_free
        own = theta[..., qw : qw + self.n_between]
        tb = np.empty((*theta.shape[:-1], self.between.n_free))
        k = 0
        for pos in range(self.between.n_free):
            if pos in self.ties:
                tb[..., pos] = theta[..., self.ties[pos]]
            else:
                tb[..., pos] = own[..., k]
                k += 1
        return theta[..., :qw], tb, theta[..., qw + self.n_between :]

    def between_map(self) -> np.ndarray:
        """d(between free vector)/d(theta), shape (n_free, between.n_free)."""
        out = np.zeros((self.n_free, self.between.n_free))
        k = self.within.n_free
        for pos in range(self.between.n_free):
            if pos in self.ties:
                out[self.ties[pos], pos] = 1.0
            else:
                out[k, pos] = 1.0
                k += 1
        return out

    def _level_mean(self, level: int, table: ParameterTable, theta: np.ndarray, nu: np.ndarray):
        """Implied means of a level's manifest variables and their jacobian over (table free,
        intercepts)."""
        a, _ = table.matrices(theta)
        v, m = a.shape[0], table.n_manifest
        b = np.linalg.inv(np.eye(v) - a)
        alpha = np.zeros(v)
        for (lvl, name), value in self.fixed_means.items():
            if lvl == level:
                alpha[table.variables.index(name)] = value
        nu_rows = []
        for k, (lvl, name) in enumerate(self.intercepts):
            if lvl == level:
                alpha[table.variables.index(name)] = nu[k]
                nu_rows.append((k, table.variables.index(name)))
        full = b @ alpha
        d_theta = np.zeros((table.n_free, m))
        for p in table.free_params:
            if p.matrix == "A":
                d_theta[p.free] = b[:m, p.row] * full[p.col]
        d_nu = np.zeros((len(self.intercepts), m))
        for k, row in nu_rows:
            d_nu[k] = b[:m, row]
        return full[:m], d_theta, d_nu

    def moments(self, stats: ClusterStats, theta: np.ndarray, jacobian: bool = False):
        """Sigma_W, Sigma_B, mu (tilde order) and, with `jacobian`, their derivatives with
        respect to theta: (q, p1, p1), (q, p2, p2), (q, tilde)."""
        tw, tb, nu = self.expand(theta)
        e, f = placement(stats, self.between.manifest)
        mw, dw_t, dw_nu = self._level_mean(1, self.within, tw, nu)
        mb, db_t, db_nu = self._level_mean(2, self.between, tb, nu)
        mu = f @ mw + e @ mb
        if not jacobian:
            return self.within.sigma(tw), self.between.sigma(tb), mu
        sw, dsw = self.within.sigma_jacobian(tw)
        sb, dsb = self.between.sigma_jacobian(tb)
        q, qw = self.n_free, self.within.n_free
        bmap = self.between_map()
        d_w = np.zeros((q, *sw.shape))
        d_w[:qw] = dsw
        d_b = np.einsum("qk,kij->qij", bmap, dsb)
        d_mu = np.zeros((q, len(mu)))
        d_mu[:qw] = dw_t @ f.T
        d_mu += bmap @ (db_t @ e.T)
        d_mu[q - len(self.intercepts) :] = dw_nu @ f.T + db_nu @ e.T
        return (sw, sb, mu), (d_w, d_b, d_mu)

    def objective(self, stats: ClusterStats, theta: np.ndarray) -> float:
        sw, sb, mu = self.moments(stats, theta)
        e, f = placement(stats, self.between.manifest)
        return minus2_loglik(stats, sw, sb, mu, e, f, gradient=False)[0]

    def gradient(self, stats: ClusterStats, theta: np.ndarray) -> tuple[float, np.ndarray]:
        (sw, sb, mu), (d_w, d_b, d_mu) = self.moments(stats, theta, jacobian=True)
        e, f = placement(stats, self.between.manifest)
        value, g_w, g_b, g_mu = minus2_loglik(stats, sw, sb, mu, e, f)
        if not np.isfinite(value):
            return value, np.zeros(self.n_free)
        grad = np.einsum("qij,ij->q", d_w, g_w) + np.einsum("qij,ij->q", d_b, g_b) + d_mu @ g_mu
        return value, grad


def hessian(model: TwoLevelModel, stats: ClusterStats, theta: np.ndarray) -> np.ndarray:
    """Hessian of -2 log L by central differences of the analytic gradient."""
    q = len(theta)
    out = np.empty((q, q))
    for k in range(q):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        out[:, k] = (model.gradient(stats, up)[1] - model.gradient(stats, down)[1]) / (2 * h)
    return 0.5 * (out + out.T)


def fit_twolevel(
    model: TwoLevelModel, stats: ClusterStats, start: np.ndarray, polish: bool = True
) -> tuple[Solution, np.ndarray | None]:
    """Minimise -2 log L from `start`; returns the solution (fmin = -2 log L without the 2 pi
    constant) and, with `polish`, the Hessian at the optimum."""
    scale = 1.0 / stats.n

    def fun(theta):
        value, grad = model.gradient(stats, theta)
        if not np.isfinite(value):
            return 1e10, np.zeros_like(theta)
        return value * scale, grad * scale

    result = optimize.minimize(
        fun, start, jac=True, method="BFGS", options={"gtol": 1e-7, "maxiter": 5000}
    )
    theta = result.x
    value, grad = model.gradient(stats, theta)
    iterations = int(result.nit)
    hess = None
    if polish and np.isfinite(value):
        for _ in range(8):
            hess = hessian(model, stats, theta)
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                break
            t = 1.0
            while t > 1e-4:
                candidate = theta - t * step
                new_value, new_grad = model.gradient(stats, candidate)
                if np.isfinite(new_value) and new_value <= value + 1e-12 * abs(value):
                    break
                t /= 2
            else:
                break
            theta, value, grad = candidate, new_value, new_grad
            iterations += 1
            if np.max(np.abs(grad)) * scale < 1e-10:
                break
        hess = hessian(model, stats, theta)
    max_grad = float(np.max(np.abs(grad)) * scale) if len(grad) else 0.0
    converged = bool(np.isfinite(value) and max_grad < 1e-5)
    message = "" if converged else f"BFGS: {result.message}"
    return Solution(theta, float(value), iterations, converged, max_grad, message), hess
