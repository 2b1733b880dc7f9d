"""Fitting the two-level model and summarising it: level-specific estimates on lavaan's metric,
within / between / average effects, random-slope SDs and correlations, latent ICCs, cluster
effects on request, and which level divergent transitions come from."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bayeslead.bayes.data import continuous_data
from bayeslead.bayes.engine import (
    POSTERIOR_COLUMNS,
    _with_marker_draws,
    effects_table,
    estimates_table,
)
from bayeslead.bayes.hierarchical import (
    build_twolevel_model,
    expected_product,
    icc_table,
    slope_positions,
)
from bayeslead.bayes.model import initial_values
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import _ml_on_z
from bayeslead.bayes.twolevel import cluster_moments
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.data import ResponseData
from bayeslead.diagnostics import check_gates, gate_messages
from bayeslead.errors import InputError, Problem
from bayeslead.partable import build_partable, marker_scales, rescale
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, FitResult
from bayeslead.spec import ModelSpec


def check_clusters(data: ResponseData, column: str) -> tuple[np.ndarray, list[Problem]]:
    """Cluster ids of the complete rows; errors for unusable cluster columns."""
    ids = data.clusters[column]
    where = f"Data file {data.path}, column '{column}'"
    missing = ids.isna() | (ids.astype(str).str.strip() == "")
    if missing.any():
        rows = ", ".join(str(i + 2) for i in ids.index[missing][:5])
        raise InputError(
            f"{where}: missing cluster ids in rows {rows} (the header is row 1); every respondent needs a cluster"
        )
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
    """Sample the two-level model of `spec` (continuous indicators)."""
    started = time.perf_counter()
    if settings.indicators == "ordinal":
        raise InputError(
            "bayes.indicators: two-level models (data.cluster) support continuous indicators in this "
            "version; use indicators: continuous"
        )
    ids, problems = check_clusters(data, spec.cluster)
    frame = data.frame[list(spec.manifest)]
    complete = ~frame.isna().any(axis=1).to_numpy()
    if not complete.all():
        problems.append(
            Problem(
                "data",
                f"{int((~complete).sum())} respondents with missing responses were left out (two-level models need complete rows)",
                "warning",
            )
        )
    x = frame.to_numpy(dtype=float)[complete]
    cdata = continuous_data(x)
    moments = cluster_moments(cdata.z, ids[complete])
    table = build_partable(spec, "std.lv")
    marker = build_partable(spec)
    priors = prior_set(settings.priors, {p.key for p in table.free_params})
    positions = slope_positions(spec, table, settings.random_slopes)
    model = build_twolevel_model(spec, table, moments, priors, positions, settings.between_paths)
    initial = _start(spec, table, priors, cdata, moments, positions, settings)
    built = time.perf_counter()
    result = sample(
        model,
        initial,
        settings,
        var_names=[v.name for v in model.free_RVs]
        + [
            n
            for n in ("theta", "beta_between", "psi_between", "slope_corr")
            if n in model.named_vars
        ],
        progress=progress,
    )
    post = result.idata.posterior
    p = table.n_manifest
    theta_std = post["theta"].values
    scales = marker_scales(table, theta_std, cdata.sd)
    within = rescale(table, marker, theta_std, scales)
    between = _between_theta(table, marker, theta_std, post, scales, cdata.sd)
    estimates, conv = _estimates(
        marker, within, between, post, cdata, positions, table, scales, settings.hdi_prob
    )
    effects, effect_conv = _effects(
        spec, marker, within, between, post, positions, table, scales, settings.hdi_prob
    )
    icc = icc_table(
        *_latent_covariances(table, theta_std, post, positions), list(table.variables[p:])
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
            spec, marker, within, post, positions, table, scales, moments
        )
    info = {
        "estimator": "Bayes (two-level, continuous indicators, marginal normal likelihood per cluster)",
        "n": int(complete.sum()),
        "clusters": len(moments.counts),
        "cluster_size_mean": float(moments.counts.mean()),
        "random_slopes": [f"{o} ~ {p_}" for p_, o in settings.random_slopes],
        "between_paths": settings.between_paths,
        "sampler": result.sampler,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "missing": "listwise (two-level models need complete rows)",
        "priors": {name: str(prior) for name, prior in priors.classes.items()},
    }
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
    p = table.n_manifest
    m = len(table.variables) - p
    initial["between_sd"] = np.full(m, 0.3)
    initial["between_residual_sd"] = np.full(p, 0.2)
    initial["intercepts"] = moments.means.mean(axis=0)
    if settings.between_paths == "specific" and spec.regressions:
        initial["between_paths"] = np.array([theta[table.index(r.key)] for r in spec.regressions])
    if positions:
        initial["slope_sd"] = np.full(len(positions), 0.1)
        initial["slope_z"] = np.zeros(
            (len(moments.counts), len(positions))
        ) + 0.01 * np.random.default_rng(0).standard_normal((len(moments.counts), len(positions)))
    return initial


def _between_theta(table, marker, theta_std, post, scales, item_sd) -> np.ndarray:
    """Between-level parameters in the marker table's layout (loadings shared with within)."""
    p = table.n_manifest
    a, s = table.matrices(theta_std)
    a[..., p:, p:] = post["beta_between"].values
    s[..., p:, p:] = post["psi_between"].values
    theta_b = post["between_residual_sd"].values ** 2
    diag = np.arange(p)
    s[..., diag, diag] = theta_b
    c = scales
    a2 = a * c[..., :, None] / c[..., None, :]
    s2 = s * c[..., :, None] * c[..., None, :]
    out = np.empty((*theta_std.shape[:-1], marker.n_free))
    for q in marker.free_params:
        out[..., q.free] = (a2 if q.matrix == "A" else s2)[..., q.row, q.col]
    return out


def _estimates(marker, within, between, post, cdata, positions, table, scales, hdi_prob):
    w, conv_w = estimates_table(marker, within, hdi_prob)
    w["level"] = np.where(w.op == "=~", "", "within")
    b, conv_b = estimates_table(marker, between, hdi_prob)
    b = b[b.op != "=~"].copy()
    b["level"] = "between"
    conv_b = conv_b.loc[[k for k in conv_b.index if " =~ " not in k]]
    conv_b.index = [f"{k} (between)" for k in conv_b.index]
    means = cdata.mean + cdata.sd * post["intercepts"].values
    mu = summarize(means, hdi_prob)
    intercepts = pd.concat(
        [pd.DataFrame({"lhs": list(marker.manifest), "op": "~1", "rhs": "", "label": ""}), mu],
        axis=1,
    )
    intercepts["std_est"] = np.nan
    intercepts["level"] = "between"
    rows = [w, b, intercepts]
    conv = [conv_w, conv_b]
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
    z = post["slope_z"].values
    tau = post["slope_sd"].values
    if len(positions) > 1:
        z = z @ np.swapaxes(np.linalg.cholesky(post["slope_corr"].values), -1, -2)
    return z * tau[..., None, :]


def _cluster_effects(spec, marker, within, post, positions, table, scales, moments) -> pd.DataFrame:
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
        for j, label in enumerate(moments.labels):
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
