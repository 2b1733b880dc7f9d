"""The two-level family's tables: level-specific estimates on lavaan's metric (within, between,
item intercepts or thresholds, random-slope SDs and correlations), within / between / average
effects, latent ICCs, cluster effects on request, and which level divergent transitions come
from. Ordinal fits report the y* scale (total latent-response SD 1 at the mean slopes, as
lavaan's delta parameterisation)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.summaries import DRAW_COLUMNS, effects_table, estimates_table
from bayeslead.core.partable import rescale_matrices
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, POSTERIOR_COLUMNS


def ystar_sd(table, theta_std, post) -> np.ndarray:
    """SD of each item's latent response, sqrt(1 + loading^2 x total latent variance at the mean
    slopes), (chain, draw, p): the unit of the ordinal thresholds and of the reported y* scale."""
    p = table.n_manifest
    lam = table.matrices(theta_std)[0][..., :p, p:]
    return np.sqrt(1.0 + np.sum((lam * post["latent_sd"].values[..., None, :]) ** 2, axis=-1))


def between_theta(table, marker, theta_std, post, scales, theta_b, covariate_cols=()) -> np.ndarray:
    """Between-level parameters in the marker table's layout (loadings shared with within;
    `theta_b` the items' between residual variances on the std.lv metric; the paths from the
    covariates at both levels, columns `covariate_cols`, their between parts')."""
    p = table.n_manifest
    a, s = table.matrices(theta_std)
    a[..., p:, p:] = post["beta_between"].values
    if len(covariate_cols):
        a[..., p:, covariate_cols] = post["covariate_paths_between"].values
    s[..., p:, p:] = post["psi_between"].values
    items = np.arange(theta_b.shape[-1])  # the items come first among the manifest variables
    s[..., items, items] = theta_b
    return rescale_matrices(marker, a, s, scales)


def intercept_rows(marker, cdata, post, hdi_prob, shift=0.0) -> pd.DataFrame:
    """Item intercepts (`~1` rows, raw metric) of the continuous two-level model: the items'
    means less `shift` (the covariates' effects at their centres, lavaan's intercepts)."""
    k = post["intercepts"].shape[-1]
    means = cdata.mean[:k] + cdata.sd[:k] * post["intercepts"].values - shift
    rows = pd.DataFrame({"lhs": list(marker.manifest[:k]), "op": "~1", "rhs": "", "label": ""})
    out = pd.concat([rows, summarize(means, hdi_prob)], axis=1)
    out["std_est"] = np.nan
    return out


def level_estimates(
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
    between_marker=None,
):
    """estimates.csv rows with a `level` column: within (and loadings), between (item residual
    variances only with `between_residuals`), `level_rows` (intercepts or thresholds) as between
    rows, and the random slopes; and the convergence rows of all of them. `between_marker`: the
    marker table with the between level's fixed values, when they differ (fixed covariates)."""
    w, conv_w = estimates_table(marker, within, hdi_prob)
    w["level"] = np.where(w.op == "=~", "", "within")
    b, conv_b = estimates_table(between_marker or marker, between, hdi_prob)
    shared = b.op == "=~"
    if not between_residuals:
        item = b.lhs.isin(marker.manifest)
        shared |= (b.op.isin(["~~", "r2"])) & (b.lhs == b.rhs) & item  # R2 = 1: no residual
    params = shared[: len(marker.params)]
    keys = {q.key for q, drop in zip(marker.params, params, strict=True) if not drop}
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
    return out[columns + DRAW_COLUMNS], pd.concat(conv)


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


def level_effects(
    spec, marker, within, between, post, positions, table, scales, hdi_prob, between_marker=None
):
    """Within, between and (with random slopes) average effects of every named chain
    (`between_marker` as in `level_estimates`)."""
    frames, convs = [], []
    for level, theta, level_marker in (
        ("within", within, marker),
        ("between", between, between_marker or marker),
    ):
        frame, conv = effects_table(spec, level_marker, theta, hdi_prob)
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


def latent_covariances(table, theta_std, post, positions, chunk: int = 250):
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


def cluster_effects(spec, marker, within, post, positions, table, scales, labels) -> pd.DataFrame:
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


def expected_product(means: np.ndarray, cov: np.ndarray, random: list[int]) -> np.ndarray:
    """E[prod_k (means_k + u_k)] with u jointly normal, zero-mean, covariance `cov` over the
    links listed in `random` (Isserlis' theorem; exact). Batched over leading axes of `means`
    (..., L) and `cov` (..., r, r)."""
    links = means.shape[-1]
    total = np.zeros(means.shape[:-1])
    for size in range(0, len(random) + 1, 2):
        for subset in combinations(range(len(random)), size):
            fixed = [k for k in range(links) if k not in [random[i] for i in subset]]
            term = np.prod(means[..., fixed], axis=-1) if fixed else np.ones(means.shape[:-1])
            total = total + term * _pairings(cov, list(subset))
    return total


def _pairings(cov: np.ndarray, idx: list[int]) -> np.ndarray:
    """Sum over perfect matchings of idx of the product of covariances (E of a product of
    zero-mean normals)."""
    if not idx:
        return np.ones(cov.shape[:-2])
    first, rest = idx[0], idx[1:]
    total = np.zeros(cov.shape[:-2])
    for k, other in enumerate(rest):
        total = total + cov[..., first, other] * _pairings(cov, rest[:k] + rest[k + 1 :])
    return total


def icc_table(
    phi_b: np.ndarray, phi_w: np.ndarray, latents: list[str], level3: np.ndarray | None = None
) -> pd.DataFrame:
    """Latent ICC = between / (between + within) variance of each construct; draws on axis 0.

    With `level3` variances (draws, m), the ICC is the share between clusters (cluster and
    level 3 together) and `icc_level3` the share between level-3 units."""
    between = np.diagonal(phi_b, axis1=-2, axis2=-1)
    within = np.diagonal(phi_w, axis1=-2, axis2=-1)
    upper = np.zeros_like(between) if level3 is None else level3
    total = between + within + upper

    def share(draws: np.ndarray, name: str, prefix: str) -> dict[str, np.ndarray]:
        return {
            name: draws.mean(axis=0),
            f"{prefix}ci_lower": np.quantile(draws, 0.025, axis=0),
            f"{prefix}ci_upper": np.quantile(draws, 0.975, axis=0),
        }

    out = {"construct": latents} | share((between + upper) / total, "icc", "")
    if level3 is not None:
        out |= share(upper / total, "icc_level3", "level3_")
    out |= {"between_variance": between.mean(axis=0), "within_variance": within.mean(axis=0)}
    if level3 is not None:
        out["level3_variance"] = upper.mean(axis=0)
    return pd.DataFrame(out)
