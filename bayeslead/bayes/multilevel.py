"""Fitting the two-level model (continuous or ordinal indicators) and summarising it:
level-specific estimates on lavaan's metric, within / between / average effects, random-slope SDs
and correlations, latent ICCs, cluster effects on request, and which level divergent transitions
come from. Ordinal fits report the y* scale (total latent-response SD 1 at the mean slopes, as
lavaan's delta parameterisation) and threshold rows instead of item intercepts."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bayeslead.bayes.data import continuous_data, ordinal_data
from bayeslead.bayes.engine import (
    POSTERIOR_COLUMNS,
    _check_supported,
    _threshold_rows,
    _with_marker_draws,
    effects_table,
    estimates_table,
)
from bayeslead.bayes.hierarchical import (
    between_start,
    build_twolevel_model,
    expected_product,
    icc_table,
    slope_positions,
)
from bayeslead.bayes.model import initial_values
from bayeslead.bayes.ordinal_twolevel import build_ordinal_twolevel_model, ordinal_twolevel_start
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import _ml_on_z
from bayeslead.bayes.threelevel import level3_rows, level3_start, level3_units, level3_variances
from bayeslead.bayes.twolevel import cluster_moments
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.partable import build_partable, marker_scales, rescale, rescale_matrices
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.diagnostics import check_gates, gate_messages
from bayeslead.errors import InputError, Problem
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, FitResult

SCORES = (
    "scores",
    "between_z",
    "slope_free",
)  # per-respondent and per-cluster latent scores (ordinal)


def check_clusters(data: ResponseData, column: str) -> tuple[np.ndarray, list[Problem]]:
    """Cluster ids of the complete rows; errors for unusable cluster columns."""
    ids = data.id_column(column, "cluster ids")
    where = f"Data file {data.path}, column '{column}'"
    sizes = ids.value_counts()
    if (sizes == 1).all():
        raise InputError(
            f"{where}: every cluster has a single respondent, so between- and within-cluster parts "
            "cannot be separated; fit a single-level model (remove data.cluster)"
        )
    problems = []
    if (sizes == 1).mean() > 0.5:
        problems.append(
            Problem(
                column,
                f"{int((sizes == 1).sum())} of {len(sizes)} clusters have one respondent: they inform the "
                "between level only, and random slopes are estimated from the larger clusters",
                "warning",
            )
        )
    return ids.to_numpy(), problems


def fit_twolevel(
    spec: ModelSpec,
    data: ResponseData,
    settings: BayesConfig,
    gates: DiagnosticsConfig,
    progress: bool = True,
) -> FitResult:
    """Sample the two-level model of `spec` (continuous or ordinal indicators)."""
    started = time.perf_counter()
    ordinal = settings.indicators == "ordinal"
    _check_supported(spec, ordinal)
    ids, problems = check_clusters(data, spec.cluster)
    frame = data.frame[list(spec.manifest)]
    missing = frame.isna().to_numpy()
    keep = ~missing.all(axis=1) if ordinal else ~missing.any(axis=1)
    if not keep.all():
        what = "no responses" if ordinal else "missing responses"
        why = "" if ordinal else " (two-level models need complete rows)"
        problems.append(
            Problem(
                "data",
                f"{int((~keep).sum())} respondents with {what} were left out{why}",
                "warning",
            )
        )
    x = frame.to_numpy(dtype=float)[keep]
    labels, cluster = np.unique(ids[keep], return_inverse=True)
    level3 = None
    table = build_partable(spec, "std.lv", unit_residuals=ordinal)
    marker = build_partable(spec)
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    positions = slope_positions(spec, table, settings.random_slopes)
    if ordinal:
        if spec.level3:
            raise InputError(
                "bayes.indicators: a third level (data.level3) supports continuous indicators "
                "in this version; use indicators: continuous or remove data.level3"
            )
        odata = ordinal_data(x)
        model = build_ordinal_twolevel_model(
            spec,
            table,
            odata,
            cluster,
            labels,
            priors,
            positions,
            settings.between_paths,
            settings.link,
        )
        initial = ordinal_twolevel_start(
            spec, table, priors, x, odata, cluster, positions, settings.between_paths
        )
    else:
        cdata = continuous_data(x)
        moments = cluster_moments(cdata.z, ids[keep])
        if spec.level3:
            level3, found = level3_units(data, spec.level3, ids, moments.labels)
            problems += found
        model = build_twolevel_model(
            spec, table, moments, priors, positions, settings.between_paths, level3
        )
        initial = _start(spec, table, priors, cdata, moments, positions, settings)
        if level3:
            initial |= level3_start(table, level3)
    built = time.perf_counter()
    stored = ("theta", "beta_between", "psi_between", "slope_corr")
    stored += ("slopes", "thresholds", "latent_sd")  # ordinal
    result = sample(
        model,
        initial,
        settings,
        var_names=[v.name for v in model.free_RVs if v.name not in SCORES]
        + [n for n in stored if n in model.named_vars],
        progress=progress,
    )
    post = result.idata.posterior
    p = table.n_manifest
    theta_std = post["theta"].values
    if ordinal:
        scales = marker_scales(table, theta_std, 1.0 / _ystar_sd(table, theta_std, post))
        theta_b = np.zeros((*theta_std.shape[:-1], p))
        level_rows = _threshold_rows(result.idata, odata, spec)
    else:
        scales = marker_scales(table, theta_std, cdata.sd)
        theta_b = post["between_residual_sd"].values ** 2
        level_rows = _intercept_rows(marker, cdata, post, settings.hdi_prob)
    within = rescale(table, marker, theta_std, scales)
    between = _between_theta(table, marker, theta_std, post, scales, theta_b)
    estimates, conv = _estimates(
        marker,
        within,
        between,
        level_rows,
        post,
        positions,
        table,
        scales,
        settings.hdi_prob,
        between_residuals=not ordinal,
    )
    upper = None
    if level3:
        rows, level3_conv = level3_rows(table, post, scales, settings.hdi_prob)
        estimates = pd.concat([estimates, rows[estimates.columns]], ignore_index=True)
        conv = pd.concat([conv, level3_conv])
        upper = level3_variances(table, post).reshape(-1, len(table.variables) - p)
    effects, effect_conv = _effects(
        spec, marker, within, between, post, positions, table, scales, settings.hdi_prob
    )
    icc = icc_table(
        *_latent_covariances(table, theta_std, post, positions), list(table.variables[p:]), upper
    )
    convergence = pd.concat([conv, effect_conv])
    diagnostics = check_gates(convergence, result.idata.sample_stats, gates)
    problems += [Problem("diagnostics", m) for m in gate_messages(diagnostics)]
    if diagnostics["divergences"]:
        problems.append(Problem("diagnostics", divergence_levels(result.idata), "warning"))
    idata = _with_marker_draws(result.idata, marker, within, data, spec)
    tables = {"icc": icc}
    if settings.cluster_effects and positions:
        tables["cluster_effects"] = _cluster_effects(
            spec, marker, within, post, positions, table, scales, labels
        )
    info = {
        "estimator": (
            f"Bayes (two-level, ordinal indicators, ordered {settings.link} on explicit "
            "standardised latent scores)"
            if ordinal
            else "Bayes (two-level, continuous indicators, marginal normal likelihood per cluster)"
        ),
        "n": int(keep.sum()),
        "clusters": len(labels),
        "cluster_size_mean": float(keep.sum() / len(labels)),
        "random_slopes": [f"{o} ~ {p_}" for p_, o in settings.random_slopes],
        "between_paths": settings.between_paths,
        "sampler": result.sampler,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "missing": "responses missing at random are left out of the likelihood"
        if ordinal
        else "listwise (two-level models need complete rows)",
        "priors": {name: str(prior) for name, prior in priors.classes.items()},
    }
    if level3:
        info["level3"] = f"{spec.level3} ({len(level3.labels)} units; construct intercepts)"
    if ordinal:
        info["between_item_residuals"] = (
            "fixed at 0: items vary between clusters only through their constructs"
        )
        info["thresholds"] = "in units of each item's total y* SD at the mean slopes"
    flat = within.reshape(-1, within.shape[-1])
    return FitResult(
        engine="bayes",
        estimates=estimates,
        effects=effects,
        fit={},
        info=info,
        extra_tables=tables,
        diagnostics=diagnostics,
        idata=idata,
        problems=problems,
        timings=result.timings(built - started),
        theta=flat.mean(axis=0),
        draws=flat,
        draws_kind="posterior",
    )


def _start(spec, table, priors, cdata, moments, positions, settings) -> dict:
    """ML estimates of the single-level model as within values; between parts small."""
    _, theta, _ = _ml_on_z(spec, cdata.z)
    initial = initial_values(spec, table, priors, theta)
    paths = np.array([theta[table.index(r.key)] for r in spec.regressions])
    initial |= between_start(
        spec, table, paths, len(moments.counts), positions, settings.between_paths
    )
    initial["between_residual_sd"] = np.full(table.n_manifest, 0.2)
    initial["intercepts"] = moments.means.mean(axis=0)
    return initial


def _ystar_sd(table, theta_std, post) -> np.ndarray:
    """SD of each item's latent response, sqrt(1 + loading^2 x total latent variance at the mean
    slopes), (chain, draw, p): the unit of the ordinal thresholds and of the reported y* scale."""
    p = table.n_manifest
    lam = table.matrices(theta_std)[0][..., :p, p:]
    return np.sqrt(1.0 + np.sum((lam * post["latent_sd"].values[..., None, :]) ** 2, axis=-1))


def _between_theta(table, marker, theta_std, post, scales, theta_b) -> np.ndarray:
    """Between-level parameters in the marker table's layout (loadings shared with within;
    `theta_b` the items' between residual variances on the std.lv metric)."""
    p = table.n_manifest
    a, s = table.matrices(theta_std)
    a[..., p:, p:] = post["beta_between"].values
    s[..., p:, p:] = post["psi_between"].values
    s[..., np.arange(p), np.arange(p)] = theta_b
    return rescale_matrices(marker, a, s, scales)


def _intercept_rows(marker, cdata, post, hdi_prob) -> pd.DataFrame:
    """Item means (`~1` rows, raw metric) of the continuous two-level model."""
    means = cdata.mean + cdata.sd * post["intercepts"].values
    rows = pd.DataFrame({"lhs": list(marker.manifest), "op": "~1", "rhs": "", "label": ""})
    out = pd.concat([rows, summarize(means, hdi_prob)], axis=1)
    out["std_est"] = np.nan
    return out


def _estimates(
    marker,
    within,
    between,
    level_rows,
    post,
    positions,
    table,
    scales,
    hdi_prob,
    between_residuals=True,
):
    """estimates.csv rows with a `level` column: within (and loadings), between (item residual
    variances only with `between_residuals`), `level_rows` (intercepts or thresholds) as between
    rows, and the random slopes; and the convergence rows of all of them."""
    w, conv_w = estimates_table(marker, within, hdi_prob)
    w["level"] = np.where(w.op == "=~", "", "within")
    b, conv_b = estimates_table(marker, between, hdi_prob)
    shared = b.op == "=~"
    if not between_residuals:
        shared |= (b.op == "~~") & (b.lhs == b.rhs) & b.lhs.isin(marker.manifest)
    keys = {q.key for q, drop in zip(marker.params, shared, strict=True) if not drop}
    b = b[~shared].copy()
    b["level"] = "between"
    conv_b = conv_b.loc[[k for k in conv_b.index if k in keys]]
    conv_b.index = [f"{k} (between)" for k in conv_b.index]
    level_rows = level_rows.assign(level="between")
    conv_level = level_rows[["rhat", "ess_bulk", "ess_tail"]].copy()
    conv_level.index = [f"{r.lhs} {r.op} {r.rhs}".strip() for r in level_rows.itertuples()]
    rows = [w, b, level_rows]
    conv = [conv_w, conv_b, conv_level]
    if positions:
        slope_rows, slope_conv = _slope_rows(post, positions, table, scales, hdi_prob)
        rows.append(slope_rows)
        conv.append(slope_conv)
    out = pd.concat(rows, ignore_index=True)
    columns = ESTIMATE_COLUMNS[:4] + ["level"] + ESTIMATE_COLUMNS[4:] + POSTERIOR_COLUMNS
    columns += ["mcse_mean"]
    return out[columns], pd.concat(conv)


def _slope_rows(post, positions, table, scales, hdi_prob):
    """Random-slope SDs (label sd) and correlations (label cor) as `~~` rows, raw metric."""
    p = table.n_manifest
    names = [f"{table.variables[p + r]}~{table.variables[p + c]}" for r, c in positions]
    ratio = np.stack([scales[..., p + r] / scales[..., p + c] for r, c in positions], axis=-1)
    sd = post["slope_sd"].values * ratio
    rows = [dict(lhs=n, op="~~", rhs=n, label="sd") for n in names]
    values = [sd]
    if len(positions) > 1:
        corr = post["slope_corr"].values
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                rows.append(dict(lhs=names[i], op="~~", rhs=names[j], label="cor"))
                values.append(corr[..., i, j][..., None])
    summary = summarize(np.concatenate(values, axis=-1), hdi_prob)
    out = pd.concat([pd.DataFrame(rows), summary], axis=1)
    out["std_est"] = np.nan
    out["level"] = "within"
    conv = summary[["rhat", "ess_bulk", "ess_tail"]].copy()
    conv.index = [f"{r['lhs']} ~~ {r['rhs']} ({r['label']})" for r in rows]
    return out, conv


def _slope_covariance(post, positions, table, scales) -> np.ndarray:
    """Covariance of the random slopes on the raw metric, (chain, draw, r, r)."""
    p = table.n_manifest
    ratio = np.stack([scales[..., p + r] / scales[..., p + c] for r, c in positions], axis=-1)
    sd = post["slope_sd"].values * ratio
    corr = post["slope_corr"].values if len(positions) > 1 else np.ones((*sd.shape, 1))
    return corr * sd[..., :, None] * sd[..., None, :]


def _effects(spec, marker, within, between, post, positions, table, scales, hdi_prob):
    """Within, between and (with random slopes) average effects of every named chain."""
    frames, convs = [], []
    for level, theta in (("within", within), ("between", between)):
        frame, conv = effects_table(spec, marker, theta, hdi_prob)
        frame["level"] = level
        conv.index = [f"{k} ({level})" for k in conv.index]
        frames.append(frame)
        convs.append(conv)
    if positions and spec.effects:
        p = table.n_manifest
        keys = {
            (table.variables[p + r], table.variables[p + c]): k
            for k, (r, c) in enumerate(positions)
        }
        cov = _slope_covariance(post, positions, table, scales)
        sd = np.sqrt(np.diagonal(marker.implied(within), axis1=-2, axis2=-1))  # at the mean slopes
        rows, draws, std_draws = [], [], []
        for effect in spec.effects:
            links = effect.links
            means = np.stack([within[..., marker.index(link.key)] for link in links], axis=-1)
            random = [i for i, link in enumerate(links) if (link.outcome, link.predictor) in keys]
            order = [keys[(links[i].outcome, links[i].predictor)] for i in random]
            value = expected_product(means, cov[..., order, :][..., :, order], random)
            rows.append(
                {
                    "effect": effect.name,
                    "kind": "indirect",
                    "level": "average",
                    "path": " -> ".join(effect.chain),
                }
            )
            draws.append(value)
            source, target = (
                marker.variables.index(effect.source),
                marker.variables.index(effect.target),
            )
            std_draws.append(value * sd[..., source] / sd[..., target])
        stacked = np.stack(draws, axis=-1)
        summary = summarize(stacked, hdi_prob)
        std_summary = summarize(np.stack(std_draws, axis=-1), hdi_prob)
        frame = pd.DataFrame(rows)
        frame["est"], frame["se"] = summary.est, summary.se
        frame["ci_lower"], frame["ci_upper"] = summary.ci_lower, summary.ci_upper
        frame["ci_method"] = "posterior-eti"
        frame["std_est"] = std_summary.est
        frame["std_ci_lower"], frame["std_ci_upper"] = std_summary.ci_lower, std_summary.ci_upper
        frame["p_direction"] = probability_of_direction(stacked)
        for col in ("hdi_lower", "hdi_upper", "rhat", "ess_bulk", "ess_tail"):
            frame[col] = summary[col]
        frames.append(frame)
        conv = summary[["rhat", "ess_bulk", "ess_tail"]].copy()
        conv.index = [f"{r['effect']} (average)" for r in rows]
        convs.append(conv)
    effects = pd.concat(frames, ignore_index=True)
    extra = [c for c in effects.columns if c not in EFFECT_COLUMNS]
    return effects[[*EFFECT_COLUMNS, *extra]], pd.concat(convs)


def _latent_covariances(table, theta_std, post, positions, chunk: int = 250):
    """Between and cluster-averaged within covariance of the latents, per draw (flattened)."""
    p = table.n_manifest
    a, s = table.matrices(theta_std.reshape(-1, theta_std.shape[-1]))
    beta_w, psi_w = a[:, p:, p:], s[:, p:, p:]
    m = beta_w.shape[-1]
    eye = np.eye(m)
    beta_b = post["beta_between"].values.reshape(-1, m, m)
    t_b = np.linalg.inv(eye - beta_b)
    phi_b = t_b @ post["psi_between"].values.reshape(-1, m, m) @ np.swapaxes(t_b, -1, -2)
    if not positions:
        t_w = np.linalg.inv(eye - beta_w)
        return phi_b, t_w @ psi_w @ np.swapaxes(t_w, -1, -2)
    slopes = _slopes(post, positions).reshape(len(beta_w), -1, len(positions))
    phi_w = np.empty_like(phi_b)
    for start in range(0, len(beta_w), chunk):
        part = slice(start, start + chunk)
        b = np.repeat(beta_w[part, None], slopes.shape[1], axis=1)
        for k, (r, c) in enumerate(positions):
            b[..., r, c] += slopes[part, :, k]
        t = np.linalg.inv(eye - b)
        phi_w[part] = (t @ psi_w[part, None] @ np.swapaxes(t, -1, -2)).mean(axis=1)
    return phi_b, phi_w


def _slopes(post, positions) -> np.ndarray:
    """Cluster slopes u_j (chain, draw, cluster, r) on the std.lv metric."""
    if "slopes" in post:  # the ordinal model stores them
        return post["slopes"].values
    z = post["slope_z"].values
    tau = post["slope_sd"].values
    if len(positions) > 1:
        z = z @ np.swapaxes(np.linalg.cholesky(post["slope_corr"].values), -1, -2)
    return z * tau[..., None, :]


def _cluster_effects(spec, marker, within, post, positions, table, scales, labels) -> pd.DataFrame:
    """Each cluster's indirect effects (raw metric): the product of its own slopes."""
    p = table.n_manifest
    slopes = _slopes(post, positions)
    keys = {
        (table.variables[p + r], table.variables[p + c]): k for k, (r, c) in enumerate(positions)
    }
    rows = []
    for effect in spec.effects:
        value = np.ones(slopes.shape[:3])
        for link in effect.links:
            base = within[..., marker.index(link.key)][..., None]
            k = keys.get((link.outcome, link.predictor))
            if k is not None:
                r, c = positions[k]
                base = base + slopes[..., k] * (scales[..., p + r] / scales[..., p + c])[..., None]
            value = value * base
        flat = value.reshape(-1, value.shape[-1])
        for j, label in enumerate(labels):
            rows.append(
                {
                    "cluster": label,
                    "effect": effect.name,
                    "est": flat[:, j].mean(),
                    "ci_lower": np.quantile(flat[:, j], 0.025),
                    "ci_upper": np.quantile(flat[:, j], 0.975),
                }
            )
    return pd.DataFrame(rows)


def divergence_levels(idata) -> str:
    """Which level's parameters move most in divergent transitions (standardised mean shift)."""
    diverging = idata.sample_stats["diverging"].values.ravel()
    scores = []
    for name, level in (
        ("theta", "within"),
        ("between_sd", "between"),
        ("between_residual_sd", "between"),
        ("slope_sd", "random slopes"),
        ("level3_sd", "level 3"),
    ):
        if name not in idata.posterior:
            continue
        values = idata.posterior[name].values.reshape(len(diverging), -1)
        spread = values.std(axis=0) + 1e-12
        shift = np.abs(values[diverging].mean(axis=0) - values.mean(axis=0)) / spread
        scores.append((float(shift.max()), level, name))
    scores.sort(reverse=True)
    top = ", ".join(f"{level} ({name}, shift {value:.2f} SD)" for value, level, name in scores[:2])
    return f"divergent transitions concentrate in these parameters: {top}; the slope SDs and between-level SDs near zero are the usual cause (funnel); try target_accept 0.95 or a tighter slope_sd prior"
