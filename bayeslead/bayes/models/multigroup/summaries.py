"""The multi-group family's tables: every group's parameters and effects on lavaan's marker
metric, item intercepts, latent means (differences from the reference group), the pooled
(population) paths and their between-group SDs, and posterior differences between groups."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from bayeslead.bayes.models.multigroup.build import GroupData, path_positions
from bayeslead.bayes.models.multigroup.invariance import (
    Deviations,
    group_theta_std,
    intercept_deviation,
)
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.summaries import DRAW_COLUMNS, effects_table, estimates_table
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import ParameterTable, marker_scales, rescale_matrices
from bayeslead.core.spec import ModelSpec
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, POSTERIOR_COLUMNS

POOLED = "(pooled)"  # `group` of the population-level rows
DIFFERENCE_COLUMNS = ["quantity", "kind", "group", "versus", "est", "se", "ci_lower", "ci_upper"]


def group_thetas(
    spec: ModelSpec,
    table: ParameterTable,
    marker: ParameterTable,
    post,
    scales: np.ndarray,
    plan: Deviations | None = None,
    item_sd: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each group's free parameters on lavaan's marker metric, draws (chain, draw, k), and the
    scales of its variables (`marker_scales`; each group's own marker loading when loadings
    deviate across groups, `plan`)."""
    p = table.n_manifest
    rows, cols = path_positions(spec, table)
    log_sd = post["group_sd"].values  # (chain, draw, latent, group)
    deviating = plan is not None and bool(plan.loading_keys)
    out, group_scales = [], []
    for g in range(log_sd.shape[-1]):
        theta_std = group_theta_std(plan, post, g) if deviating else post["theta"].values
        scales_g = marker_scales(table, theta_std, item_sd) if deviating else scales
        a_g, s = table.matrices(theta_std)
        if spec.regressions:
            a_g[..., rows, cols] = post["group_paths"].values[:, :, g, :]
        scale = np.ones(scales_g.shape)
        scale[..., p:] = np.exp(log_sd[..., g])
        s_g = s * scale[..., :, None] * scale[..., None, :]
        out.append(rescale_matrices(marker, a_g, s_g, scales_g))
        group_scales.append(scales_g)
    return out, group_scales


def tagged(frame: pd.DataFrame, group: str) -> pd.DataFrame:
    """`frame` with `level` (empty) and `group` columns after its first four."""
    frame = frame.copy()
    frame.insert(4, "level", "")
    frame.insert(5, "group", group)
    return frame


def group_estimates(
    spec,
    table,
    marker,
    pooled,
    by_group,
    post,
    scales,
    data,
    hdi_prob,
    group_scales,
    plan=None,
    thresholds=None,
):
    """Every group's parameters, the item intercepts (per group when loadings or intercepts
    deviate across groups) or, with ordinal items, every group's thresholds (`thresholds`:
    their keys, each cut's item and the draws (chain, draw, group, cut) on the y* scale),
    latent means and the pooled path rows."""
    frames, convs = [], []
    for label, theta in zip(data.labels, by_group, strict=True):
        rows, conv = estimates_table(marker, theta, hdi_prob)
        frames.append(tagged(rows, label))
        conv.index = [f"{k} [{label}]" for k in conv.index]
        convs.append(conv)
    p = table.n_manifest
    latents = list(table.variables[p:])
    shifts, latent = reference_origin(marker, by_group, post, group_scales)
    if thresholds is not None:
        frame, conv = threshold_estimates(thresholds, shifts, data.labels, hdi_prob)
        frames.append(frame)
        convs.append(conv)
        blocks = []
    elif plan is not None and plan.any:
        blocks = [
            (
                list(table.manifest),
                label,
                data.mean
                + data.sd * (post["intercepts"].values + intercept_deviation(plan, post, g, p))
                + shifts[g],
                "",
            )
            for g, label in enumerate(data.labels)
        ]
    else:
        item_means = data.mean + data.sd * post["intercepts"].values + shifts[0]
        blocks = [(list(table.manifest), "", item_means, "")]
    for label, means in zip(data.labels, latent, strict=True):
        blocks.append((latents, label, means, ""))
    if spec.regressions:
        rows, cols = path_positions(spec, table)
        ratio = scales[..., rows] / scales[..., cols]
        keys = [f"{r.outcome}~{r.predictor}" for r in spec.regressions]
        blocks.append((keys, POOLED, post["group_path_sd"].values * ratio, "sd"))
    for names, group, draws, label in blocks:
        summary = summarize(draws, hdi_prob)
        op = "~~" if label == "sd" else "~1"
        rows = pd.DataFrame(
            {"lhs": names, "op": op, "rhs": names if op == "~~" else "", "label": label}
        )
        frame = tagged(pd.concat([rows, summary], axis=1), group)
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
        population = population[population.op == "~"].assign(
            label="mean", std_est=np.nan, std_ci_lower=np.nan, std_ci_upper=np.nan
        )
        frames.append(tagged(population, POOLED))
        conv = conv.loc[[r.key for r in spec.regressions]]
        conv.index = [f"{k} [{POOLED}]" for k in conv.index]
        convs.append(conv)
    columns = ESTIMATE_COLUMNS[:4] + ["level", "group"] + ESTIMATE_COLUMNS[4:]
    out = pd.concat(frames, ignore_index=True)
    return out[columns + POSTERIOR_COLUMNS + DRAW_COLUMNS], pd.concat(convs)


def threshold_estimates(thresholds, shifts, labels, hdi_prob):
    """Every group's `item | tK` rows on the reference group's origin (its latent intercepts 0:
    each cut moves by the item's shift of the origin, `reference_origin`) and their
    convergence rows."""
    keys, cut_item, draws = thresholds
    frames, convs = [], []
    for g, label in enumerate(labels):
        summary = summarize(draws[..., g, :] - shifts[g][..., cut_item], hdi_prob)
        lhs, rhs = zip(*(key.split(" | ") for key in keys), strict=True)
        rows = pd.DataFrame({"lhs": lhs, "op": "|", "rhs": rhs, "label": ""})
        frame = tagged(pd.concat([rows, summary], axis=1), label)
        frame["std_est"] = np.nan
        frames.append(frame)
        conv = summary[["rhat", "ess_bulk", "ess_tail"]].copy()
        conv.index = [f"{key} [{label}]" for key in keys]
        convs.append(conv)
    return pd.concat(frames, ignore_index=True), pd.concat(convs)


def group_effects(spec, marker, pooled, by_group, data, hdi_prob):
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


def reference_origin(
    marker: ParameterTable, by_group: list[np.ndarray], post, group_scales: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The model's means on the reference group's origin (lavaan's: its latent intercepts 0).

    The sampled latent intercepts alpha_g sum to zero over the groups; moving the origin to the
    reference group (group 0) gives item intercepts ``nu + Lambda (I - B_0)^-1 alpha_0`` and
    latent intercepts ``alpha_g - (I - B_g)(I - B_0)^-1 alpha_0`` (zero in the reference group),
    which leave every group's implied means unchanged (group g's item intercepts move by
    ``Lambda_g (I - B_0)^-1 alpha_0``). Returns each group's item-intercept shift on the raw item
    metric (chain, draw, item) and latent intercepts on its marker metric (chain, draw, latent).
    """
    p = marker.n_manifest
    alpha = np.stack(
        [post["group_means"].values[..., g] * sc[..., p:] for g, sc in enumerate(group_scales)],
        axis=-1,
    )  # (chain, draw, latent, group)
    eye = np.eye(len(marker.variables))
    full = np.zeros((*alpha.shape[:2], len(eye)))
    full[..., p:] = alpha[..., 0]
    ref = np.linalg.solve(eye - marker.matrices(by_group[0])[0], full[..., None])[..., 0]
    shifts, means = [], []
    for g, theta in enumerate(by_group):
        a_g = marker.matrices(theta)[0]
        shifts.append((a_g @ ref[..., None])[..., :p, 0])
        moved = (eye - a_g) @ ref[..., None]
        means.append(alpha[..., g] - moved[..., p:, 0])
    return shifts, means


def group_differences(
    spec: ModelSpec,
    marker: ParameterTable,
    by_group: list[np.ndarray],
    post,
    group_scales: list[np.ndarray],
    data: GroupData,
    hdi_prob: float,
) -> pd.DataFrame:
    """Posterior differences between every pair of groups (group minus versus): structural
    paths, named effects (raw metric) and latent means."""
    p = marker.n_manifest
    latents = list(marker.variables[p:])
    means = reference_origin(marker, by_group, post, group_scales)[1]
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
