"""From posterior draws to lavaan-style tables, shared by every model family.

Sampling happens on standardised latents (std.lv, first loadings positive) and z-scored items
(continuous) or the theta-parameterised latent responses (ordinal); every draw is then expressed
on lavaan's default metric (first loading of each construct 1; raw item units for continuous
items, the delta-parameterised y* scale for ordinal items) for `estimates.csv`, and in lavaan's
std.all for `std_est`, so results compare directly with lavaan/blavaan. The functions here work on
draws shaped (chain, draw, k) over the numpy core of `bayes.posterior`; a family adds only its
own columns (levels, groups) and rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.core.conditional import (
    conditional_draws,
    conditional_table,
    interaction_std,
    johnson_neyman,
    johnson_neyman_bounds,
)
from bayeslead.core.effects import EffectDraws, defined_name, effect_draws
from bayeslead.core.meanstructure import manifest_intercepts
from bayeslead.core.partable import ParameterTable, marker_scales, rescale
from bayeslead.core.rsquare import endogenous, r_squared
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, POSTERIOR_COLUMNS

# estimates.csv's columns after the posterior summary's, in every family's table
DRAW_COLUMNS = ["mcse_mean", "std_ci_lower", "std_ci_upper", "p_direction"]


def marker_posterior(
    spec: ModelSpec,
    std_table: ParameterTable,
    marker_table: ParameterTable,
    theta_std: np.ndarray,
    manifest_scale: np.ndarray,
    hdi_prob: float,
):
    """Draws (chain, draw, k) of the sampled std.lv parameters moved to lavaan's marker metric,
    with the estimates and effects tables, the convergence rows of both and the effects' draws
    (for `with_marker_draws`)."""
    scales = marker_scales(std_table, theta_std, manifest_scale)
    theta = rescale(std_table, marker_table, theta_std, scales)
    estimates, conv_rows = estimates_table(marker_table, theta, hdi_prob)
    draws = effect_draws(spec, marker_table, theta)
    effects, effect_conv = effects_table(spec, marker_table, theta, hdi_prob, draws)
    return theta, estimates, effects, pd.concat([conv_rows, effect_conv]), draws


def pooled_posterior(
    spec: ModelSpec, table: ParameterTable, theta_scaled: np.ndarray, scale: float, hdi_prob: float
):
    """`marker_posterior` of a constrained model sampled on the marker metric with every item
    divided by `scale`: loadings and paths stay, every (co)variance is multiplied by scale^2."""
    scales = np.full(len(table.variables), float(scale))
    theta = rescale(table, table, theta_scaled, scales)
    estimates, conv_rows = estimates_table(table, theta, hdi_prob)
    draws = effect_draws(spec, table, theta)
    effects, effect_conv = effects_table(spec, table, theta, hdi_prob, draws)
    return theta, estimates, effects, pd.concat([conv_rows, effect_conv]), draws


def estimates_table(table: ParameterTable, theta: np.ndarray, hdi_prob: float):
    """One row per parameter on lavaan's metric, posterior summaries and std.all means, then
    lavaan's `r2` rows: the posterior of each endogenous variable's R-squared, draw by draw."""
    r2 = r_squared(table, theta)
    values = np.concatenate([table.values(theta), r2], axis=-1)
    std = table.standardized(theta)
    if table.products:  # latent interactions: Wen-Marsh-Hau standardised coefficients
        products = interaction_std(table, theta)
        std = np.where(np.isnan(products), std, products)
    std = np.concatenate([std, r2], axis=-1)
    summary = summarize(values, hdi_prob)
    names = list(endogenous(table))
    free = np.array([p.free >= 0 for p in table.params] + [True] * len(names))
    summary.loc[~free, ["se", "rhat", "ess_bulk", "ess_tail", "mcse_mean"]] = [
        0.0,
        np.nan,
        np.nan,
        np.nan,
        0.0,
    ]
    rows = pd.DataFrame(
        {
            "lhs": [p.lhs for p in table.params] + names,
            "op": [p.op for p in table.params] + ["r2"] * len(names),
            "rhs": [p.rhs for p in table.params] + names,
            "label": [p.label for p in table.params] + [""] * len(names),
        }
    )
    out = pd.concat([rows, summary], axis=1)
    flat_std = std.reshape(-1, std.shape[-1])
    out["std_est"] = flat_std.mean(axis=0)
    tail = (1.0 - hdi_prob) / 2.0
    out["std_ci_lower"] = np.quantile(flat_std, tail, axis=0)
    out["std_ci_upper"] = np.quantile(flat_std, 1.0 - tail, axis=0)
    out["p_direction"] = probability_of_direction(values)
    out = out[ESTIMATE_COLUMNS + POSTERIOR_COLUMNS + DRAW_COLUMNS]
    parameters = np.arange(len(out)) < len(table.params)
    conv = out.loc[free & parameters, ["rhat", "ess_bulk", "ess_tail"]].copy()
    conv.index = [p.key for p in table.params if p.free >= 0]
    return out, conv


def effects_table(
    spec: ModelSpec,
    table: ParameterTable,
    theta: np.ndarray,
    hdi_prob: float,
    computed: list[EffectDraws] | None = None,
):
    """effects.csv rows: posterior mean, SD, equal-tailed and HDI intervals, p_direction
    (indices of moderated mediation included, kind ``imm``); `computed`: the effects' draws
    when the caller has them (`effect_draws` of the same theta)."""
    if computed is None:
        computed = effect_draws(spec, table, theta)
    draws = [(d.effect.name, d.kind, d.path, d.raw, d.std) for d in computed]
    if spec.interactions:
        records = conditional_draws(spec, table, theta, ())
        draws += [(r.effect, r.kind, r.path, r.raw, r.std) for r in records]
    if not draws:
        return pd.DataFrame(columns=EFFECT_COLUMNS), pd.DataFrame(
            columns=["rhat", "ess_bulk", "ess_tail"]
        )
    raw = np.stack([d[3] for d in draws], axis=-1)
    std = np.stack([d[4] for d in draws], axis=-1)
    s_raw, s_std = summarize(raw, hdi_prob), summarize(std, hdi_prob)
    out = pd.DataFrame(
        {
            "effect": [d[0] for d in draws],
            "kind": [d[1] for d in draws],
            "level": "",
            "path": [d[2] for d in draws],
            "est": s_raw.est,
            "se": s_raw.se,
            "ci_lower": s_raw.ci_lower,
            "ci_upper": s_raw.ci_upper,
            "ci_method": "posterior-eti",
            "std_est": s_std.est,
            "std_ci_lower": s_std.ci_lower,
            "std_ci_upper": s_std.ci_upper,
            "p_direction": probability_of_direction(raw),
            "hdi_lower": s_raw.hdi_lower,
            "hdi_upper": s_raw.hdi_upper,
            "std_hdi_lower": s_std.hdi_lower,
            "std_hdi_upper": s_std.hdi_upper,
            "rhat": s_raw.rhat,
            "ess_bulk": s_raw.ess_bulk,
            "ess_tail": s_raw.ess_tail,
        }
    )
    conv = out[["rhat", "ess_bulk", "ess_tail"]].copy()
    conv.index = [f"{d[0]} ({d[1]})" for d in draws]
    return out, conv


def conditional_tables(
    spec: ModelSpec, table: ParameterTable, theta: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Simple slopes, conditional indirect effects and indices per draw (posterior means,
    equal-tailed intervals, probabilities of direction) and the Johnson-Neyman grid."""
    flat = theta.reshape(-1, theta.shape[-1])
    records = conditional_draws(spec, table, flat)
    grid = johnson_neyman(spec, table, flat)
    return {
        "conditional_effects": conditional_table(records, "posterior-eti"),
        "johnson_neyman": grid,
        "johnson_neyman_bounds": johnson_neyman_bounds(grid),
    }


def intercept_rows(
    table: ParameterTable, theta: np.ndarray, means: np.ndarray, hdi_prob: float
) -> pd.DataFrame:
    """lavaan's `~1` rows of the manifest variables from draws (chain, draw, k) of the
    parameters and (chain, draw, p) of their means (`core.meanstructure`); std.all = intercept
    / model-implied SD, draw by draw."""
    alpha = manifest_intercepts(table, theta, means)
    std = alpha / np.sqrt(np.diagonal(table.sigma(theta), axis1=-2, axis2=-1))
    rows = summarize(alpha, hdi_prob)
    fixed = alpha.reshape(-1, alpha.shape[-1]).std(axis=0) == 0  # lavaan's fixed.x means
    rows.loc[fixed, ["se", "rhat", "ess_bulk", "ess_tail"]] = [0.0, np.nan, np.nan, np.nan]
    rows.insert(0, "lhs", list(table.manifest))
    rows.insert(1, "op", "~1")
    rows.insert(2, "rhs", "")
    rows.insert(3, "label", "")
    rows["std_est"] = std.reshape(-1, std.shape[-1]).mean(axis=0)
    rows["p_direction"] = probability_of_direction(alpha)
    return rows[ESTIMATE_COLUMNS + POSTERIOR_COLUMNS + ["mcse_mean", "p_direction"]]


def defined_rows(effects: pd.DataFrame) -> pd.DataFrame:
    """`:=` rows of estimates.csv from the effects table."""
    if effects.empty:
        return pd.DataFrame()
    rows = effects.rename(columns={"path": "rhs"})
    rows["lhs"] = [defined_name(e, k) for e, k in zip(effects.effect, effects.kind, strict=True)]
    rows["op"] = ":="
    rows["label"] = rows["lhs"]
    return rows[ESTIMATE_COLUMNS + POSTERIOR_COLUMNS]


def threshold_rows(idata, odata, spec: ModelSpec) -> pd.DataFrame:
    """lavaan-style `item | tK` rows: thresholds on the standardised y* scale (lavaan's delta
    parameterisation), numbered over the categories each item used."""
    draws = idata.posterior["thresholds"].values
    summary = summarize(draws)
    rows = []
    k = 0
    for item, levels in zip(spec.manifest, odata.values, strict=True):
        for t in range(len(levels) - 1):
            rows.append(
                {
                    "lhs": item,
                    "op": "|",
                    "rhs": f"t{t + 1}",
                    "label": "",
                    **summary.iloc[k].to_dict(),
                }
            )
            k += 1
    out = pd.DataFrame(rows)
    out["std_est"] = out["est"]
    return out


def with_marker_draws(
    idata,
    table: ParameterTable,
    theta: np.ndarray,
    data: ResponseData,
    spec: ModelSpec,
    effects: list[EffectDraws] | None = None,
):
    """Add the draws on lavaan's metric and the observed data to the InferenceData; `effects`:
    the effects' draws of `theta` when the summary computed them already."""
    keys = [p.key for p in table.free_params]
    idata.posterior["estimate"] = xr.DataArray(
        theta, dims=("chain", "draw", "estimate_dim"), coords={"estimate_dim": keys}
    )
    if effects is None:
        effects = effect_draws(spec, table, theta)
    if effects:
        names = [f"{d.effect.name} ({d.kind})" for d in effects]
        idata.posterior["effect"] = xr.DataArray(
            np.stack([d.raw for d in effects], axis=-1),
            dims=("chain", "draw", "effect_dim"),
            coords={"effect_dim": names},
        )
    observed = data.frame[list(spec.manifest)].reset_index(drop=True)
    idata.add_groups(
        {
            "observed_data": xr.Dataset(
                {c: ("respondent", observed[c].to_numpy()) for c in observed}
            ),
            "constant_data": xr.Dataset(
                {
                    "item_mean": ("item", np.nanmean(observed.to_numpy(), axis=0)),
                    "item_sd": ("item", np.nanstd(observed.to_numpy(), axis=0, ddof=1)),
                },
                coords={"item": list(spec.manifest)},
            ),
        }
    )
    return idata
