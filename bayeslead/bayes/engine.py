"""The Bayesian engine: ModelSpec + responses -> PyMC model -> posterior -> FitResult.

Sampling happens on standardised latents (std.lv, first loadings positive) and z-scored items
(continuous) or the theta-parameterised latent responses (ordinal); every draw is then expressed
on lavaan's default metric (first loading of each construct 1; raw item units for continuous
items, the delta-parameterised y* scale for ordinal items) for `estimates.csv`, and in lavaan's
std.all for `std_est`, so results compare directly with lavaan/blavaan.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import xarray as xr

from bayeslead.bayes.data import continuous_data, ordinal_data
from bayeslead.bayes.model import build_continuous_model, build_ordinal_model
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.ppc import (
    chisq_ppp,
    continuous_item_checks,
    ordinal_category_checks,
    pointwise_loglik,
)
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.sampling import sample
from bayeslead.bayes.start import continuous_start, ordinal_start
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.effects import defined_name, effect_draws
from bayeslead.core.partable import ParameterTable, build_partable, marker_scales, rescale
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.diagnostics import check_gates, gate_messages
from bayeslead.errors import InputError, Problem
from bayeslead.psychometrics import htmt_table, reliability_table
from bayeslead.results import EFFECT_COLUMNS, ESTIMATE_COLUMNS, FitResult

# posterior columns of estimates.csv after lavaan's (`ESTIMATE_COLUMNS`)
POSTERIOR_COLUMNS = ["hdi_lower", "hdi_upper", "rhat", "ess_bulk", "ess_tail"]


def fit_bayes(
    spec: ModelSpec,
    data: ResponseData,
    settings: BayesConfig,
    gates: DiagnosticsConfig,
    progress: bool = True,
) -> FitResult:
    """Sample the posterior of `spec` and summarise it on lavaan's metric."""
    if spec.cluster:
        from bayeslead.bayes.multilevel import fit_twolevel

        return fit_twolevel(spec, data, settings, gates, progress=progress)
    if spec.group:
        from bayeslead.bayes.multigroup import fit_multigroup

        return fit_multigroup(spec, data, settings, gates, progress=progress)
    started = time.perf_counter()
    ordinal = settings.indicators == "ordinal"
    _check_supported(spec, ordinal)
    std_table = build_partable(spec, "std.lv", unit_residuals=ordinal)
    marker_table = build_partable(spec)
    priors = prior_set(settings.priors, {p.key for p in std_table.free_params})
    x = data.frame[list(spec.manifest)].to_numpy(dtype=float)
    info: dict[str, object] = {
        "estimator": f"Bayes ({settings.indicators} indicators"
        + (f", ordered {settings.link}" if ordinal else ", marginal normal likelihood")
        + ")",
        "n": int(len(x)),
        "identification": "standardised latents, first loading of each construct positive; "
        "reported on lavaan's marker metric",
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "priors": {name: str(prior) for name, prior in priors.classes.items()}
        | {key: str(prior) for key, prior in priors.parameters.items()},
    }
    if ordinal:
        odata = ordinal_data(x)
        model = build_ordinal_model(spec, std_table, odata, priors, settings.link)
        initial = ordinal_start(spec, std_table, priors, x, odata)
        info["missing"] = "responses missing at random are left out of the likelihood"
    else:
        cdata = continuous_data(x)
        model = build_continuous_model(spec, std_table, cdata, priors)
        initial = continuous_start(spec, std_table, priors, cdata)
        info["missing"] = (
            "none (complete data)"
            if cdata.complete
            else "exact likelihood per missing-data pattern"
        )
    built = time.perf_counter()
    result = sample(model, initial, settings, var_names=_stored(model), progress=progress)
    info["sampler"] = result.sampler
    theta_std = result.idata.posterior["theta"].values
    manifest_scale = 1.0 / np.sqrt(_ystar_variances(std_table, theta_std)) if ordinal else cdata.sd
    theta, estimates, effects, convergence = marker_posterior(
        spec, std_table, marker_table, theta_std, manifest_scale, settings.hdi_prob
    )
    estimates = pd.concat([estimates, _defined_rows(effects)], ignore_index=True)
    diagnostics = check_gates(convergence, result.idata.sample_stats, gates)
    problems = [Problem("diagnostics", m) for m in gate_messages(diagnostics)]
    idata = _with_marker_draws(result.idata, marker_table, theta, data, spec)
    rng = np.random.default_rng(settings.seed)
    subset = _subset(theta_std, rng)
    tables: dict[str, pd.DataFrame] = {}
    fit: dict[str, float] = {}
    if not ordinal:
        fit, extra = _predictive_checks(std_table, theta_std, cdata, settings, idata)
        problems += extra
        flat = theta.reshape(-1, theta.shape[-1])[subset]
        mu = np.broadcast_to(cdata.mean, (len(subset), len(cdata.mean)))
        if not cdata.complete:
            mu = (
                cdata.mean
                + cdata.sd
                * idata.posterior["intercepts"].values.reshape(-1, len(cdata.mean))[subset]
            )
        tables["ppc_items"], tables["ppc_pairs"] = continuous_item_checks(
            marker_table.sigma(flat), mu, x, list(spec.manifest), rng
        )
        fit["ppc_pairs_outside_share"] = float(tables["ppc_pairs"].outside.mean())
    else:
        tables["ppc_categories"] = _ordinal_checks(
            std_table, theta_std, subset, result.idata, odata, spec, rng
        )
        fit["ppc_categories_outside_share"] = float(tables["ppc_categories"].outside.mean())
        estimates = pd.concat(
            [estimates, _threshold_rows(result.idata, odata, spec)], ignore_index=True
        )
    if settings.loo and ordinal:
        problems.append(
            Problem(
                "bayes.loo",
                "PSIS-LOO is not computed for ordinal indicators: their likelihood is conditional "
                "on the latent scores",
                "warning",
            )
        )
    reliability = None
    if not ordinal:
        reliability = reliability_table(
            marker_table, theta.reshape(-1, theta.shape[-1]).mean(axis=0), data.frame, spec
        )
    return FitResult(
        engine="bayes",
        estimates=estimates,
        effects=effects,
        fit=fit,
        info=info,
        reliability=reliability,
        htmt=htmt_table(data.frame[list(spec.items)].dropna(), spec),
        extra_tables=tables,
        diagnostics=diagnostics,
        idata=idata,
        problems=problems,
        timings=result.timings(built - started),
        theta=theta.reshape(-1, theta.shape[-1]).mean(axis=0),
        draws=theta.reshape(-1, theta.shape[-1]),
        draws_kind="posterior",
    )


def _check_supported(spec: ModelSpec, ordinal: bool) -> None:
    if ordinal and spec.observed:
        raise InputError(
            "bayes.indicators: ordinal models cannot include observed structural variables "
            f"({', '.join(spec.observed)}); use continuous indicators or model them as constructs"
        )
    items = set(spec.items)
    if ordinal and any(a in items for a, _ in spec.covariances):
        raise InputError(
            "bayes.indicators: ordinal models do not support residual covariances between items; "
            "remove them from covariances: or use continuous indicators"
        )


def _stored(model) -> list[str]:
    """Variables kept in the trace: the sampled ones, theta and thresholds (not the
    per-respondent scores)."""
    names = [v.name for v in model.free_RVs if v.name != "scores"]
    return names + [n for n in ("theta", "thresholds") if n in model.named_vars]


PPC_DRAWS = 300  # posterior draws used for the item-level predictive checks


def _subset(theta_std: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    total = theta_std.shape[0] * theta_std.shape[1]
    return np.sort(rng.choice(total, size=min(PPC_DRAWS, total), replace=False))


def _ordinal_checks(table, theta_std, subset, idata, odata, spec, rng) -> pd.DataFrame:
    """Category-share checks: correlations and effective loadings of the first-order
    constructs from each draw, thresholds from the trace."""
    flat = theta_std.reshape(-1, theta_std.shape[-1])[subset]
    p = table.n_manifest
    factor = np.array(
        [next(q.col for q in table.params if q.kind == "loading" and q.row == j) for j in range(p)]
    )
    first = np.array(sorted(set(factor)))
    phi = table.implied(flat)[:, first][:, :, first]
    sd = np.sqrt(np.diagonal(phi, axis1=1, axis2=2))
    corr = phi / (sd[:, :, None] * sd[:, None, :])
    column = np.searchsorted(first, factor)
    a, _ = table.matrices(flat)
    weights = a[:, np.arange(p), factor] * sd[:, column]
    cuts = idata.posterior["thresholds"].values.reshape(-1, int(np.sum(odata.n_categories - 1)))[
        subset
    ]
    bounds = np.cumsum(np.concatenate([[0], odata.n_categories - 1]))
    thresholds = [cuts[:, bounds[j] : bounds[j + 1]] for j in range(p)]
    return ordinal_category_checks(
        corr, weights, thresholds, column, odata, list(spec.manifest), rng
    )


def _threshold_rows(idata, odata, spec: ModelSpec) -> pd.DataFrame:
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


def _predictive_checks(table, theta_std, cdata, settings, idata):
    """Chi-square PPP (complete data) and, on request, pointwise log-likelihoods with PSIS-LOO
    and WAIC. Returns fit measures and problems worth reporting."""
    import arviz as az

    problems = []
    fit: dict[str, float] = {}
    flat = theta_std.reshape(-1, theta_std.shape[-1])
    sigma = table.sigma(flat)
    rng = np.random.default_rng(settings.seed)
    if cdata.complete:
        fit |= chisq_ppp(sigma, cdata.scatter, cdata.n, rng)
    if settings.loo:
        mu = None
        if not cdata.complete:
            mu = idata.posterior["intercepts"].values.reshape(len(flat), -1)
        loglik = pointwise_loglik(cdata.z, sigma, mu)
        loglik -= np.nansum(np.where(np.isnan(cdata.z), 0.0, np.log(cdata.sd)), axis=1)[None, :]
        shape = theta_std.shape[:2]
        idata.add_groups(
            {
                "log_likelihood": xr.Dataset(
                    {"y": (("chain", "draw", "respondent"), loglik.reshape(*shape, -1))}
                )
            }
        )
        loo = az.loo(idata, pointwise=True)
        waic = az.waic(idata)
        bad = int(np.sum(loo.pareto_k.values > 0.7))
        fit |= {
            "elpd_loo": float(loo.elpd_loo),
            "se_elpd_loo": float(loo.se),
            "p_loo": float(loo.p_loo),
            "waic": float(-2 * waic.elpd_waic),
            "pareto_k_over_0.7": bad,
        }
        if bad:
            problems.append(
                Problem(
                    "loo",
                    f"{bad} respondents have Pareto k > 0.7: PSIS-LOO is unreliable for them",
                    "warning",
                )
            )
    return fit, problems


def _ystar_variances(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Total variances of the items' latent responses (theta parameterisation)."""
    return np.diagonal(table.implied(theta), axis1=-2, axis2=-1)[..., : table.n_manifest]


def marker_posterior(
    spec: ModelSpec,
    std_table: ParameterTable,
    marker_table: ParameterTable,
    theta_std: np.ndarray,
    manifest_scale: np.ndarray,
    hdi_prob: float,
):
    """Draws (chain, draw, k) of the sampled std.lv parameters moved to lavaan's marker metric,
    with the estimates and effects tables and the convergence rows of both."""
    scales = marker_scales(std_table, theta_std, manifest_scale)
    theta = rescale(std_table, marker_table, theta_std, scales)
    estimates, conv_rows = estimates_table(marker_table, theta, hdi_prob)
    effects, effect_conv = effects_table(spec, marker_table, theta, hdi_prob)
    return theta, estimates, effects, pd.concat([conv_rows, effect_conv])


def estimates_table(table: ParameterTable, theta: np.ndarray, hdi_prob: float):
    """One row per parameter on lavaan's metric, posterior summaries and std.all means."""
    values = table.values(theta)
    std = table.standardized(theta)
    summary = summarize(values, hdi_prob)
    free = np.array([p.free >= 0 for p in table.params])
    summary.loc[~free, ["se", "rhat", "ess_bulk", "ess_tail", "mcse_mean"]] = [
        0.0,
        np.nan,
        np.nan,
        np.nan,
        0.0,
    ]
    rows = pd.DataFrame(
        {
            "lhs": [p.lhs for p in table.params],
            "op": [p.op for p in table.params],
            "rhs": [p.rhs for p in table.params],
            "label": [p.label for p in table.params],
        }
    )
    out = pd.concat([rows, summary], axis=1)
    out["std_est"] = std.reshape(-1, std.shape[-1]).mean(axis=0)
    out = out[ESTIMATE_COLUMNS + POSTERIOR_COLUMNS + ["mcse_mean"]]
    conv = out.loc[free, ["rhat", "ess_bulk", "ess_tail"]].copy()
    conv.index = [p.key for p in table.params if p.free >= 0]
    return out, conv


def effects_table(spec: ModelSpec, table: ParameterTable, theta: np.ndarray, hdi_prob: float):
    """effects.csv rows: posterior mean, SD, equal-tailed and HDI intervals, p_direction."""
    draws = effect_draws(spec, table, theta)
    if not draws:
        return pd.DataFrame(columns=EFFECT_COLUMNS), pd.DataFrame(
            columns=["rhat", "ess_bulk", "ess_tail"]
        )
    raw = np.stack([d.raw for d in draws], axis=-1)
    std = np.stack([d.std for d in draws], axis=-1)
    s_raw, s_std = summarize(raw, hdi_prob), summarize(std, hdi_prob)
    out = pd.DataFrame(
        {
            "effect": [d.effect.name for d in draws],
            "kind": [d.kind for d in draws],
            "level": "",
            "path": [d.path for d in draws],
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
    conv.index = [f"{d.effect.name} ({d.kind})" for d in draws]
    return out, conv


def _defined_rows(effects: pd.DataFrame) -> pd.DataFrame:
    """`:=` rows of estimates.csv from the effects table."""
    if effects.empty:
        return pd.DataFrame()
    rows = effects.rename(columns={"path": "rhs"})
    rows["lhs"] = [defined_name(e, k) for e, k in zip(effects.effect, effects.kind, strict=True)]
    rows["op"] = ":="
    rows["label"] = rows["lhs"]
    return rows[ESTIMATE_COLUMNS + POSTERIOR_COLUMNS]


def _with_marker_draws(
    idata, table: ParameterTable, theta: np.ndarray, data: ResponseData, spec: ModelSpec
):
    """Add the draws on lavaan's metric and the observed data to the InferenceData."""
    keys = [p.key for p in table.free_params]
    idata.posterior["estimate"] = xr.DataArray(
        theta, dims=("chain", "draw", "estimate_dim"), coords={"estimate_dim": keys}
    )
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
