"""The parameter table of a ModelSpec in RAM form, with numpy model-implied moments.

RAM (McArdle & McDonald 1984): variables are the manifest columns followed by the latent
constructs; `A[i, j]` is the effect of variable j on variable i (loadings, regressions), `S` holds
(residual) variances and covariances. The implied covariance of all variables is
``Omega = B S B'`` with ``B = (I - A)^-1``; the manifest block is ``Sigma``.

Identification is lavaan's default: the first indicator of each construct has loading 1; latent
(residual) variances are free; exogenous constructs covary. The model syntax's settings then
apply in lavaan's order (`bayeslead.core.spec.ParameterSetting`): ``NA*`` frees, a number fixes,
a label names a row. Equality constraints are equality classes: every row of a class (a shared
label, an ``equal()`` target, ``a == b``) has the same free index (lavaan's ``ceq.simple``,
theta = K x), and ``a == 0.5`` fixes a whole class; `n_free` counts distinct indices. Both engines and the simulator read
this table; the functions here work on one parameter vector or on a batch of them
(leading axes), so they serve bootstrap replicates and posterior draws alike.

A latent interaction `RECO:ENV` adds the product as one more variable after the latents
(`products` names its components) and its coefficient as an ``"interaction"`` row of A. The
product's variance is not a parameter (S holds 0 there, so `implied` is the linear part);
`bayeslead.core.conditional` fills in its moments where effects need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np

from bayeslead.core.batches import in_blocks
from bayeslead.core.constraints import apply_settings, equality_classes
from bayeslead.core.spec import ModelSpec

Kind = Literal[
    "loading",
    "regression",
    "residual_variance",
    "latent_variance",
    "latent_covariance",
    "residual_covariance",
    "interaction",
]


@dataclass(frozen=True)
class Parameter:
    """One row of the parameter table, in lavaan's lhs/op/rhs notation."""

    lhs: str
    op: str
    rhs: str
    kind: Kind
    matrix: Literal["A", "S"]
    row: int
    col: int
    free: int  # position in the free-parameter vector, or -1 when fixed
    value: float = 0.0  # the fixed value of a fixed parameter
    label: str = ""
    start: float | None = None  # the user's start value (start(0.5)*x)

    @property
    def key(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}"


@dataclass(frozen=True)
class ParameterTable:
    variables: tuple[str, ...]
    n_manifest: int
    params: tuple[Parameter, ...]
    products: tuple[tuple[int, int, int], ...] = ()  # (product, left, right) variable indices

    @property
    def n_free(self) -> int:
        """Number of free parameters (distinct free indices: equal rows count once)."""
        return len({p.free for p in self.params if p.free >= 0})

    @property
    def free_params(self) -> list[Parameter]:
        """One row per free index (the first row of its equality class), in index order."""
        first: dict[int, Parameter] = {}
        for p in self.params:
            if p.free >= 0:
                first.setdefault(p.free, p)
        return [first[k] for k in sorted(first)]

    @property
    def free_rows(self) -> list[Parameter]:
        """Every free row (rows of one equality class share their index)."""
        return [p for p in self.params if p.free >= 0]

    @property
    def constrained(self) -> bool:
        """Whether some free index is shared by several rows (an equality constraint)."""
        return len(self.free_rows) > self.n_free

    @property
    def manifest(self) -> tuple[str, ...]:
        return self.variables[: self.n_manifest]

    def index(self, key: str) -> int:
        """Free-parameter position of ``'lhs op rhs'`` (spaces as in `Parameter.key`)."""
        for p in self.params:
            if p.key == key and p.free >= 0:
                return p.free
        raise KeyError(key)

    def find(self, lhs: str, op: str, rhs: str) -> Parameter | None:
        for p in self.params:
            if (p.lhs, p.op, p.rhs) == (lhs, op, rhs):
                return p
            if op == "~~" and (p.lhs, p.op, p.rhs) == (rhs, op, lhs):
                return p
        return None

    # --- matrices -----------------------------------------------------------------------
    def matrices(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RAM matrices A and S for `theta` of shape (..., n_free)."""
        theta = np.asarray(theta, dtype=float)
        batch = theta.shape[:-1]
        v = len(self.variables)
        a = np.zeros((*batch, v, v))
        s = np.zeros((*batch, v, v))
        for p in self.params:
            target = a if p.matrix == "A" else s
            value = theta[..., p.free] if p.free >= 0 else p.value
            target[..., p.row, p.col] = value
            if p.matrix == "S":
                target[..., p.col, p.row] = value
        return a, s

    def implied(self, theta: np.ndarray) -> np.ndarray:
        """Model-implied covariance of all variables (manifest first), shape (..., v, v)."""
        return in_blocks(self._implied_block, theta)

    def _implied_block(self, theta: np.ndarray) -> np.ndarray:
        a, s = self.matrices(theta)
        b = np.linalg.inv(np.eye(a.shape[-1]) - a)
        return b @ s @ np.swapaxes(b, -1, -2)

    def sigma(self, theta: np.ndarray) -> np.ndarray:
        """Model-implied covariance of the manifest variables."""
        m = self.n_manifest
        return self.implied(theta)[..., :m, :m]

    def sigma_jacobian(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sigma and its derivatives dSigma/dtheta_k, shape (n_free, p, p), for one theta."""
        a, s = self.matrices(theta)
        v, m = a.shape[0], self.n_manifest
        b = np.linalg.inv(np.eye(v) - a)
        omega = b @ s @ b.T
        fb = b[:m, :]
        free = self.free_rows
        rows = np.array([p.row for p in free], dtype=int)
        cols = np.array([p.col for p in free], dtype=int)
        is_a = np.array([p.matrix == "A" for p in free], dtype=bool)
        left = fb[:, rows]  # p x rows
        right = np.where(is_a[None, :], omega[cols, :m].T, fb[:, cols])
        d = np.einsum("ik,jk->kij", left, right)
        d = d + np.swapaxes(d, 1, 2)
        diag_s = (~is_a) & (rows == cols)
        d[diag_s] /= 2.0
        if len(free) == self.n_free:
            return omega[:m, :m], d
        summed = np.zeros((self.n_free, m, m))  # K'J: rows of a class add into its index
        np.add.at(summed, np.array([p.free for p in free]), d)
        return omega[:m, :m], summed

    # --- standardisation ------------------------------------------------------------------
    def standardized(self, theta: np.ndarray) -> np.ndarray:
        """lavaan's std.all value of every row of `params`, shape (..., len(params)).

        Loadings and regressions are scaled by the total SDs of both variables; variances by the
        total variance; covariances are correlations of the (residual) terms (lavaan's default
        ``cov.std = TRUE``).
        """
        return in_blocks(self._standardized_block, theta)

    def _standardized_block(self, theta: np.ndarray) -> np.ndarray:
        a, s = self.matrices(theta)
        b = np.linalg.inv(np.eye(a.shape[-1]) - a)
        total_sd = np.sqrt(np.clip(np.diagonal(b @ s @ np.swapaxes(b, -1, -2), 0, -2, -1), 0, None))
        s_sd = np.sqrt(np.clip(np.diagonal(s, 0, -2, -1), 0, None))
        out = []
        with np.errstate(divide="ignore", invalid="ignore"):
            for p in self.params:
                value = a[..., p.row, p.col] if p.matrix == "A" else s[..., p.row, p.col]
                if p.matrix == "A":
                    out.append(value * total_sd[..., p.col] / total_sd[..., p.row])
                elif p.row == p.col:
                    out.append(value / total_sd[..., p.row] ** 2)
                else:
                    out.append(value / (s_sd[..., p.row] * s_sd[..., p.col]))
        return np.stack(out, axis=-1)

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Value of every row of `params` (fixed ones included), shape (..., len(params))."""
        theta = np.asarray(theta, dtype=float)
        cols = [
            theta[..., p.free] if p.free >= 0 else np.full(theta.shape[:-1], p.value)
            for p in self.params
        ]
        return np.stack(cols, axis=-1)

    # --- start values ---------------------------------------------------------------------
    def start_values(self, cov: np.ndarray) -> np.ndarray:
        """Simple start values from a sample covariance of the manifest variables.

        Loadings get the sign and size of their covariance with the marker item, so that
        iterative estimators (and MCMC chains) start in the right reflection mode.
        """
        rows = self.free_rows
        values = np.zeros(len(rows))
        m = self.n_manifest
        var = np.diag(cov)
        marker: dict[int, int] = {}
        for p in self.params:
            if p.kind == "loading" and p.free < 0:
                marker[p.col] = p.row
        factor_var = {}
        for col, row in marker.items():
            ref = _manifest_marker(row, marker, m)
            factor_var[col] = 0.5 * var[ref] if ref is not None else 0.5 * float(np.mean(var))
        for k, p in enumerate(rows):
            if p.start is not None:
                values[k] = p.start
            elif p.kind == "loading":
                ref = _manifest_marker(p.row, marker, m)
                mref = _manifest_marker(marker.get(p.col, p.row), marker, m)
                if ref is not None and mref is not None and factor_var.get(p.col, 0) > 0:
                    values[k] = cov[ref, mref] / factor_var[p.col]
                else:
                    values[k] = 1.0
            elif p.kind == "residual_variance":
                values[k] = 0.5 * var[p.row] if p.row < m else 0.5
            elif p.kind == "latent_variance" and p.row < m:
                values[k] = var[p.row]
            elif p.kind == "latent_variance":
                values[k] = max(factor_var.get(p.row, 0.5), 0.05)
        index = np.array([p.free for p in rows], dtype=int)
        counts = np.bincount(index, minlength=self.n_free)
        return np.bincount(index, weights=values, minlength=self.n_free) / np.maximum(counts, 1)

    def label_values(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Value of every labelled row (user labels and the automatic regression labels) for
        `theta` of shape (..., n_free): what ``:=`` definitions are evaluated on."""
        values = self.values(theta)
        out: dict[str, np.ndarray] = {}
        for k, p in enumerate(self.params):
            if p.label:
                out.setdefault(p.label, values[..., k])
        return out


def _manifest_marker(index: int, marker: dict[int, int], n_manifest: int) -> int | None:
    """Follow marker loadings down from a latent to the manifest item that sets its scale."""
    seen = set()
    while index >= n_manifest:
        if index in seen or index not in marker:
            return None
        seen.add(index)
        index = marker[index]
    return index


def build_partable(
    spec: ModelSpec, identification: str = "marker", unit_residuals: bool = False
) -> ParameterTable:
    """Translate a ModelSpec into a RAM parameter table.

    ``identification="marker"`` is lavaan's default (first loading of each construct 1, latent
    variances free); ``"std.lv"`` frees every loading and fixes every latent (residual) variance
    to 1, so exogenous latent covariances are correlations (the Bayesian engine samples this);
    ``"none"`` frees both (the caller identifies the model, e.g. per group).
    ``unit_residuals`` fixes the item residual variances to 1 (latent responses of ordinal
    items, the theta parameterisation).
    """
    std_lv = identification == "std.lv"
    products = tuple(q.name for q in spec.interactions)
    variables = (*spec.manifest, *spec.latents, *dict.fromkeys(products))
    pos = {name: i for i, name in enumerate(variables)}
    params: list[Parameter] = []

    def add(lhs, op, rhs, kind, matrix, row, col, fixed=None, label=""):
        free = -1 if fixed is not None else sum(p.free >= 0 for p in params)
        value = 0.0 if fixed is None else fixed
        params.append(Parameter(lhs, op, rhs, kind, matrix, pos[row], pos[col], free, value, label))

    for factor in (*spec.first_order, *spec.second_order):
        for k, ind in enumerate(factor.indicators):
            marker = k == 0 and identification == "marker"
            add(factor.name, "=~", ind, "loading", "A", ind, factor.name, 1.0 if marker else None)
    for r in spec.regressions:
        add(r.outcome, "~", r.predictor, "regression", "A", r.outcome, r.predictor, label=r.label)
    for q in spec.interactions:
        add(q.outcome, "~", q.name, "interaction", "A", q.outcome, q.name, label=q.label)
    for item in spec.items:
        add(item, "~~", item, "residual_variance", "S", item, item, 1.0 if unit_residuals else None)
    for name in spec.observed:
        add(name, "~~", name, "latent_variance", "S", name, name)
    for name in spec.latents:
        add(name, "~~", name, "latent_variance", "S", name, name, 1.0 if std_lv else None)
    for a, b in combinations(spec.exogenous(), 2):
        add(a, "~~", b, "latent_covariance", "S", b, a)
    items = set(spec.items)
    for a, b in spec.covariances:
        kind = "residual_covariance" if a in items else "latent_covariance"
        add(a, "~~", b, kind, "S", b, a)
    params = equality_classes(spec, apply_settings(spec, params))
    triples = tuple(
        dict.fromkeys((pos[q.name], pos[q.left], pos[q.right]) for q in spec.interactions)
    )
    return ParameterTable(tuple(variables), len(spec.manifest), tuple(params), triples)


def marker_scales(
    table: ParameterTable, theta: np.ndarray, manifest: np.ndarray | None = None
) -> np.ndarray:
    """Scale of each variable's marker metric relative to `table`'s metric, shape (..., v).

    Manifest variables get `manifest` (default 1: keep their metric; e.g. item SDs turn
    z-scores back into raw responses); a latent's scale is its first indicator's loading times
    that indicator's scale, so that in the marker metric the first loading is 1.
    """
    a, _ = table.matrices(theta)
    v, m = a.shape[-1], table.n_manifest
    first: dict[int, int] = {}
    for p in table.params:
        if p.kind == "loading":
            first.setdefault(p.col, p.row)
    scales = np.ones((*np.shape(theta)[:-1], v))
    if manifest is not None:
        scales[..., :m] = manifest
    for col in _marker_order(first, m):
        row = first[col]
        scales[..., col] = a[..., row, col] * scales[..., row]
    for product, left, right in table.products:
        if product not in first:  # a product variable measured by nothing: its components' scale
            scales[..., product] = scales[..., left] * scales[..., right]
    return scales


def _marker_order(first: dict[int, int], n_manifest: int) -> list[int]:
    """Latents ordered so that each comes after the latent its marker indicator is."""
    order: list[int] = []

    def visit(col: int) -> None:
        if col in order:
            return
        if first[col] >= n_manifest:
            visit(first[col])
        order.append(col)

    for col in first:
        visit(col)
    return order


def rescale(
    source: ParameterTable, target: ParameterTable, theta: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    """Express `theta` of `source` in `target`'s identification, variable i scaled by scales[i].

    ``A'[i, j] = A[i, j] c_i / c_j`` and ``S'[i, j] = S[i, j] c_i c_j``; e.g. std.lv draws with
    `marker_scales` become lavaan's marker metric.
    """
    return rescale_matrices(target, *source.matrices(theta), scales)


def rescale_matrices(
    target: ParameterTable, a: np.ndarray, s: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    """`target`'s free parameters read from RAM matrices A and S (..., v, v) after scaling
    variable i by scales[..., i] (see `rescale`); for matrices that no single theta of the
    source table gives (between-level or group-specific blocks)."""
    free = target.free_params
    rows = np.array([p.row for p in free], dtype=int)
    cols = np.array([p.col for p in free], dtype=int)
    in_a = np.array([p.matrix == "A" for p in free], dtype=bool)
    c_row, c_col = scales[..., rows], scales[..., cols]
    # only the free entries, each as (A c_i) / c_j and (S c_i) c_j: the same operations in the
    # same order as on the whole matrices
    out = np.empty((*a.shape[:-2], target.n_free))
    out[..., [p.free for p in free]] = np.where(
        in_a, a[..., rows, cols] * c_row / c_col, s[..., rows, cols] * c_row * c_col
    )
    return out
