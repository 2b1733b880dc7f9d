"""Multi-group Bayesian SEM: one measurement model, structural paths partially pooled across groups.

With `data.group` (e.g. state-owned vs private firms, or regions), every group has the same
measurement model - loadings, item intercepts and item residual variances equal across groups
(lavaan's ``group.equal = c("loadings", "intercepts", "residuals")``), the condition under
which latent paths and means are on one metric and can be compared; `bayes.invariance:
partial` or `approximate` lets loadings and intercepts deviate by group (`invariance.py`).
What differs by group:

* each structural path: ``beta_g ~ Normal(beta, tau)``, partial pooling towards the population
  path ``beta`` (prior class ``paths``) with a between-group SD ``tau`` per path
  (``group_path_sd``), with ``beta`` integrated out of the sampled density (`pooled_paths`);
* the latent (residual) SDs: log SDs zero-sum across groups (``group_sd``, lognormal(0, sd):
  a ZeroSumNormal of that SD on the log scale; exogenous correlations shared);
* the latent intercepts, zero-sum across groups (``group_means``, a ZeroSumNormal).

Both are symmetric in the groups: with the reference group's latent variances fixed at 1 and
its intercepts at 0 instead, the loadings, latent variances, item intercepts and latent means
mixed slowly (R-hat up to 1.03, bulk ESS 192 from 2 x 500 draws on 2 x 600 respondents).
Latent means are reported as differences from the reference group, the first group label in
sorted order. Each group's likelihood is the exact normal likelihood of its
respondents' observed items (`bayes.kernels.missing`), with the group's implied mean
``nu + Lambda (I - B_g)^-1 alpha_g`` and covariance. Everything is reported on lavaan's marker
metric, per group, with posterior differences between every pair of groups.

Each group's respondents enter as data containers ("rows<g>_stats", ...,
`blocks.containers.row_containers`): the compiled model depends on the items, the groups and
the invariance plan only, so other data of that structure (any group sizes) re-use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.containers import row_containers
from bayeslead.bayes.blocks.parameters import free_parameters, rv
from bayeslead.bayes.blocks.ram import path_depth, ram_inverse, ram_matrices
from bayeslead.bayes.data import continuous_data
from bayeslead.bayes.kernels.missing_op import RowsLoglik
from bayeslead.bayes.kernels.missing_rows import RowData, row_data
from bayeslead.bayes.models.multigroup.invariance import (
    Deviations,
    deviation_variables,
)
from bayeslead.bayes.models.multigroup.invariance import (
    coords as invariance_coords,
)
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError, Problem

SMALL_GROUP = 30  # respondents below which a group's estimates lean mostly on the pooled values


@dataclass(frozen=True)
class GroupData:
    """Items z-scored on the pooled sample, split into groups (respondents' rows per group)."""

    labels: list[str]
    counts: np.ndarray  # respondents per group
    rows: list[RowData]  # per group, for the likelihood of its respondents
    mean: np.ndarray  # pooled raw item means (z = (x - mean) / sd)
    sd: np.ndarray
    z: np.ndarray  # all respondents' z-scores (NaN = missing)


def group_labels(groups: pd.Series, where: str) -> tuple[np.ndarray, list[str]]:
    """The respondents' group labels as strings and the sorted group names; an error (naming
    `where`) for a single group."""
    labels = groups.astype(str).to_numpy()
    names = sorted(set(labels))
    if len(names) < 2:
        raise InputError(
            f"{where}: only one group ({names[0]!r}); a multi-group model needs at least two "
            "(remove data.group for a single-group fit)"
        )
    return labels, names


def small_group_warnings(names: list[str], counts) -> list[Problem]:
    """A warning for each group with fewer than `SMALL_GROUP` respondents."""
    return [
        Problem(
            "data.group",
            f"group {name!r} has {count} respondents: its paths lean mostly on the pooled values",
            "warning",
        )
        for name, count in zip(names, counts, strict=True)
        if count < SMALL_GROUP
    ]


def group_data(x: np.ndarray, groups: pd.Series, where: str) -> tuple[GroupData, list[Problem]]:
    """Standardise `x` on the pooled sample and split it by the (complete) group labels;
    errors for a single group."""
    labels, names = group_labels(groups, where)
    pooled = continuous_data(x)
    keep = ~np.isnan(pooled.z).all(axis=1)
    rows = [pooled.z[(labels == name) & keep] for name in names]
    counts = np.array([len(r) for r in rows])
    per_group = [row_data(r) for r in rows]
    data = GroupData(names, counts, per_group, pooled.mean, pooled.sd, pooled.z[keep])
    return data, small_group_warnings(names, counts)


def path_positions(spec: ModelSpec, table: ParameterTable) -> tuple[np.ndarray, np.ndarray]:
    """Rows (outcomes) and columns (predictors) of the structural paths in A."""
    rows = np.array([table.variables.index(r.outcome) for r in spec.regressions], dtype=int)
    cols = np.array([table.variables.index(r.predictor) for r in spec.regressions], dtype=int)
    return rows, cols


def build_multigroup_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: GroupData,
    priors: PriorSet,
    plan: Deviations | None = None,
) -> pm.Model:
    """PyMC model of the multi-group SEM (see the module docstring); `plan` says which
    loadings and item intercepts deviate across groups (`multigroup.invariance`)."""
    p = table.n_manifest
    v = len(table.variables)
    latents = list(table.variables[p:])
    paths = np.array([table.index(r.key) for r in spec.regressions], dtype=int)
    basis = np.zeros((len(paths), v, v))
    for k, (row, col) in enumerate(zip(*path_positions(spec, table), strict=True)):
        basis[k, row, col] = 1.0
    coords = {
        "item": list(table.manifest),
        "latent": latents,
        "group": data.labels,
        "path": [r.key for r in spec.regressions],
    } | (invariance_coords(plan) if plan is not None else {})
    depth = path_depth(table)
    with pm.Model(coords=coords) as model:
        given = {}
        if len(paths):
            group_paths, population = pooled_paths(spec, priors, len(data.labels))
            given = {key: population[k] for k, key in enumerate(coords["path"])}
        theta = free_parameters(spec, table, priors, given)
        a, s = ram_matrices(table, theta)
        nu = rv("intercepts", priors.classes["intercepts"], dims="item")
        sd = pt.exp(zero_sum("group_sd", priors, "lognormal"))
        shift = zero_sum("group_means", priors, "normal")
        a_dev, nu_dev = deviation_variables(plan, v, p) if plan is not None else (None, None)
        total = 0.0
        for g, group_rows in enumerate(data.rows):
            rows = row_containers(group_rows, f"rows{g}")
            a_g = (
                a + pt.tensordot(group_paths[g] - theta[paths], basis, axes=1) if len(paths) else a
            )
            a_g = a_g + a_dev[g] if a_dev is not None else a_g
            nu_g = nu + nu_dev[g] if nu_dev is not None else nu
            scale = pt.concatenate([pt.ones(p), sd[:, g]])
            b = ram_inverse(a_g, depth)
            sigma = (b @ (s * scale[:, None] * scale[None, :]) @ b.T)[:p, :p]
            total = total + RowsLoglik()(sigma, nu_g + b[:p, p:] @ shift[:, g], *rows)[0]
        pm.Potential("loglik", total)
    return model


def zero_sum(name: str, priors: PriorSet, family: str):
    """Latent-by-group values (latent, group) summing to zero over the groups, with the SD of
    prior class `name` (which must be `family`(0, sd))."""
    prior = priors.classes[name]
    if prior.family != family or prior.args[0] != 0:
        raise InputError(
            f"Config: bayes.priors.{name}: must be {family}(0, sd) (the groups' values sum to "
            f"zero); got {prior}"
        )
    return pm.ZeroSumNormal(name, sigma=prior.args[1], dims=("latent", "group"))


def pooled_paths(spec: ModelSpec, priors: PriorSet, n_groups: int):
    """Group paths beta_g ~ N(beta, tau) with the population path beta integrated out.

    With beta ~ N(m, s) (the `paths` prior), the G group paths of one path are jointly normal
    with covariance tau^2 I + s^2 11': their mean is N(m, s^2 + tau^2 / G) and their deviations
    from it have variance tau^2. Sampling beta_g and tau under that marginal removes the funnel
    between beta and tau (centred beta gave bulk ESS 98 and 93 divergences with two groups);
    beta is then drawn exactly from its conditional normal, non-centred (`population_z`).
    """
    keys = [r.key for r in spec.regressions]
    location, scale = [], []
    for key in keys:
        prior = priors.for_parameter(key, "paths")
        if prior.family != "normal":
            raise InputError(
                f"Config: bayes.priors: multi-group models need normal priors on paths (the "
                f"population path is integrated out); '{key}' has {prior}"
            )
        location.append(prior.args[0])
        scale.append(prior.args[1])
    m, s = np.array(location), np.array(scale)
    tau = rv("group_path_sd", priors.classes["group_path_sd"], dims="path")
    group_paths = pm.Flat("group_paths", dims=("group", "path"))
    mean = group_paths.mean(axis=0)
    spread = ((group_paths - mean) ** 2).sum(axis=0)
    marginal = pm.logp(pm.Normal.dist(m, pt.sqrt(s**2 + tau**2 / n_groups)), mean).sum()
    marginal += (-(n_groups - 1) * pt.log(tau) - spread / (2.0 * tau**2)).sum()
    pm.Potential("group_paths_prior", marginal)
    precision = 1.0 / s**2 + n_groups / tau**2
    z = pm.Normal("population_z", 0.0, 1.0, dims="path")
    population = (m / s**2 + n_groups * mean / tau**2) / precision + z / pt.sqrt(precision)
    return group_paths, pm.Deterministic("population_paths", population, dims="path")
