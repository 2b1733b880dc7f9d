"""Multi-group Bayesian SEM with ordinal items (`bayes.indicators: ordinal` with `data.group`).

Respondent i of group g has latent responses ``y*_ij = lambda_jg eta_ic + e_ij``, e standard
normal (probit) or logistic (logit), cut into the observed categories at thresholds tau_jkg
(lavaan's theta parameterisation: item intercepts 0 and residual variances 1 in every group).
The latents follow the group's structural model, eta ~ N(mu_g, Phi_g): the shared std.lv
parameters with the group's paths (partially pooled, as for continuous items), latent SDs and
intercepts (zero-sum over groups, `build.py`).

Identification (Wu & Estabrook 2016; semTools' ``measEq.syntax(ID.cat =
"Wu.Estabrook.2016")``): ``full`` holds the thresholds and loadings equal across groups (with
the y* intercepts 0 and residual variances 1 in every group, the level W&E reach with
``group.equal = c("thresholds", "loadings", "intercepts", "residuals")``), so the latent means
and variances are free in all but one group. Here their location and scale are fixed by
zero-sum group effects instead of a reference group (the same model, reported on the reference
group's origin); `partial` frees the thresholds and loadings named in `group_partial`
(``"x3 | t2"``, ``"F =~ x3"``) and `approximate` lets every threshold and loading deviate under
the small-variance prior (`invariance.py`).

Thresholds are sampled in units of each item's y* SD at the shared parameters,
``s_j = sqrt(1 + lambda_j^2 phi_cc)`` (the groups' common scale), as single-group cuts are
(first cut + positive gaps, `blocks.ordinal.threshold_cuts`); the stored `thresholds` are
``tau = cut * s_j`` on the y* scale, and threshold deviations are in the same standardised
units as the cuts. Each group's scores are standardised within the group, u = (eta - mu_g) /
sd_g ~ N(0, R_g); one likelihood Op (`blocks.ordinal`) reads every respondent with the bounds
``tau_g - lambda_g mu_g - lambda_g sd_g u`` of its group: the group's mean and scale move the
cuts, not the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.containers import index_container, response_containers
from bayeslead.bayes.blocks.ordinal import (
    BIG,
    cut_items,
    item_loadings,
    response_positions,
    threshold_cuts,
)
from bayeslead.bayes.blocks.parameters import free_parameters
from bayeslead.bayes.blocks.ram import (
    batched_matmul,
    batched_ram_inverse,
    diagonal,
    path_depth,
    ram_covariance,
    ram_matrices,
)
from bayeslead.bayes.blocks.scores import first_order_constructs, grouped_normal_rows_logp
from bayeslead.bayes.data import OrdinalData, ordinal_data
from bayeslead.bayes.kernels.ops import interval_log_prob
from bayeslead.bayes.models.multigroup.build import (
    group_labels,
    path_positions,
    pooled_paths,
    small_group_warnings,
    zero_sum,
)
from bayeslead.bayes.models.multigroup.invariance import (
    Deviations,
    loading_deviation,
    threshold_deviation,
)
from bayeslead.bayes.models.multigroup.invariance import coords as invariance_coords
from bayeslead.bayes.priors import PriorSet
from bayeslead.bayes.start import ml_on_z, ordinal_start, unit_residual_theta
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec


@dataclass(frozen=True)
class OrdinalGroups:
    """The respondents sorted by group (stable), their category codes and group bounds."""

    labels: list[str]
    counts: np.ndarray  # respondents per group
    order: np.ndarray  # sorted position -> row of the responses
    codes: OrdinalData  # category codes of the sorted respondents
    bounds: np.ndarray  # (G + 1,): group g is sorted rows bounds[g]:bounds[g + 1]

    def rows(self, g: int) -> slice:
        return slice(int(self.bounds[g]), int(self.bounds[g + 1]))

    def threshold_keys(self, items: list[str]) -> list[str]:
        """lavaan's threshold names (``"x3 | t1"``) in the order of the cuts."""
        return [
            f"{item} | t{k + 1}"
            for item, n in zip(items, self.codes.n_categories, strict=True)
            for k in range(n - 1)
        ]


def ordinal_groups(x: np.ndarray, groups: pd.Series, where: str) -> tuple[OrdinalGroups, list]:
    """Category codes of `x` (N x p) sorted by the group labels; errors for a single group,
    warnings for small groups."""
    labels, names = group_labels(groups, where)
    group_of = np.searchsorted(names, labels)
    order = np.argsort(group_of, kind="stable")
    counts = np.bincount(group_of, minlength=len(names))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    data = OrdinalGroups(names, counts, order, ordinal_data(x[order]), bounds)
    return data, small_group_warnings(names, counts)


def build_ordinal_multigroup_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: OrdinalGroups,
    priors: PriorSet,
    plan: Deviations,
    link: str = "probit",
) -> pm.Model:
    """PyMC model of the multi-group SEM with ordinal items (see the module docstring);
    `table` is the std.lv table with unit item residual variances.

    The graph is written once for all groups (tensors with a leading group axis, one
    likelihood Op over every respondent, one normal density of all groups' scores), so its size
    does not grow with the groups: a Python loop over the groups gave 825 nodes and six copies
    of the likelihood Op in the compiled log-density + gradient of two groups, this graph 465
    and one (`bench/multigroup_ordinal_compile.py`).
    """
    p = table.n_manifest
    n_groups = len(data.labels)
    latents = list(table.variables[p:])
    first = np.array(first_order_constructs(table)) - p  # latent-block positions
    index, column = item_loadings(table)
    cut_item = cut_items(data.codes)
    n_cuts = len(cut_item)
    depth = max(path_depth(table) - 1, 0)
    paths = np.array([table.index(r.key) for r in spec.regressions], dtype=int)
    basis = np.zeros((len(paths), len(latents), len(latents)))
    for k, (row, col) in enumerate(zip(*path_positions(spec, table), strict=True)):
        basis[k, row - p, col - p] = 1.0
    coords = {
        "item": list(table.manifest),
        "latent": latents,
        "group": data.labels,
        "path": [r.key for r in spec.regressions],
        "threshold": data.threshold_keys(list(table.manifest)),
    } | invariance_coords(plan)
    with pm.Model(coords=coords) as model:
        given = {}
        if len(paths):
            group_paths, population = pooled_paths(spec, priors, n_groups)
            given = {key: population[k] for k, key in enumerate(coords["path"])}
        theta = free_parameters(spec, table, priors, given)
        a, s = ram_matrices(table, theta, first=p)
        sd = pt.exp(zero_sum("group_sd", priors, "lognormal"))
        shift = zero_sum("group_means", priors, "normal")
        loadings = theta[index]
        phi = ram_covariance(a, s, depth)[np.ix_(first, first)]
        scale = pt.sqrt(1.0 + loadings**2 * diagonal(phi, len(first))[column])  # common y* SDs
        cuts = threshold_cuts(data.codes, priors)
        pm.Deterministic("thresholds", cuts * scale[cut_item], dims="threshold")
        tau_dev = threshold_deviation(plan, n_cuts)
        group_cuts = cuts[None, :] if tau_dev is None else cuts[None, :] + tau_dev
        tau = pm.Deterministic(
            "group_thresholds",
            pt.broadcast_to(group_cuts * scale[cut_item][None, :], (n_groups, n_cuts)),
            dims=("group", "threshold"),
        )
        # every group's latent model at once: A_g, B_g = (I - A_g)^-1, Phi_g, mu_g (group first)
        a_g = pt.broadcast_to(a, (n_groups, *basis.shape[1:]))
        if len(paths):
            a_g = a_g + pt.tensordot(group_paths - theta[paths][None, :], basis, axes=1)
        b_g = batched_ram_inverse(a_g, depth)
        s_g = s[None] * sd.T[:, :, None] * sd.T[:, None, :]
        phi_g = batched_matmul(batched_matmul(b_g, s_g), b_g.transpose(0, 2, 1))
        phi_g = phi_g[:, first][:, :, first]
        mu_g = (b_g * shift.T[:, None, :]).sum(axis=2)[:, first]
        sd_g = pt.sqrt(diagonal(phi_g, len(first)))
        load_dev = _loading_increments(plan, p)
        lam_g = loadings[None, :] if load_dev is None else loadings[None, :] + load_dev
        scores = pm.Flat("scores", shape=(data.codes.n, len(first)))
        corr = phi_g / (sd_g[:, :, None] * sd_g[:, None, :])
        # each sorted respondent's group and the group sizes: data, not structure
        group = index_container("group", np.repeat(np.arange(n_groups), data.counts))
        counts = pm.Data("group_counts", data.counts.astype(float))
        prior = grouped_normal_rows_logp(corr, scores, group, counts, n_groups, len(first))
        pm.Potential("scores_prior", prior)
        loglik = _grouped_loglik(data, tau, n_cuts, group, lam_g, mu_g, sd_g, scores, column, link)
        pm.Potential("loglik", loglik)
    return model


def _grouped_loglik(
    data: OrdinalGroups, tau, n_cuts: int, group, lam_g, mu_g, sd_g, scores, column, link: str
):
    """The ordered-response log-likelihood of every respondent under its group's parameters,
    one `interval_log_prob` call: response (i, j) of group g has the latent response
    ``lambda_gj (mu_gc + sd_gc u_ic) + e``, so its category bounds on e are ``tau_g - lambda_gj
    mu_gc - lambda_gj sd_gc u_ic``. The Op reads them with unit loadings, an identity latent
    covariance and one score column per item (``lambda_gj sd_gc u_ic``); its y* SD is then
    sqrt(2), so the bounds it is given are ``(tau_g - lambda_gj mu_gc) / sqrt(2)``, gathered
    per response from the groups' cuts (Op inputs are gathers, which graph rewrites do not
    fuse into copies of the Op). `group`: each sorted respondent's group (a data container,
    as are the responses' positions, "response_lower" / "response_upper")."""
    n_groups = len(data.labels)
    lower, upper = response_positions(data.codes)  # positions in the cuts + (-BIG, BIG)
    offset = (np.repeat(np.arange(n_groups), data.counts) * n_cuts)[:, None]
    sentinel = n_groups * n_cuts
    lower = np.where(lower < n_cuts, lower + offset, lower - n_cuts + sentinel)
    upper = np.where(upper < n_cuts, upper + offset, upper - n_cuts + sentinel)
    lower, upper = response_containers(lower, upper)
    cut_item = cut_items(data.codes)
    centre = lam_g[:, cut_item] * mu_g[:, column[cut_item]]  # (group, cut)
    extended = pt.concatenate([((tau - centre) / np.sqrt(2.0)).ravel(), [-BIG, BIG]])
    lower, upper = (extended[at.ravel()].reshape(at.shape) for at in (lower, upper))
    item_scores = (lam_g * sd_g[:, column])[group] * scores[:, column]
    p = len(column)
    return interval_log_prob(lower, upper, np.ones(p), np.eye(p), item_scores, np.arange(p), link)


def _loading_increments(plan: Deviations, p: int):
    """The loadings' per-group increments (group, p), or None when no loading deviates."""
    if not plan.loading_keys:
        return None
    rows = np.zeros((len(plan.loading_keys), p))
    rows[np.arange(len(plan.loading_keys)), [row for row, _ in plan.loading_cells]] = 1.0
    return pt.dot(loading_deviation(plan).T, rows)


def ordinal_multigroup_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, x: np.ndarray, data: OrdinalGroups
) -> dict[str, np.ndarray]:
    """The pooled single-group ordinal start (ML on the z-scored items in the theta
    parameterisation, normal-quantile cuts, standardised factor scores); groups start equal."""
    sorted_x = x[data.order]
    initial = ordinal_start(spec, table, priors, sorted_x, data.codes)
    z = (sorted_x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0, ddof=1)
    theta = unit_residual_theta(table, *ml_on_z(spec, z)[:2])  # its paths start the groups'
    m = len(table.variables) - table.n_manifest
    initial["group_sd"] = np.zeros((m, len(data.labels)))
    initial["group_means"] = np.zeros((m, len(data.labels)))
    if spec.regressions:
        start = np.array([theta[table.index(r.key)] for r in spec.regressions])
        initial["group_paths"] = np.tile(start, (len(data.labels), 1))
        initial["group_path_sd"] = np.full(len(start), 0.2)
        initial["population_z"] = np.full(len(start), 0.1)  # nutpie refuses zero gradients
    return initial
