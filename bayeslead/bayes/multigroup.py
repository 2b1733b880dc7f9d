"""Multi-group Bayesian SEM: one measurement model, structural paths partially pooled across groups.

With `data.group` (e.g. state-owned vs private firms, or regions), every group has the same
measurement model - loadings, item intercepts and item residual variances equal across groups
(lavaan's ``group.equal = c("loadings", "intercepts", "residuals")``), the condition under
which latent paths and means are on one metric and can be compared. What differs by group:

* each structural path: ``beta_g ~ Normal(beta, tau)``, partial pooling towards the population
  path ``beta`` (prior class ``paths``) with a between-group SD ``tau`` per path
  (``group_path_sd``), with ``beta`` integrated out of the sampled density (`_pooled_paths`);
* the latent (residual) SDs: log SDs zero-sum across groups (``group_sd``, lognormal(0, sd):
  a ZeroSumNormal of that SD on the log scale; exogenous correlations shared);
* the latent intercepts, zero-sum across groups (``group_means``, a ZeroSumNormal).

Both are symmetric in the groups: with the reference group's latent variances fixed at 1 and
its intercepts at 0 instead, the loadings, latent variances, item intercepts and latent means
mixed slowly (R-hat up to 1.03, bulk ESS 192 from 2 x 500 draws on 2 x 600 respondents).
Latent means are reported as differences from the reference group, the first group label in
sorted order. Each group's likelihood is the normal likelihood of its
items' sufficient statistics (one term per missing-data pattern), with the group's implied mean
``nu + Lambda (I - B_g)^-1 alpha_g`` and covariance. Everything is reported on lavaan's marker
metric, per group, with posterior differences between every pair of groups.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from bayeslead.bayes.data import continuous_data
from bayeslead.bayes.engine import (
    POSTERIOR_COLUMNS,
    _defined_rows,
    _with_marker_draws,
    effects_table,
    estimates_table,
)
from bayeslead.bayes.model import (
    _rv,
    free_parameters,
    initial_values,
    path_depth,
    ram_inverse,
    ram_matrices,
)
from bayeslead.bayes.moments import PatternMoments, pattern_moments
from bayeslead.bayes.ops import pattern_loglik
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.ppc import grouped_chisq_ppp
from bayeslead.bayes.priors import PriorSet, prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import _ml_on_z
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import (
    ParameterTable,
    build_partable,
    marker_scales,
    rescale,
    rescale_matrices,
)
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.data.patterns import pattern_groups
from bayeslead.diagnostics import check_gates, gate_messages
from bayeslead.errors import InputError, Problem
from bayeslead.psychometrics import htmt_table, reliability_table
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, FitResult

POOLED = "(pooled)"  # `group` of the population-level rows
SMALL_GROUP = 30  # respondents below which a group's estimates lean mostly on the pooled values
DIFFERENCE_COLUMNS = ["quantity", "kind", "group", "versus", "est", "se", "ci_lower", "ci_upper"]


@dataclass(frozen=True)
class GroupData:
    """Items z-scored on the pooled sample, split into groups (pattern moments per group)."""

    labels: list[str]
    counts: np.ndarray  # respondents per group
    moments: list[PatternMoments]
    mean: np.ndarray  # pooled raw item means (z = (x - mean) / sd)
    sd: np.ndarray
    z: np.ndarray  # all respondents' z-scores (NaN = missing)


def group_data(x: np.ndarray, groups: pd.Series, where: str) -> tuple[GroupData, list[Problem]]:
    """Standardise `x` on the pooled sample and split it by the (complete) group labels;
    errors for a single group."""
    labels = groups.astype(str).to_numpy()
    names = sorted(set(labels))
    if len(names) < 2:
        raise InputError(
            f"{where}: only one group ({names[0]!r}); a multi-group model needs at least two "
            "(remove data.group for a single-group fit)"
        )
    pooled = continuous_data(x)
    keep = ~np.isnan(pooled.z).all(axis=1)
    moments, counts, problems = [], [], []
    for name in names:
        rows = pooled.z[(labels == name) & keep]
        counts.append(len(rows))
        if len(rows) < SMALL_GROUP:
            problems.append(
                Problem(
                    "data.group",
                    f"group {name!r} has {len(rows)} respondents: its paths lean mostly on the "
                    "pooled values",
                    "warning",
                )
            )
        moments.append(pattern_moments(pattern_groups(rows), x.shape[1]))
    data = GroupData(names, np.array(counts), moments, pooled.mean, pooled.sd, pooled.z[keep])
    return data, problems


def _path_positions(spec: ModelSpec, table: ParameterTable) -> tuple[np.ndarray, np.ndarray]:
    """Rows (outcomes) and columns (predictors) of the structural paths in A."""
    rows = np.array([table.variables.index(r.outcome) for r in spec.regressions], dtype=int)
    cols = np.array([table.variables.index(r.predictor) for r in spec.regressions], dtype=int)
    return rows, cols


def build_multigroup_model(
    spec: ModelSpec, table: ParameterTable, data: GroupData, priors: PriorSet
) -> pm.Model:
    """PyMC model of the multi-group SEM (see the module docstring)."""
    p = table.n_manifest
    v = len(table.variables)
    latents = list(table.variables[p:])
    paths = np.array([table.index(r.key) for r in spec.regressions], dtype=int)
    basis = np.zeros((len(paths), v, v))
    for k, (row, col) in enumerate(zip(*_path_positions(spec, table), strict=True)):
        basis[k, row, col] = 1.0
    coords = {
        "item": list(table.manifest),
        "latent": latents,
        "group": data.labels,
        "path": [r.key for r in spec.regressions],
    }
    depth = path_depth(table)
    with pm.Model(coords=coords) as model:
        given = {}
        if len(paths):
            group_paths, population = _pooled_paths(spec, priors, len(data.labels))
            given = {key: population[k] for k, key in enumerate(coords["path"])}
        theta = free_parameters(spec, table, priors, given)
        a, s = ram_matrices(table, theta)
        nu = _rv("intercepts", priors.classes["intercepts"], dims="item")
        sd = pt.exp(_zero_sum("group_sd", priors, "lognormal"))
        shift = _zero_sum("group_means", priors, "normal")
        total = 0.0
        for g, moments in enumerate(data.moments):
            a_g = (
                a + pt.tensordot(group_paths[g] - theta[paths], basis, axes=1) if len(paths) else a
            )
            scale = pt.concatenate([pt.ones(p), sd[:, g]])
            b = ram_inverse(a_g, depth)
            sigma = (b @ (s * scale[:, None] * scale[None, :]) @ b.T)[:p, :p]
            total = total + pattern_loglik(sigma, nu + b[:p, p:] @ shift[:, g], moments)
        pm.Potential("loglik", total)
    return model


def _zero_sum(name: str, priors: PriorSet, family: str):
    """Latent-by-group values (latent, group) summing to zero over the groups, with the SD of
    prior class `name` (which must be `family`(0, sd))."""
    prior = priors.classes[name]
    if prior.family != family or prior.args[0] != 0:
        raise InputError(
            f"Config: bayes.priors.{name}: must be {family}(0, sd) (the groups' values sum to "
            f"zero); got {prior}"
        )
    return pm.ZeroSumNormal(name, sigma=prior.args[1], dims=("latent", "group"))


def _pooled_paths(spec: ModelSpec, priors: PriorSet, n_groups: int):
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
    tau = _rv("group_path_sd", priors.classes["group_path_sd"], dims="path")
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


def fit_multigroup(
    spec: ModelSpec,
    data: ResponseData,
    settings: BayesConfig,
    gates: DiagnosticsConfig,
    progress: bool = True,
) -> FitResult:
    """Sample the multi-group model of `spec` (continuous indicators) and summarise it."""
    started = time.perf_counter()
    x = data.frame[list(spec.manifest)].to_numpy(dtype=float)
    gdata, problems = group_data(
        x,
        data.id_column(spec.group, "group labels"),
        f"Data file {data.path}, column '{spec.group}'",
    )
    table = build_partable(spec, "std.lv")
    marker = build_partable(spec)
    priors = prior_set(settings.priors, {q.key for q in table.free_params})
    model = build_multigroup_model(spec, table, gdata, priors)
    initial = {k: v for k, v in _start(spec, table, priors, gdata).items() if k in model.named_vars}
    built = time.perf_counter()
    result = sample(
        model,
        initial,
        settings,
        var_names=[v.name for v in model.free_RVs] + ["theta", "population_paths"],
        progress=progress,
    )
    post = result.idata.posterior
    theta_std = post["theta"].values
    scales = marker_scales(table, theta_std, gdata.sd)
    pooled = rescale(table, marker, theta_std, scales)
    by_group = group_thetas(spec, table, marker, post, scales)
    hdi = settings.hdi_prob
    estimates, conv = _estimates(spec, table, marker, pooled, by_group, post, scales, gdata, hdi)
    effects, effect_conv = _effects(spec, marker, pooled, by_group, gdata, hdi)
    defined = [
        _tagged(_defined_rows(frame.drop(columns="group")), label)
        for label, frame in effects.groupby("group", sort=False)
    ]
    estimates = pd.concat([estimates, *defined], ignore_index=True)
    differences = group_differences(spec, marker, by_group, post, scales, gdata, hdi)
    diagnostics = check_gates(pd.concat([conv, effect_conv]), result.idata.sample_stats, gates)
    if settings.loo:
        problems.append(
            Problem("bayes.loo", "PSIS-LOO is not computed for multi-group fits", "warning")
        )
    fit = {}
    if not np.isnan(gdata.z).any():
        fit = _ppp(marker, by_group, x, data.clusters[spec.group], gdata, settings.seed)
    problems += [Problem("diagnostics", m) for m in gate_messages(diagnostics)]
    idata = _with_marker_draws(result.idata, marker, pooled, data, spec)
    idata.posterior["group_estimate"] = xr.DataArray(
        np.stack(by_group, axis=2),
        dims=("chain", "draw", "group", "estimate_dim"),
        coords={"group": gdata.labels, "estimate_dim": [q.key for q in marker.free_params]},
    )
    flat = pooled.reshape(-1, pooled.shape[-1])
    info = {
        "estimator": "Bayes (multi-group, continuous indicators, marginal normal likelihood per group)",
        "n": int(gdata.counts.sum()),
        "groups": dict(zip(gdata.labels, gdata.counts.tolist(), strict=True)),
        "reference_group": gdata.labels[0],
        "invariance": "loadings, item intercepts and item residual variances equal across groups",
        "pooling": "structural paths partially pooled across groups (beta_g ~ N(beta, tau))",
        "hypotheses": "evaluated on the pooled (population-mean) paths; see group_differences.csv",
        "identification": "reference group's latents standardised, first loading of each "
        "construct positive; reported on lavaan's marker metric",
        "sampler": result.sampler,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "missing": "exact likelihood per missing-data pattern within each group",
        "fit": "chi-square PPP summed over groups (complete data only)",
        "priors": {name: str(prior) for name, prior in priors.classes.items()}
        | {key: str(prior) for key, prior in priors.parameters.items()},
    }
    return FitResult(
        engine="bayes",
        estimates=estimates,
        effects=effects,
        fit=fit,
        info=info,
        reliability=reliability_table(marker, flat.mean(axis=0), data.frame, spec),
        htmt=htmt_table(data.frame[list(spec.items)].dropna(), spec),
        extra_tables={"group_differences": differences},
        diagnostics=diagnostics,
        idata=idata,
        problems=problems,
        timings=result.timings(built - started),
        theta=flat.mean(axis=0),
        draws=flat,
        draws_kind="posterior",
    )


def _ppp(marker, by_group, x, groups: pd.Series, data: GroupData, seed: int) -> dict[str, float]:
    """Chi-square PPP summed over the groups (complete data; raw metric)."""
    labels = groups.astype(str).to_numpy()
    sigmas, scatters = [], []
    for label, theta in zip(data.labels, by_group, strict=True):
        rows = x[labels == label]
        centred = rows - rows.mean(axis=0)
        scatters.append(centred.T @ centred)
        sigmas.append(marker.sigma(theta.reshape(-1, theta.shape[-1])))
    rng = np.random.default_rng(seed)
    return grouped_chisq_ppp(sigmas, scatters, list(data.counts), rng)


def _start(spec: ModelSpec, table: ParameterTable, priors: PriorSet, data: GroupData) -> dict:
    """Pooled ML estimates for the shared parameters; groups start equal to the pooled model."""
    _, theta, mean = _ml_on_z(spec, data.z)
    initial = initial_values(spec, table, priors, theta)
    m = len(table.variables) - table.n_manifest
    # the pooled z-scores have mean 0, where the gradient of the intercepts vanishes (nutpie
    # refuses exactly zero gradients)
    initial["intercepts"] = np.full(table.n_manifest, 0.01) if mean is None else mean
    initial["group_sd"] = np.zeros((m, len(data.labels)))  # log SDs
    initial["group_means"] = np.zeros((m, len(data.labels)))
    if spec.regressions:
        paths = np.array([theta[table.index(r.key)] for r in spec.regressions])
        initial["group_paths"] = np.tile(paths, (len(data.labels), 1))
        initial["group_path_sd"] = np.full(len(paths), 0.2)
        initial["population_z"] = np.full(len(paths), 0.1)  # nutpie refuses zero gradients
    return initial


def group_thetas(
    spec: ModelSpec, table: ParameterTable, marker: ParameterTable, post, scales: np.ndarray
) -> list[np.ndarray]:
    """Each group's free parameters on lavaan's marker metric, draws (chain, draw, k)."""
    theta_std = post["theta"].values
    p = table.n_manifest
    a, s = table.matrices(theta_std)
    rows, cols = _path_positions(spec, table)
    log_sd = post["group_sd"].values  # (chain, draw, latent, group)
    out = []
    for g in range(log_sd.shape[-1]):
        a_g = a.copy()
        if spec.regressions:
            a_g[..., rows, cols] = post["group_paths"].values[:, :, g, :]
        scale = np.ones(scales.shape)
        scale[..., p:] = np.exp(log_sd[..., g])
        s_g = s * scale[..., :, None] * scale[..., None, :]
        out.append(rescale_matrices(marker, a_g, s_g, scales))
    return out


def _tagged(frame: pd.DataFrame, group: str) -> pd.DataFrame:
    """`frame` with `level` (empty) and `group` columns after its first four."""
    frame = frame.copy()
    frame.insert(4, "level", "")
    frame.insert(5, "group", group)
    return frame


def _estimates(spec, table, marker, pooled, by_group, post, scales, data, hdi_prob):
    """Every group's parameters, the item intercepts, latent means and the pooled path rows."""
    frames, convs = [], []
    for label, theta in zip(data.labels, by_group, strict=True):
        rows, conv = estimates_table(marker, theta, hdi_prob)
        frames.append(_tagged(rows, label))
        conv.index = [f"{k} [{label}]" for k in conv.index]
        convs.append(conv)
    p = table.n_manifest
    latents = list(table.variables[p:])
    item_means = data.mean + data.sd * post["intercepts"].values
    blocks = [(list(table.manifest), "", item_means, "")]
    for label, means in zip(data.labels, latent_means(post, scales, p), strict=True):
        blocks.append((latents, label, means, ""))
    if spec.regressions:
        rows, cols = _path_positions(spec, table)
        ratio = scales[..., rows] / scales[..., cols]
        keys = [f"{r.outcome}~{r.predictor}" for r in spec.regressions]
        blocks.append((keys, POOLED, post["group_path_sd"].values * ratio, "sd"))
    for names, group, draws, label in blocks:
        summary = summarize(draws, hdi_prob)
        op = "~~" if label == "sd" else "~1"
        rows = pd.DataFrame(
            {"lhs": names, "op": op, "rhs": names if op == "~~" else "", "label": label}
        )
        frame = _tagged(pd.concat([rows, summary], axis=1), group)
        frame["std_est"] = np.nan
        frames.append(frame)
        free = summary.se > 0
        conv = summary.loc[free, ["rhat", "ess_bulk", "ess_tail"]]
        conv.index = [
            f"{n} {label or op} [{group or 'all'}]" for n in np.array(names)[free.to_numpy()]
        ]
        convs.append(conv)
    if spec.regressions:
        population, conv = estimates_table(marker, pooled, hdi_prob)
        population = population[population.op == "~"].assign(label="mean", std_est=np.nan)
        frames.append(_tagged(population, POOLED))
        conv = conv.loc[[r.key for r in spec.regressions]]
        conv.index = [f"{k} [{POOLED}]" for k in conv.index]
        convs.append(conv)
    columns = ESTIMATE_COLUMNS[:4] + ["level", "group"] + ESTIMATE_COLUMNS[4:]
    out = pd.concat(frames, ignore_index=True)
    return out[columns + POSTERIOR_COLUMNS + ["mcse_mean"]], pd.concat(convs)


def _effects(spec, marker, pooled, by_group, data, hdi_prob):
    """Named effects per group and at the pooled paths (effects.csv with a `group` column)."""
    frames, convs = [], []
    for label, theta in [*zip(data.labels, by_group, strict=True), (POOLED, pooled)]:
        frame, conv = effects_table(spec, marker, theta, hdi_prob)
        frame.insert(3, "group", label)
        conv.index = [f"{k} [{label}]" for k in conv.index]
        frames.append(frame)
        convs.append(conv)
    effects = pd.concat(frames, ignore_index=True)
    extra = [c for c in effects.columns if c not in EFFECT_COLUMNS and c != "group"]
    order = [*EFFECT_COLUMNS[:3], "group", *EFFECT_COLUMNS[3:], *extra]
    return effects[order], pd.concat(convs)


def latent_means(post, scales: np.ndarray, p: int) -> list[np.ndarray]:
    """Each group's latent intercepts minus the reference group's, on the marker metric
    (chain, draw, latent); the reference group's are zero."""
    shift = post["group_means"].values  # (chain, draw, latent, group), zero-sum over groups
    scale = scales[..., p:]
    return [(shift[..., g] - shift[..., 0]) * scale for g in range(shift.shape[-1])]


def group_differences(
    spec: ModelSpec,
    marker: ParameterTable,
    by_group: list[np.ndarray],
    post,
    scales: np.ndarray,
    data: GroupData,
    hdi_prob: float,
) -> pd.DataFrame:
    """Posterior differences between every pair of groups (group minus versus): structural
    paths, named effects (raw metric) and latent means."""
    p = marker.n_manifest
    latents = list(marker.variables[p:])
    means = latent_means(post, scales, p)
    paths = [marker.index(r.key) for r in spec.regressions]
    effects = [effect_draws(spec, marker, theta) for theta in by_group]
    quantities = [(r.key, "path") for r in spec.regressions]
    quantities += [(d.effect.name, d.kind) for d in effects[0]]
    quantities += [(f"{name} ~1", "latent_mean") for name in latents]
    draws = [
        np.concatenate([theta[..., paths], *[d.raw[..., None] for d in chains], mean], axis=-1)
        for theta, chains, mean in zip(by_group, effects, means, strict=True)
    ]
    rows = []
    for g, h in combinations(range(len(data.labels)), 2):
        diff = draws[g] - draws[h]
        summary = summarize(diff, hdi_prob)
        summary["p_direction"] = probability_of_direction(diff)
        summary.insert(0, "versus", data.labels[h])
        summary.insert(0, "group", data.labels[g])
        summary.insert(0, "kind", [k for _, k in quantities])
        summary.insert(0, "quantity", [q for q, _ in quantities])
        rows.append(summary)
    out = pd.concat(rows, ignore_index=True)
    return out[
        DIFFERENCE_COLUMNS
        + ["p_direction", "hdi_lower", "hdi_upper", "rhat", "ess_bulk", "ess_tail"]
    ]
