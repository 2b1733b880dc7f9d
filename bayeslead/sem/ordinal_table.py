"""The parameters of a CFA of ordinal items in one or more groups, delta parameterization
(lavaan's default for ``ordered`` items), and the thresholds and polychoric correlations they
imply.

Each item i has a latent response y*_i = nu_i + lambda_i' eta + eps_i and is observed in
category c when tau_i,c-1 < y*_i <= tau_ic. The RAM structure of the spec (`ParameterTable`,
every loading and latent variance a candidate parameter) gives the common covariance
C = [B S B']_items (item residual variances set to 0) and the means mu = [B m]_items of
m = (nu, alpha); the scale factors Delta_i = 1 / SD(y*_i) make the implied correlations and
thresholds (lavaan's ``computeTH`` / ``computeSigmaHat`` with ``delta``):

    rho_ij = Delta_i Delta_j (C_ij + theta_ij),    tau*_ic = Delta_i (tau_ic - mu_i),

and the residual variances are not parameters: theta_ii = 1 / Delta_i^2 - C_ii.

A group's local vector is (base free parameters, nu, alpha, tau, Delta); `OrdinalTable.index`
maps every local parameter of every group to one global free index (-1: fixed at `fixed`), so
parameters equal across groups share an index. `build_ordinal_table` writes the
identification: one group with lavaan's ``cfa()`` default (marker loading 1, nu = alpha = 0,
Delta = 1), several groups with ``semTools::measEq.syntax(ID.fac = "std.lv", ID.cat =
"Wu.Estabrook.2016")``: latent variances 1 and means 0 in the first group; in the others
thresholds equal frees the intercepts nu and scales Delta (Wu & Estabrook 2016, Proposition 4),
loadings equal frees the latent variances, intercepts equal (nu = 0 again) frees the latent means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.core.groups import compact_key, expansion_matrix
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec

ORDINAL_EQUAL = ("thresholds", "loadings", "intercepts", "lv.covariances", "regressions")
"""The ``group.equal`` keywords of the ordinal model; ``residuals`` only in the theta
parameterization (not identified under delta, as ``measEq.syntax`` says)."""


@dataclass(frozen=True)
class OrdinalTable:
    """The ordinal model in every group: structure, groups, local keys and global indices."""

    base: ParameterTable
    groups: tuple[str, ...]
    n_thresholds: tuple[int, ...]  # per item
    keys: tuple[str, ...]  # lavaan keys of the local parameters
    keywords: tuple[str, ...]  # the group.equal keyword of each local parameter
    index: np.ndarray  # (G, L) global free index, -1 where fixed
    fixed: np.ndarray  # (G, L) values of the fixed local parameters
    theta: bool = False  # theta parameterization: residual variances are parameters

    @property
    def n_free(self) -> int:
        return int(self.index.max()) + 1

    @property
    def q(self) -> int:
        return self.base.n_free

    @property
    def p(self) -> int:
        return self.base.n_manifest

    @property
    def n_moments(self) -> int:
        """Thresholds plus polychoric correlations per group."""
        return sum(self.n_thresholds) + self.p * (self.p - 1) // 2

    def blocks(self) -> dict[str, slice]:
        """Positions of each block of a local vector."""
        q, p, v = self.q, self.p, len(self.base.variables)
        k = sum(self.n_thresholds)
        return {
            "base": slice(0, q),
            "nu": slice(q, q + p),
            "alpha": slice(q + p, q + v),
            "tau": slice(q + v, q + v + k),
            "delta": slice(q + v + k, q + v + k + p),
        }

    def local(self, x: np.ndarray, g: int) -> np.ndarray:
        """Group g's local vector from the global parameters `x` (..., n_free)."""
        x = np.asarray(x, dtype=float)
        idx = self.index[g]
        out = np.broadcast_to(self.fixed[g], (*x.shape[:-1], len(idx))).copy()
        out[..., idx >= 0] = x[..., idx[idx >= 0]]
        return out

    def expansion(self, g: int) -> np.ndarray:
        """The (L, n_free) 0/1 matrix taking global parameters to group g's local ones."""
        return expansion_matrix(self.index[g], self.n_free)

    def parts(self, phi: np.ndarray) -> dict[str, np.ndarray]:
        """Common covariance, residual variances, means and scales of local `phi`."""
        b = self.blocks()
        a, s = self.base.matrices(phi[b["base"]])
        p = self.p
        residual = np.diag(s)[:p].copy()
        s[np.arange(p), np.arange(p)] = 0.0
        inv = np.linalg.inv(np.eye(a.shape[0]) - a)
        common = (inv @ s @ inv.T)[:p, :p]
        means = inv @ np.concatenate([phi[b["nu"]], phi[b["alpha"]]])
        if self.theta:  # the scales follow from the latent responses' variances
            delta = 1.0 / np.sqrt(np.diag(common) + residual)
        else:  # the residual variances follow from the scales
            delta = phi[b["delta"]]
            residual = 1.0 / delta**2 - np.diag(common)
        return {
            "common": common,
            "residual": residual,
            "mu": means[:p],
            "latent_means": means[p:],
            "delta": delta,
            "tau": phi[b["tau"]],
        }

    def moments(self, phi: np.ndarray) -> np.ndarray:
        """Implied (thresholds, correlations) of local `phi`, in `Polychoric`'s order."""
        parts = self.parts(phi)
        delta, mu = parts["delta"], parts["mu"]
        item = np.repeat(np.arange(self.p), self.n_thresholds)
        tau = delta[item] * (parts["tau"] - mu[item])
        rows, cols = np.triu_indices(self.p, 1)
        rho = delta[rows] * delta[cols] * parts["common"][rows, cols]
        return np.concatenate([tau, rho])

    def jacobian(self, phi: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """d moments / d local parameters (central differences), (n_moments, L)."""
        out = np.empty((self.n_moments, len(phi)))
        for k in range(len(phi)):
            up, down = phi.copy(), phi.copy()
            up[k] += h
            down[k] -= h
            out[:, k] = (self.moments(up) - self.moments(down)) / (2 * h)
        return out


def build_ordinal_table(
    spec: ModelSpec,
    groups: tuple[str, ...],
    n_thresholds: tuple[int, ...],
    group_equal: tuple[str, ...] = (),
    group_partial: tuple[str, ...] = (),
    parameterization: str = "delta",
) -> OrdinalTable:
    """The ordinal model of `spec` for `groups` (first = reference) with `group_equal`
    (see the module docstring for the identification) and `group_partial`: loadings, latent
    (co)variances, intercepts (``"y3 ~ 1"``: free in the other groups, as below the scalar
    level), thresholds (``"y3 | t1"``) and residual variances (theta) exempt from the equality,
    as measEq.syntax's ``group.partial``, with its rule for an item's intercept and scale (see
    the code). ``"theta"``: residual variances 1 in the first group, free in the others once
    thresholds are equal, 1 again with ``residuals`` equal; the scales follow from them."""
    theta = parameterization == "theta"
    unknown = sorted(set(group_equal) - set(ORDINAL_EQUAL) - ({"residuals"} if theta else set()))
    if unknown:
        raise ValueError(f"group.equal keywords not available for ordinal items: {unknown}")
    base = build_partable(spec, identification="none")
    p, variables = base.n_manifest, base.variables
    keys, keywords, fixed_value, free_at = [], [], [], []
    single = len(groups) == 1
    equal = set(group_equal)
    markers = {f.name: f.indicators[0] for f in (*spec.first_order, *spec.second_order)}
    for param in base.free_params:
        keys.append(param.key)
        if param.kind == "loading":
            keywords.append("loadings")
            marker = single and markers.get(param.lhs) == param.rhs
            fixed_value.append(1.0)
            free_at.append("none" if marker else "all")
        elif param.kind == "residual_variance" and param.lhs in base.manifest:
            keywords.append("residuals")
            fixed_value.append(1.0 if theta else np.nan)  # delta: 1 / Delta^2 - common
            free_at.append("none")  # theta: set below, by Wu & Estabrook's rule
        elif param.kind == "latent_variance":
            keywords.append("lv.variances")
            fixed_value.append(1.0)
            if single:
                free_at.append("all")
            else:
                free_at.append("others" if "loadings" in equal else "none")
        elif param.kind == "regression":
            keywords.append("regressions")
            fixed_value.append(0.0)
            free_at.append("all")
        else:
            keywords.append(
                "residual.covariances" if param.kind == "residual_covariance" else "lv.covariances"
            )
            fixed_value.append(0.0)
            free_at.append("all")
    partial = {compact_key(k) for k in group_partial}
    n_equal = {  # per item: its thresholds equal across groups (Wu & Estabrook's rule counts them)
        name: sum("thresholds" in equal and f"{name}|t{c + 1}" not in partial for c in range(count))
        for name, count in zip(variables[:p], n_thresholds, strict=True)
    }
    equal_intercept = {
        name: "intercepts" in equal and f"{name}~1" not in partial for name in variables[:p]
    }
    # measEq.syntax(ID.cat = "Wu.Estabrook.2016") in the other groups: an item's intercept is free
    # while one of its thresholds is equal (and intercepts are not); its scale (theta: residual
    # variance) while two are, or one with the intercept equal (and residuals are not)
    scaled = {
        name: not single
        and (n_equal[name] >= 2 or (n_equal[name] >= 1 and equal_intercept[name]))
        and not ("residuals" in equal and f"{name}~~{name}" not in partial)
        for name in variables[:p]
    }
    for k, param in enumerate(base.free_params):
        if param.kind == "residual_variance" and param.lhs in base.manifest and theta:
            free_at[k] = "others" if scaled[param.lhs] else "none"
    for name in variables[:p]:
        keys.append(f"{name} ~1")
        keywords.append("intercepts")
        fixed_value.append(0.0)
        freed = n_equal[name] >= 1 and not equal_intercept[name] and not single
        free_at.append("others" if freed else "none")
    for name in variables[p:]:
        keys.append(f"{name} ~1")
        keywords.append("means")
        fixed_value.append(0.0)
        free_at.append("others" if "intercepts" in equal and not single else "none")
    for name, count in zip(variables[:p], n_thresholds, strict=True):
        for c in range(count):
            keys.append(f"{name} | t{c + 1}")
            keywords.append("thresholds")
            fixed_value.append(0.0)
            free_at.append("all")
    for name in variables[:p]:
        keys.append(f"{name} ~*~ {name}")
        keywords.append("scales")
        fixed_value.append(np.nan if theta else 1.0)  # theta: computed from the variances
        free_at.append("others" if scaled[name] and not theta else "none")
    n_groups, size = len(groups), len(keys)
    index = np.full((n_groups, size), -1, dtype=int)
    fixed = np.tile(np.array(fixed_value), (n_groups, 1))
    count = 0
    for g in range(n_groups):
        for k in range(size):
            where = free_at[k]
            if where == "none" or (where == "others" and g == 0):
                continue
            shared = keywords[k] in equal and compact_key(keys[k]) not in partial
            if g > 0 and shared and index[0, k] >= 0:
                index[g, k] = index[0, k]
            else:
                index[g, k] = count
                count += 1
    return OrdinalTable(
        base, tuple(groups), tuple(n_thresholds), tuple(keys), tuple(keywords), index, fixed, theta
    )


def start_values(table: OrdinalTable, corrs: list[np.ndarray], thresholds: list[np.ndarray]):
    """Global start values: loadings from each factor's first principal component of the
    group's polychoric correlations (marker-scaled in a one-group fit), latent variances 1
    (or the marker's squared loading), sample thresholds, nu = alpha = 0, Delta = 1; averaged
    over the groups sharing a parameter."""
    total, count = np.zeros(table.n_free), np.zeros(table.n_free)
    items = {name: i for i, name in enumerate(table.base.manifest)}
    single = len(table.groups) == 1
    for g, (corr, tau) in enumerate(zip(corrs, thresholds, strict=True)):
        phi = table.fixed[g].copy()
        phi[np.isnan(phi)] = 0.0
        loadings: dict[tuple[str, str], float] = {}
        factors: dict[str, list[str]] = {}
        for key in table.keys:
            parts = key.split()
            if parts[1] == "=~":
                factors.setdefault(parts[0], []).append(parts[2])
        for factor, members in factors.items():
            idx = [items[m] for m in members if m in items]
            if len(idx) == len(members) and len(idx) > 1:
                values, vectors = np.linalg.eigh(corr[np.ix_(idx, idx)])
                lam = vectors[:, -1] * np.sqrt(max(values[-1], 1e-3))
                lam *= np.sign(lam[0]) or 1.0
            else:
                lam = np.full(len(members), 0.7)
            scale = lam[0] if single else 1.0
            for m, value in zip(members, lam, strict=True):
                loadings[(factor, m)] = value / scale
            loadings[(factor, factor)] = scale**2
        for k, key in enumerate(table.keys):
            parts = key.split()
            if parts[1] == "=~" and table.index[g, k] >= 0:
                phi[k] = loadings[(parts[0], parts[2])]
            elif parts[1] == "~~" and parts[0] == parts[2] and parts[0] in factors:
                phi[k] = loadings[(parts[0], parts[0])] if single else 1.0
        phi[table.blocks()["tau"]] = tau
        free = table.index[g] >= 0
        np.add.at(total, table.index[g, free], phi[free])
        np.add.at(count, table.index[g, free], 1.0)
    return total / np.maximum(count, 1.0)
