"""The multi-group parameter table: one model in every group with a mean structure, and lavaan's
``group.equal`` / ``group.partial`` as equality classes across the groups.

Each group has the same RAM structure (`ParameterTable` of the spec: its free indices are the
group's covariance-structure parameters) plus one mean per variable: item intercepts (nu) and
latent means or intercepts (alpha), so a group's implied moments are ``Sigma_g`` and
``mu_g = [(I - A_g)^-1 m_g]_manifest``. A group's *local* vector is (covariance-structure
parameters, means); `GroupTable.index` maps every local parameter of every group to one global
free index (or -1: fixed), so parameters of one equality class share an index (lavaan's
``ceq.simple``). Identification follows lavaan's ``cfa(..., group = )``: the marker loading of
each construct is 1 in every group; item intercepts are free; latent means are 0 in every group,
and free in every group but the first (the reference) once intercepts are equal (unless
``means`` is equal too). ``group.equal`` applies to parameters without a user label;
parameters with a user label are equal across groups whatever ``group.equal`` says (one label,
one value: lavaan's rule); ``group.partial`` frees the named parameters (``"x3 ~ 1"``,
``"visual =~ x2"``) from ``group.equal``. ``c(...)`` per-group values (`ParameterSetting`
``group_labels`` / ``group_fixed``): a per-group label makes the parameters and groups sharing
it one class (and exempts the parameter from ``group.equal``); a per-group number fixes the
parameter in that group, and so every parameter of its class (lavaan: a group-equal loading
equal to a fixed one is fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np

from bayeslead.config import GroupEqual
from bayeslead.core.ml import positive_definite_start
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec, Regression

GROUP_EQUAL = tuple(k for k in get_args(GroupEqual) if k != "thresholds")
"""lavaan's ``group.equal`` keywords of continuous indicators (thresholds: ordinal items)."""


def compact_key(text: str) -> str:
    """A parameter key without spaces (``"x3 ~ 1"`` -> ``"x3~1"``), as lavaan's group.partial."""
    return "".join(text.split())


@dataclass(frozen=True)
class GroupTable:
    """The multi-group model: the per-group structure, the groups and the global free index of
    every local parameter (see the module docstring)."""

    base: ParameterTable
    groups: tuple[str, ...]
    keys: tuple[str, ...]  # local parameters: base free parameters, then 'v ~1' per variable
    keywords: tuple[str, ...]  # the group.equal keyword of each local parameter ("" for none)
    index: np.ndarray  # (G, L) global free index, -1 where fixed
    fixed: np.ndarray  # (G, L) the value of fixed local parameters

    @property
    def n_free(self) -> int:
        return int(self.index.max()) + 1

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def q(self) -> int:
        """Covariance-structure parameters per group (the base table's free indices)."""
        return self.base.n_free

    def local(self, x: np.ndarray, g: int) -> np.ndarray:
        """Group g's local vector (covariance structure, then means) from global `x` (..., n)."""
        x = np.asarray(x, dtype=float)
        idx = self.index[g]
        out = np.broadcast_to(self.fixed[g], (*x.shape[:-1], len(idx))).copy()
        free = idx >= 0
        out[..., free] = x[..., idx[free]]
        return out

    def expansion(self, g: int) -> np.ndarray:
        """The (L, n_free) 0/1 matrix taking global parameters to group g's local ones."""
        return expansion_matrix(self.index[g], self.n_free)

    def means(self, phi: np.ndarray) -> np.ndarray:
        """The mean parameters (one per variable) of a local vector (..., L)."""
        return phi[..., self.q :]

    def moments(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Implied covariance and mean of the manifest variables for local `phi` (..., L)."""
        a, s = self.base.matrices(phi[..., : self.q])
        b = np.linalg.inv(np.eye(a.shape[-1]) - a)
        p = self.base.n_manifest
        sigma = (b @ s @ np.swapaxes(b, -1, -2))[..., :p, :p]
        mu = (b @ self.means(phi)[..., None])[..., :p, 0]
        return sigma, mu

    def latent_means(self, phi: np.ndarray) -> np.ndarray:
        """Model-implied means of every variable (manifest, then latent) for local `phi`."""
        a, _ = self.base.matrices(phi[..., : self.q])
        b = np.linalg.inv(np.eye(a.shape[-1]) - a)
        return (b @ self.means(phi)[..., None])[..., 0]

    def jacobian(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Sigma, mu and their derivatives with respect to the local parameters of one group:
        dSigma (L, p, p) and dmu (L, p)."""
        q, p = self.q, self.base.n_manifest
        sigma, d_cov = self.base.sigma_jacobian(phi[:q])
        a, _ = self.base.matrices(phi[:q])
        v = a.shape[0]
        b = np.linalg.inv(np.eye(v) - a)
        implied = b @ self.means(phi)
        d_sigma = np.zeros((q + v, p, p))
        d_sigma[:q] = d_cov
        d_mu = np.zeros((q + v, p))
        for r in self.base.free_rows:
            if r.matrix == "A":
                d_mu[r.free] += b[:p, r.row] * implied[r.col]
        d_mu[q:] = b[:p, :].T
        return sigma, implied[:p], d_sigma, d_mu


def expansion_matrix(index: np.ndarray, n_free: int) -> np.ndarray:
    """The (L, n_free) 0/1 matrix taking global parameters to the local ones of one group whose
    global indices are `index` (-1: fixed)."""
    k = np.zeros((len(index), n_free))
    free = np.flatnonzero(index >= 0)
    k[free, index[free]] = 1.0
    return k


def build_group_table(
    spec: ModelSpec,
    groups: tuple[str, ...],
    group_equal: tuple[str, ...] = (),
    group_partial: tuple[str, ...] = (),
) -> GroupTable:
    """The multi-group table of `spec` for `groups` (the first is the reference group) with
    lavaan's `group_equal` keywords and `group_partial` exceptions."""
    unknown = sorted(set(group_equal) - set(GROUP_EQUAL))
    if unknown:
        raise ValueError(f"unknown group.equal keywords: {', '.join(unknown)}")
    base = build_partable(spec)
    keywords, keys, labelled = _local_parameters(spec, base)
    partial = {compact_key(k) for k in group_partial}
    partial |= {_swapped(k) for k in partial}
    n_groups, size = len(groups), len(keys)
    q, p = base.n_free, base.n_manifest
    free = np.ones((n_groups, size), dtype=bool)
    latent_means = np.arange(q + p, size)
    lv_free = "intercepts" in group_equal and "means" not in group_equal
    free[:, latent_means] = False
    if lv_free:
        free[1:, latent_means] = True
    parent = np.arange(n_groups * size)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    fixed = np.zeros((n_groups, size))
    shared, own = _group_settings(spec, base, free, fixed)
    for row in base.free_rows:  # a label given once joins the per-group uses of it
        if row.label in shared and _user_label(spec, row):
            shared[row.label].append((0, row.free))
    for k in range(size):
        equal = labelled[k] or (keywords[k] in group_equal and compact_key(keys[k]) not in partial)
        if keywords[k] == "means" and lv_free:
            equal = False  # the reference group's latent means are 0, the others free
        if equal and k not in own:
            for g in range(1, n_groups):
                parent[root(g * size + k)] = root(k)
    for members in shared.values():
        for g, k in members[1:]:
            parent[root(g * size + k)] = root(members[0][0] * size + members[0][1])
    held = {root(g * size + k): fixed[g, k] for g, k in zip(*np.nonzero(~free), strict=True)}
    index = np.full((n_groups, size), -1, dtype=int)
    numbers: dict[int, int] = {}
    for g in range(n_groups):
        for k in range(size):
            r = root(g * size + k)
            if r in held and k < q:  # a class with a fixed member is fixed
                free[g, k], fixed[g, k] = False, held[r]
            if free[g, k]:
                index[g, k] = numbers.setdefault(r, len(numbers))
    return GroupTable(base, tuple(groups), keys, keywords, index, fixed)


def _group_settings(spec: ModelSpec, base: ParameterTable, free: np.ndarray, fixed: np.ndarray):
    """Apply ``c(...)`` fixed values to `free` / `fixed` (in place); return the (group, local
    parameter) pairs of each per-group label and the parameters that have them."""
    shared: dict[str, list[tuple[int, int]]] = {}
    own: set[int] = set()
    for s in spec.settings:
        if not (s.group_labels or s.group_fixed):
            continue
        row = base.find(s.lhs, s.op, s.rhs)
        if row is None or row.free < 0:
            raise ValueError(f"c(...) on '{s.key}', which is not a free parameter")
        for g, value in enumerate(s.group_fixed):
            if value is not None:
                free[g, row.free], fixed[g, row.free] = False, value
        for g, label in enumerate(s.group_labels):
            if label:
                shared.setdefault(label, []).append((g, row.free))
        own |= {row.free} if s.group_labels else set()
    return shared, own


def _swapped(key: str) -> str:
    """``a~~b`` written the other way round (covariances have no direction)."""
    if "~~" in key:
        lhs, rhs = key.split("~~", 1)
        return f"{rhs}~~{lhs}"
    return key


def _local_parameters(spec: ModelSpec, base: ParameterTable):
    """Each local parameter's group.equal keyword, key and whether the user labelled it."""
    p = base.n_manifest
    latents = set(base.variables[p:])
    keywords, keys, labelled = [], [], []
    for param in base.free_params:
        rows = [r for r in base.params if r.free == param.free]
        keys.append(param.key if param.op != "~~" else f"{param.lhs} ~~ {param.rhs}")
        labelled.append(any(_user_label(spec, r) for r in rows))
        if param.op == "=~":
            keywords.append("loadings")
        elif param.op == "~":
            keywords.append("regressions")
        elif param.lhs in latents and param.rhs in latents:
            keywords.append("lv.variances" if param.lhs == param.rhs else "lv.covariances")
        elif param.lhs == param.rhs:
            keywords.append("residuals")
        else:
            keywords.append("residual.covariances")
    for k, name in enumerate(base.variables):
        keys.append(f"{name} ~ 1")
        keywords.append("intercepts" if k < p else "means")
        labelled.append(False)
    return tuple(keywords), tuple(keys), labelled


def _user_label(spec: ModelSpec, row) -> bool:
    """Whether the syntax labels `row` (not the automatic label of a regression)."""
    if not row.label:
        return False
    return row.op != "~" or row.label != Regression(row.lhs, row.rhs).label


def start_values(table: GroupTable, covs: list[np.ndarray], means: list[np.ndarray]) -> np.ndarray:
    """Global start values: each group's simple starts from its sample moments (item intercepts
    at the sample means, latent means 0), averaged over the rows of each equality class."""
    total = np.zeros(table.n_free)
    count = np.zeros(table.n_free)
    v = len(table.base.variables)
    for g, (cov, mean) in enumerate(zip(covs, means, strict=True)):
        local = np.concatenate(
            [
                positive_definite_start(table.base, table.base.start_values(cov)),
                mean,
                np.zeros(v - len(mean)),
            ]
        )
        idx = table.index[g]
        free = idx >= 0
        np.add.at(total, idx[free], local[free])
        np.add.at(count, idx[free], 1.0)
    return total / np.maximum(count, 1.0)
