"""Two-level Bayesian SEM with ordinal indicators: model builder and starting values.

For respondent i in cluster j every item's latent response is

    y*_ij = Lambda (eta_b,j + eta_w,ij) + e_ij,   e_ij ~ N(0, 1)   (theta parameterisation)

cut into the observed categories at per-item thresholds (ordered probit, or logit with
`bayes.link`); loadings are shared by the levels. Within clusters the latents follow the
single-level std.lv model with the cluster's random slopes U_j on the listed paths,
eta_w = (I - B_W - U_j)^-1 zeta_w, zeta_w ~ N(0, Psi_W) (unit residual variances, LKJ correlations
of the exogenous constructs), u_j ~ N(0, diag(tau) R diag(tau)) with R LKJ across slopes. Between
clusters eta_b = (I - B_B)^-1 zeta_b with level-specific (or shared) paths, free SDs and LKJ
correlations, built by `build.between_structure` as in the continuous model.

Choices, as Mplus users commonly make them for categorical two-level models:

- Between-level item residual variances are fixed at zero: an item varies between clusters only
  through its construct (one parameter fewer per item; stated in the fit's `info`).
- Item intercepts are absorbed by the thresholds, middle cut + gaps outward in units of the item's
  y* SD sqrt(1 + lambda^2 s^2), s^2 = diag(Phi_W + Phi_B) the construct's total variance at the
  mean slopes (`latent_sd`).

There is no closed-form marginal likelihood, so latent scores are sampled explicitly, standardised
by s as in the single-level ordinal model (their scale stays put while the structural parameters
move). The sampled values and why each is parameterised so:

- `score_mean` (m) and `scores` (deviations summing to zero over respondents, sampled as N - 1
  free rows with PyMC's zero-sum transform, an isometry): each respondent's total
  u = (eta_b + eta_w) / s, all constructs (second-order ones are regressors of their dimensions),
  as the sample mean plus deviations. The items pin the totals, so they are centred; the mean is
  its own coordinate because the sampler's diagonal mass matrix cannot follow the direction in
  which all N scores move together (threshold ESS about 200 of 4000 at N = 2000 without it).
- Second-order constructs' totals (measured through their dimensions only) from their prior
  conditional distribution given the first-order totals of their cluster, within and between
  (`higher_order_totals`): the free values of those columns are close to standard normal a
  posteriori whatever the second-order loadings and between SDs (the single-level ordinal
  model integrates them out; here random slopes on a second-order construct's within scores
  keep them explicit). Firm study, 4 x (600 + 600), conditioning on the totals alone: min bulk
  ESS of BI =~ BI_TECH 22 -> 45, of the scores 301 -> 837, thresholds 54 -> 141; that left
  each cluster's mean free value a latent value with no data whose spread had to follow the
  construct's between SD (the between SDs' ESS 47 of 2,000).
- Item loadings as loading x construct total SD s (`scaled_loading_values`), the loading on
  the standardised score, which the items pin: sampling the loadings themselves, they had to
  follow every change of s, i.e. of the second-order loadings, paths and between SDs.
- `between_z` (J x m): the cluster parts u_b = G_n ubar_j + L_n z_j, the conditional distribution
  given the cluster's mean total ubar_j (see `cluster_parts`); z is then close to independent
  standard normal a posteriori, as if the cluster parts were integrated out (a centred version
  fell into a funnel as a between SD neared zero; min ESS 63 on the test design).
- `slope_free` (J x r): the random slopes likewise from their joint conditional distribution
  given the within scores (`cluster_slopes`; stored as `slopes`). Non-centred slopes u = tau z
  mixed slowly here (slope SD ESS about 400 of 4000, R-hat 1.015-1.02: with explicit scores each
  change of tau had to be followed by all the scores), and so did the slope correlation when the
  conditional ignored it (ESS 66 on the bench design).
- Thresholds are sampled relative to each item's latent response at the sample mean of the
  scores (`blocks.ordinal.ordinal_loglik(relative=True)`), which removes the ridge between the scores'
  common location and the thresholds (their ESS rose from about 400 to 800).

Each is an invertible map of the centred scores, slopes and thresholds with its log-Jacobian
added, so the posterior is exactly that of the model above. The scores' prior is the structural
model in regression form, zeta_w = (I - B_W - U_j) eta_w and zeta_b = (I - B_B) eta_b (``I - B``
is unit triangular for recursive models: no determinant), evaluated with the scatter-matrix Op;
no per-cluster matrix inverse is needed. The likelihood is the single-level Op that evaluates only
the two normal CDFs bracketing each response.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ZeroSumTransform

from bayeslead.bayes.blocks.ordinal import ordinal_loglik
from bayeslead.bayes.blocks.parameters import (
    free_parameters,
    parameter_groups,
    prior_distribution,
)
from bayeslead.bayes.blocks.ram import diagonal, path_depth, ram_covariance, ram_matrices
from bayeslead.bayes.blocks.scores import first_order_constructs, normal_rows_logp
from bayeslead.bayes.data import OrdinalData
from bayeslead.bayes.models.twolevel.build import (
    between_start,
    between_structure,
    slope_correlation,
    slope_sd,
)
from bayeslead.bayes.priors import SUPPORT, PriorSet
from bayeslead.bayes.start import ordinal_start
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec

ZERO_SUM = ZeroSumTransform([0])  # (N - 1, m) free values <-> (N, m) columns summing to zero


def build_ordinal_twolevel_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: OrdinalData,
    cluster: np.ndarray,
    labels: np.ndarray,
    priors: PriorSet,
    positions: list[tuple[int, int]],
    between_paths: str,
    link: str = "probit",
) -> pm.Model:
    """PyMC model of the two-level SEM with ordinal items (see the module docstring).

    Parameters
    ----------
    table
        The std.lv table with unit item residual variances (``build_partable(spec, "std.lv",
        unit_residuals=True)``).
    cluster
        Each respondent's cluster as an index into `labels` (the cluster ids, in order).
    positions
        Random slopes as (row, column) in the latent block (`slope_positions`).
    """
    p = table.n_manifest
    latents = list(table.variables[p:])
    m, n, n_clusters = len(latents), data.n, len(labels)
    first = np.array(first_order_constructs(table)) - p
    depth = max(path_depth(table) - 1, 0)
    coords = {"item": list(table.manifest), "latent": latents, "cluster": [str(c) for c in labels]}
    rows = np.zeros((len(positions), m))  # one-hot outcome of each random slope
    rows[np.arange(len(positions)), [r for r, _ in positions]] = 1.0
    cols = np.array([c for _, c in positions], dtype=int)  # predictor of each random slope
    with pm.Model(coords=coords) as model:
        given, scaled = scaled_loading_values(spec, table, priors)
        raw = free_parameters(spec, table, priors, given=given, name=None)
        beta_w, psi_w = ram_matrices(table, raw, first=p)  # the latent block: no item loadings
        beta_b, psi_b = between_structure(spec, table, priors, beta_w, between_paths)
        phi_w = ram_covariance(beta_w, psi_w, depth)
        phi_b = ram_covariance(beta_b, psi_b, depth)
        phi = phi_w + phi_b
        scale = pm.Deterministic("latent_sd", pt.sqrt(diagonal(phi, m)), dims="latent")
        theta = loadings_from_scaled(table, raw, scale, scaled)
        deviations = ZERO_SUM.backward(pm.Flat("scores", shape=(n - 1, m)))
        free = pm.Flat("score_mean", dims="latent") + deviations
        outer = scale[:, None] * scale[None, :]
        corr_w, corr_b = phi_w / outer, phi_b / outer
        total, log_jacobian = higher_order_totals(free, corr_w, corr_b, first, cluster, m)
        z_b = pm.Flat("between_z", dims=("cluster", "latent"))
        between, parts_jacobian = cluster_parts(total, z_b, cluster, corr_w, corr_b, m)
        log_jacobian += parts_jacobian
        eta_b = between * scale
        eta_w = (total - between[cluster]) * scale
        zeta_b = eta_b - eta_b @ beta_b.T
        zeta_w = eta_w - eta_w @ beta_w.T
        if positions:
            slopes, slope_logp = cluster_slopes(table, priors, positions, cluster, eta_w, zeta_w)
            zeta_w = zeta_w - (slopes[cluster] * eta_w[:, cols]) @ rows
            log_jacobian += slope_logp
        pm.Potential(
            "scores_prior",
            normal_rows_logp(psi_w, zeta_w, n, m)
            + normal_rows_logp(psi_b, zeta_b, n_clusters, m)
            + (n + n_clusters) * pt.sum(pt.log(scale))
            + log_jacobian,
        )
        phi_first, total_first = phi[np.ix_(first, first)], total[:, first]
        loglik = ordinal_loglik(
            table, theta, data, priors, phi_first, total_first, link, relative=True, anchored=True
        )
        pm.Potential("loglik", loglik)
    return model


def scaled_loading_values(spec: ModelSpec, table: ParameterTable, priors: PriorSet) -> tuple:
    """The sampled values of the loadings, inside a model: {key: value} for `free_parameters`'
    `given`, and the groups with the log-Jacobian of their transform.

    An item's value is its loading times its construct's total SD s (`latent_sd`), the loading
    on the standardised score, which the items pin; a second-order loading's is the loading.
    Sampling loadings themselves, the items' loadings had to follow every change of s, i.e. of
    the second-order loadings, paths and between SDs (a ridge: on the firm study BI =~ BI_TECH
    and BI_TECH's item loadings had bulk ESS 22-31 of 2,400). First loadings (positive) are
    sampled on the log scale.
    """
    given, scaled = {}, []
    for group in parameter_groups(spec, table, priors):
        if group.cls not in ("loadings", "first_loading"):
            continue
        dims = f"{group.name}_dim"
        pm.modelcontext(None).add_coord(dims, list(group.keys))
        if SUPPORT[group.cls] == "positive":
            log_value = pm.Flat(f"{group.name}_scaled_log", dims=dims)
            value, log_jacobian = pt.exp(log_value), pt.sum(log_value)
        else:
            value, log_jacobian = pm.Flat(f"{group.name}_scaled", dims=dims), 0.0
        given |= {key: value[i] for i, key in enumerate(group.keys)}
        scaled.append((group, log_jacobian))
    return given, scaled


def loadings_from_scaled(table: ParameterTable, raw, scale, scaled: list):
    """`theta` (registered) from the free-parameter vector `raw` holding the scaled loadings
    (`scaled_loading_values`): item loadings divided by their construct's SD `scale`; adds the
    loadings' priors and the log-Jacobian of the map as a Potential."""
    p = table.n_manifest
    items = [q for q in table.params if q.kind == "loading" and q.row < p and q.free >= 0]
    index, column = np.array([q.free for q in items]), np.array([q.col - p for q in items])
    theta = pt.set_subtensor(raw[index], raw[index] / scale[column])
    theta = pm.Deterministic("theta", theta, dims="parameter")
    logp = -pt.sum(pt.log(scale[column]))
    for group, log_jacobian in scaled:
        kind, args = prior_distribution(group.prior)
        values = theta[np.array(group.members)]
        logp += pt.sum(pm.logp(kind.dist(**args), values)) + log_jacobian
    pm.Potential("loading_prior", logp)
    return theta


def higher_order_totals(
    free, within, between, first: np.ndarray, cluster: np.ndarray, m: int
) -> tuple:
    """Total standardised scores (N, m) from their free values (N, m), and the log-Jacobian.

    First-order constructs' columns are their free values; the others' (second-order
    constructs, measured through their dimensions only) are drawn from their prior conditional
    distribution given all first-order totals of the cluster (W, B: the within and between
    covariances of the totals at the mean slopes). Within a cluster of n the deviations from the
    cluster mean and the mean are independent: d_h = G_w d_f + K_w (v - vbar) with
    G_w = W_hf W_ff^-1, K_w K_w' = W_hh - G_w W_fh, and ubar_h = G_n ubar_f + L_n sqrt(n) vbar
    with G_n, L_n likewise from C_n = B + W / n. The free values v then stay close to standard
    normal a posteriori while the second-order loadings and the between SDs move: conditioning
    on the totals alone (C = B + W) left each cluster's mean of v a centred latent value with no
    data, whose spread had to follow the second-order construct's between SD.
    """
    higher = np.setdiff1d(np.arange(m), first)
    if not len(higher):
        return free, 0.0
    counts = np.bincount(cluster)
    sizes, size_of = np.unique(counts, return_inverse=True)
    v, u_f = free[:, higher], free[:, first]
    v_mean = pt.zeros((len(counts), len(higher)))[cluster].inc(v) / counts[:, None]
    f_mean = pt.zeros((len(counts), len(first)))[cluster].inc(u_f) / counts[:, None]
    gain_w, factor_w = _conditional(within, first, higher)
    u_h = (u_f - f_mean[cluster]) @ gain_w + (v - v_mean[cluster]) @ factor_w.T
    h = len(higher)
    log_jacobian = (len(cluster) - len(counts)) * pt.sum(pt.log(diagonal(factor_w, h)))
    means = []
    for k, size in enumerate(sizes):
        gain, factor = _conditional(between + within / size, first, higher)
        means.append(f_mean @ gain + np.sqrt(size) * v_mean @ factor.T)
        log_jacobian += np.sum(size_of == k) * (
            pt.sum(pt.log(diagonal(factor, h))) + h * np.log(size) / 2.0
        )
    mean = pt.stack(means)[size_of, np.arange(len(counts))]
    u_h = u_h + mean[cluster]
    order = np.argsort(np.r_[first, higher])
    return pt.concatenate([u_f, u_h], axis=1)[:, order], log_jacobian


def _conditional(cov, first: np.ndarray, higher: np.ndarray) -> tuple:
    """G' = cov_ff^-1 cov_fh (f, h) and the lower Cholesky factor of cov_hh - G cov_fh."""
    c_ff, c_fh = cov[np.ix_(first, first)], cov[np.ix_(first, higher)]
    gain = pt.linalg.solve(c_ff, c_fh, assume_a="pos")
    spread = cov[np.ix_(higher, higher)] - c_fh.T @ gain
    return gain, pt.linalg.cholesky((spread + spread.T) / 2.0, on_error="nan")


def cluster_slopes(table, priors, positions, cluster, eta_w, residual) -> tuple:
    """The clusters' random slopes (J, r) and their log prior density plus log-Jacobian.

    u_j = P_j^-1 b_j + C_j^-T z_j with P_j = C_j C_j' = Sigma_u^-1 + X_j: the conditional
    distribution of the cluster's slopes given its within scores (X_j,kl = sum_i x_ik x_il for
    slopes on the same outcome, b_j,k = sum_i x_ik e_ik; x a slope's predictor, e its outcome's
    within residual without random slopes, unit residual variances), so that the free values z
    (`slope_free`) are close to independent standard normal a posteriori; with weak data this is
    a non-centred parameterisation. Registers `slope_sd`, the LKJ `slope_partial`
    for several slopes, and the deterministic `slopes`.
    """
    tau = slope_sd(table, priors, positions)
    chol = slope_correlation(priors, len(positions))
    corr = pt.ones((1, 1)) if chol is None else chol @ chol.T
    cov = corr * tau[:, None] * tau[None, :]
    precision = pt.linalg.inv(cov)
    n_clusters, r = int(cluster.max()) + 1, len(positions)
    z = pm.Flat("slope_free", dims=("cluster", "slope"))
    x = eta_w[:, [c for _, c in positions]]
    e = residual[:, [o for o, _ in positions]]
    zeros = pt.zeros(n_clusters)

    def pooled(k: int, m: int):  # P_j,km for every cluster
        same = positions[k][0] == positions[m][0]
        return precision[k, m] + (zeros[cluster].inc(x[:, k] * x[:, m]) if same else 0.0)

    factor = _cholesky([[pooled(k, m) for m in range(r)] for k in range(r)])
    mean = _solve(
        factor, _solve(factor, [zeros[cluster].inc(x[:, k] * e[:, k]) for k in range(r)]), True
    )
    noise = _solve(factor, [z[:, k] for k in range(r)], True)
    slopes = pt.stack([mean[k] + noise[k] for k in range(r)], axis=1)
    pm.Deterministic("slopes", slopes, dims=("cluster", "slope"))
    log_jacobian = -sum(pt.sum(pt.log(factor[k][k])) for k in range(r))
    return slopes, normal_rows_logp(cov, slopes, n_clusters, r) + log_jacobian


def _cholesky(a: list) -> list:
    """Lower Cholesky factor of symmetric matrices given entrywise (a[k][l] vectors over a batch),
    unrolled into elementwise operations (r is small)."""
    r = len(a)
    out = [[0.0] * r for _ in range(r)]
    for j in range(r):
        out[j][j] = pt.sqrt(a[j][j] - sum(out[j][k] ** 2 for k in range(j)))
        for i in range(j + 1, r):
            out[i][j] = (a[i][j] - sum(out[i][k] * out[j][k] for k in range(j))) / out[j][j]
    return out


def _solve(factor: list, b: list, transpose: bool = False) -> list:
    """Solve L x = b (or L' x = b) for a batched lower-triangular L given entrywise."""
    r = len(b)
    x = [None] * r
    for i in reversed(range(r)) if transpose else range(r):
        others = range(i + 1, r) if transpose else range(i)
        terms = [(factor[k][i] if transpose else factor[i][k]) * x[k] for k in others]
        x[i] = (b[i] - sum(terms)) / factor[i][i]
    return x


def cluster_parts(total, z, cluster: np.ndarray, within, between, m: int) -> tuple:
    """Cluster parts u_b (J, m) of the standardised scores from their free values `z` (J, m),
    and the log-Jacobian of that map.

    u_b,j = G_n ubar_j + L_n z_j with ubar_j the cluster's mean total score, G_n = B C_n^-1,
    L_n L_n' = B - B C_n^-1 B and C_n = B + W / n for a cluster of n (B, W the between and
    within covariances at the mean slopes): the conditional distribution of the cluster part
    given the totals, so that z is close to independent standard normal a posteriori whatever
    the variance components (no funnel as between SDs approach zero). One Cholesky factor per
    distinct cluster size.
    """
    counts = np.bincount(cluster)
    sizes, size_of = np.unique(counts, return_inverse=True)
    means = pt.zeros(z.shape)[cluster].inc(total) / counts[:, None]
    gains, factors, log_jacobian = [], [], 0.0
    for k, size in enumerate(sizes):
        gain = pt.linalg.solve(between + within / size, between, assume_a="pos").T
        spread = between - gain @ between
        factor = pt.linalg.cholesky((spread + spread.T) / 2.0, on_error="nan")
        gains.append(gain)
        factors.append(factor)
        log_jacobian += np.sum(size_of == k) * pt.sum(pt.log(diagonal(factor, m)))
    gain, factor = pt.stack(gains)[size_of], pt.stack(factors)[size_of]
    part = pt.sum(gain * means[:, None, :], axis=-1) + pt.sum(factor * z[:, None, :], axis=-1)
    return part, log_jacobian


def ordinal_twolevel_start(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    x: np.ndarray,
    data: OrdinalData,
    cluster: np.ndarray,
    positions: list[tuple[int, int]],
    between_paths: str,
) -> dict[str, np.ndarray]:
    """Initial values: the single-level ordinal start (ML loadings and paths on z-scored
    responses, category-share thresholds, standardised factor scores as the total scores), the
    cluster parts near their conditional means given those scores, and the between-level and
    slope values of `between_start`.

    Second-order constructs' scores start at their conditional means given the first-order
    scores (free values 0, `higher_order_totals`).
    """
    initial = ordinal_start(spec, table, priors, x, data, anchored=True)
    p = table.n_manifest
    m = len(table.variables) - p
    first = np.array(first_order_constructs(table)) - p
    total = np.zeros((data.n, m))
    total[:, first] = initial["scores"]
    n_clusters = int(cluster.max()) + 1
    initial["score_mean"] = total.mean(axis=0)
    initial["scores"] = ZERO_SUM.forward(pt.as_tensor(total - total.mean(axis=0))).eval()
    # cluster parts at their conditional means, perturbed a little: nutpie rejects starting
    # points with an exactly zero gradient
    initial["between_z"] = 0.01 * np.random.default_rng(0).standard_normal((n_clusters, m))
    start = {
        key: initial[group.name][i]
        for group in parameter_groups(spec, table, priors)
        for i, key in enumerate(group.keys)
    }
    paths = np.array([start[r.key] for r in spec.regressions])
    initial |= between_start(spec, table, paths, n_clusters, positions, between_paths)
    for group in parameter_groups(spec, table, priors):  # scaled loadings start at the loadings
        if group.cls == "first_loading":
            initial[f"{group.name}_scaled_log"] = np.log(initial.pop(group.name))
        elif group.cls == "loadings":
            initial[f"{group.name}_scaled"] = initial.pop(group.name)
    if positions:
        initial["slope_free"] = initial.pop("slope_z")
    return initial
