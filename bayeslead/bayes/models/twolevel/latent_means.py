"""Observed covariates at both levels of the continuous two-level model (lavaan's treatment of an
observed variable in `level: 1` and `level: 2`): a covariate that varies within clusters and is
not declared within-only is ``x_ij = x_b,j + x_w,ij``, its between part x_b,j a latent cluster
mean and its within part the deviation from it. The within part predicts the constructs' within
parts (the level-1 path of the config), the between part their between parts (a path of its
own, `between_covariate_paths`, or the level-1 one with `bayes.between_paths: shared`).

As lavaan (``fixed.x``), the covariates' moments are fixed at its saturated (h1) model's values,
found by EM on every variable of the model (`core.twolevel_ml.em_saturated`; with blank answers
by FIML, `core.twolevel_fiml`, as lavaan's ``missing = "ml"``): within (co)variances
with the level-1 covariates, between (co)variances with the level-2 ones, level-2 means (the h1
between means; the within part has mean 0). Given those, the covariates alone say of each x_b,j

    x_b,j | x, w  ~  N(m_j, P_j^-1),   P_j = n_j V_W^-1 + V_B^-1,
    m_j = P_j^-1 (n_j V_W^-1 (xbar_j - B_W xbar_o,j) + V_B^-1 (mu_b + B_B (w_j - mu_w)))

(V_W, B_W: the within part's residual covariance and regression on the within-only covariates
x_o; V_B, B_B: the between part's on the between-only covariates w). The graph samples
``x_b,j = m_j + chol(P_j^-1) z_j`` with z_j standard normal, so that the covariates' own
likelihood and the prior of x_b are exactly z's standard normal density (up to a constant: the
moments are fixed) and the items' likelihood is the one of within-only and between-only
covariates (`covariates.py`) given x_b,j: cluster j's item mean shifts by
``A_W (xbar_j - x_b,j) + A_X x_b,j`` and the within scatter uses x's deviations from xbar_j.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.parameters import rv
from bayeslead.bayes.blocks.ram import ram_inverse
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.core.twolevel_fiml import fit_saturated
from bayeslead.core.twolevel_ml import cluster_stats, em_saturated

Key = tuple[str, str, str]
Z_NAME = "covariate_mean_z"  # standardised latent cluster means (cluster, covariate_both)


@dataclass(frozen=True)
class LatentMeans:
    """The covariates at both levels: their fixed moments (raw metric) and the distribution of
    their latent cluster means given the covariates (z metric)."""

    names: tuple[str, ...] = ()
    centre: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (J, q) m_j
    chol: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # (J, q, q)
    fixed: dict[Key, float] = field(default_factory=dict)  # rows of the table (raw)
    between: dict[Key, float] = field(default_factory=dict)  # level-2 (co)variances among them
    means: dict[str, float] = field(default_factory=dict)  # level-2 means (raw)


def saturated_moments(
    spec: ModelSpec,
    within: tuple[str, ...],
    between: tuple[str, ...],
    both: tuple[str, ...],
    raw: np.ndarray,
    ids: np.ndarray,
):
    """lavaan's h1 of the model's variables (`raw`: kept rows, spec.manifest order; blank
    answers: its FIML h1, `core.twolevel_fiml`): Sigma_W over [both, within], Sigma_B over
    [both, between] and the level-2 means of `both`."""
    manifest = list(spec.manifest)
    level1 = (*spec.items, *both, *within)
    y = raw[:, [manifest.index(n) for n in level1]]
    z = raw[:, [manifest.index(n) for n in between]]
    tilde = (*between, *level1)
    if np.isnan(y).any():
        h1 = fit_saturated(y, z, ids, np.array([n in within for n in level1]))
        sigma_w, sigma_b, mu, mu_w = h1.sigma_w, h1.sigma_b, h1.mu, h1.mu_w
    else:
        stats = cluster_stats(y, z, ids, level1, between)
        sigma_w, sigma_b, mu, _, _, mu_w = em_saturated(stats, within)
    w = [level1.index(n) for n in (*both, *within)]
    b = [tilde.index(n) for n in (*both, *between)]
    means = np.array([mu[tilde.index(n)] - mu_w[level1.index(n)] for n in both])
    return sigma_w[np.ix_(w, w)], sigma_b[np.ix_(b, b)], means


def latent_means(
    spec: ModelSpec,
    within: tuple[str, ...],
    between: tuple[str, ...],
    both: tuple[str, ...],
    raw: np.ndarray,
    ids: np.ndarray,
    level1_means: np.ndarray,
    level2_values: np.ndarray,
    counts: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
) -> LatentMeans:
    """The fixed moments and each cluster's m_j, chol(P_j^-1) (module docstring):
    `level1_means` (J, within + both) the cluster means of the z-scored level-1 covariates,
    `level2_values` (J, between) the z-scored between-only ones, `counts` the cluster sizes,
    `mean`, `sd` the z-scores' centres and scales (spec.manifest order)."""
    if not both:
        return LatentMeans()
    manifest = list(spec.manifest)
    sigma_w, sigma_b, mu_raw = saturated_moments(spec, within, between, both, raw, ids)
    q = len(both)
    wsd = sd[[manifest.index(n) for n in (*both, *within)]]
    bsd = sd[[manifest.index(n) for n in (*both, *between)]]
    fixed, between_block = {}, {}
    for names, cov, target in (
        ((*both, *within), sigma_w, fixed),
        ((*both, *between), sigma_b, None),
    ):
        for i in range(q):
            for j in range(i, len(names)):
                key = (names[i], "~~", names[j])
                if target is not None:
                    target[key] = float(cov[i, j])
                elif j < q:
                    between_block[key] = float(cov[i, j])
                else:
                    fixed[key] = float(cov[i, j])
    phi_w = sigma_w / np.outer(wsd, wsd)
    phi_b = sigma_b / np.outer(bsd, bsd)
    centre_b = (mu_raw - mean[[manifest.index(n) for n in both]]) / wsd[:q]
    b_w, v_w = regression(phi_w, q)
    b_b, v_b = regression(phi_b, q)
    xbar = level1_means[:, len(within) :] - level1_means[:, : len(within)] @ b_w.T
    prior = centre_b + (level2_values - level2_values.mean(axis=0)) @ b_b.T
    inv_w, inv_b = np.linalg.inv(v_w), np.linalg.inv(v_b)
    precision = counts[:, None, None] * inv_w + inv_b
    cov = np.linalg.inv(precision)
    data = counts[:, None] * (xbar @ inv_w.T) + prior @ inv_b.T
    return LatentMeans(
        names=both,
        centre=np.einsum("jab,jb->ja", cov, data),
        chol=np.linalg.cholesky(cov),
        fixed=fixed,
        between=between_block,
        means={n: float(v) for n, v in zip(both, mu_raw, strict=True)},
    )


def regression(phi: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """The first q variables of covariance `phi` regressed on the others: coefficients (q, rest)
    and residual covariance (q, q)."""
    if len(phi) == q:
        return np.zeros((q, 0)), phi
    coef = np.linalg.solve(phi[q:, q:], phi[q:, :q]).T
    return coef, phi[:q, :q] - coef @ phi[q:, :q]


def sampled_latent_means(means: LatentMeans):
    """Inside a model: x_b (J, q) = m_j + chol_j z_j with z standard normal (`Z_NAME`),
    registered as the deterministic `covariate_between`."""
    model = pm.modelcontext(None)
    model.add_coord("covariate_both", list(means.names))
    z = pm.Normal(Z_NAME, 0.0, 1.0, dims=("cluster", "covariate_both"))
    x_b = means.centre + (means.chol * z[:, None, :]).sum(axis=-1)
    return pm.Deterministic("covariate_between", x_b, dims=("cluster", "covariate_both"))


def between_covariate_paths(spec: ModelSpec, table: ParameterTable, names: tuple[str, ...]):
    """The paths (outcome, covariate) of the covariates at both levels, with their positions
    (row in the latent block, column among `names`)."""
    p = table.n_manifest
    paths = [r for r in spec.regressions if r.predictor in names]
    return paths, [(table.variables.index(r.outcome) - p, names.index(r.predictor)) for r in paths]


def between_effects(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    names: tuple[str, ...],
    cols: np.ndarray,
    a,
    lam,
    beta_b,
    depth: int,
    between_paths: str,
):
    """Inside a model: A_X (items x covariates at both levels), their between parts' effects on
    the items; the between paths are `between_covariate_paths` (level-specific) or, with
    `between_paths: shared`, the level-1 ones (deterministic `covariate_paths_between`, the
    (constructs x covariates) block of the between level's A)."""
    p = table.n_manifest
    if between_paths == "shared":
        gamma = a[p:, cols]
    else:
        paths, positions = between_covariate_paths(spec, table, names)
        pm.modelcontext(None).add_coord("between_covariate_path", [r.key for r in paths])
        values = rv(
            "between_covariate_paths", priors.classes["paths"], dims="between_covariate_path"
        )
        basis = np.zeros((len(paths), len(table.variables) - p, len(names)))
        for k, (row, col) in enumerate(positions):
            basis[k, row, col] = 1.0
        gamma = pt.tensordot(values, basis, axes=1)
    pm.Deterministic("covariate_paths_between", gamma)
    return lam @ ram_inverse(beta_b, depth) @ gamma


def latent_mean_start(spec: ModelSpec, table: ParameterTable, means: LatentMeans, between_paths):
    """Initial values: z at 0 (x_b at m_j), between paths at 0."""
    initial = {Z_NAME: np.zeros(means.centre.shape)}
    if between_paths != "shared":
        initial["between_covariate_paths"] = np.zeros(
            len(between_covariate_paths(spec, table, means.names)[0])
        )
    return initial
