"""Comparing saved runs fitted to the same data: PSIS-LOO/WAIC (Bayesian) or chi-square
difference tests with AIC/BIC (ML).

Runs must share the data file (same sha256) and the observed variables; otherwise the
comparison is refused. Bayesian runs need a likelihood marginal over the latent variables
(continuous indicators); their pointwise log-likelihoods are taken from `idata.nc` when the run
stored them (`bayes.loo: true`) and computed from the saved draws otherwise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from bayeslead.bayes.ppc import pointwise_loglik
from bayeslead.core.partable import build_partable
from bayeslead.errors import InputError
from bayeslead.pipeline import saved_spec
from bayeslead.runs import SavedRun, load_run

PARETO_K = 0.7


@dataclass
class Comparison:
    kind: str  # "loo" or "ml"
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def compare_runs(paths: list[Path | str]) -> Comparison:
    """Compare two or more saved runs (see the module docstring)."""
    if len(paths) < 2:
        raise InputError("compare needs at least two run folders")
    runs = [load_run(p) for p in paths]
    engines = {r.engine for r in runs}
    if len(engines) > 1:
        raise InputError("compare: runs mix engines (sem and bayes); compare runs of one engine")
    _same_data(runs)
    names = _names(runs)
    if engines == {"bayes"}:
        return _compare_bayes(runs, names)
    return _compare_ml(runs, names)


def _same_data(runs: list[SavedRun]) -> None:
    first = runs[0]
    for run in runs[1:]:
        if run.manifest["data_sha256"] != first.manifest["data_sha256"]:
            raise InputError(
                f"compare: {run.path} was fitted to different data ({run.manifest['data_file']}, "
                f"sha256 {run.manifest['data_sha256'][:12]}...) than {first.path} "
                f"({first.manifest['data_file']}, {first.manifest['data_sha256'][:12]}...); "
                "models can only be compared on the same data"
            )
        if _observed(run) != _observed(first):
            raise InputError(
                f"compare: {run.path} and {first.path} model different observed variables; "
                "likelihoods of different variables are not comparable"
            )


def _observed(run: SavedRun) -> set[str]:
    estimates = run.table("estimates")
    loadings = estimates[estimates.op == "=~"]
    latents = set(loadings.lhs)
    return {v for v in loadings.rhs if v not in latents}


def _names(runs: list[SavedRun]) -> list[str]:
    names = [r.manifest["name"] for r in runs]
    return [
        n if names.count(n) == 1 else f"{n}/{r.path.name}" for n, r in zip(names, runs, strict=True)
    ]


def _compare_bayes(runs: list[SavedRun], names: list[str]) -> Comparison:
    import arviz as az

    datasets, notes = {}, []
    for name, run in zip(names, runs, strict=True):
        estimator = str(run.manifest["info"].get("estimator", ""))
        if "ordinal" in estimator:
            raise InputError(
                f"compare: {run.path} has ordinal indicators; PSIS-LOO needs a likelihood "
                "marginal over the latent scores, which ordinal runs do not have"
            )
        if "two-level" in estimator or "multi-group" in estimator:
            raise InputError(
                f"compare: {run.path} is a {estimator.split(',')[0].removeprefix('Bayes (')} "
                "fit; PSIS-LOO from its saved draws is not available in this version (its "
                "likelihood is per cluster or group, not the single-level one compare computes)"
            )
        idata = run.idata()
        if "log_likelihood" not in idata.groups():
            idata.add_groups({"log_likelihood": _pointwise(run, idata)})
        datasets[name] = idata
        loo = az.loo(idata, pointwise=True)
        bad = int(np.sum(loo.pareto_k.values > PARETO_K))
        if bad:
            notes.append(
                f"{name}: {bad} respondents with Pareto k > {PARETO_K}; PSIS-LOO is unreliable for them"
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = az.compare(datasets, ic="loo")  # Pareto k: noted above
        waic = az.compare(datasets, ic="waic")
    if any("posterior variance of the log predictive" in str(w.message) for w in caught):
        notes.append(
            "WAIC is unreliable for these runs (ArviZ: for some respondents the posterior "
            "variance of the log-likelihood exceeds 0.4); rank the models by elpd_loo"
        )
    table["elpd_waic"] = waic.loc[table.index, "elpd_waic"]
    table = table.reset_index(names="model")
    return Comparison("loo", table, notes)


def _pointwise(run: SavedRun, idata) -> xr.Dataset:
    """Pointwise log-likelihood of the respondents from the saved draws (raw metric)."""
    table = build_partable(saved_spec(run))
    draws = idata.posterior["estimate"].values
    shape = draws.shape[:2]
    sigma = table.sigma(draws.reshape(-1, draws.shape[-1]))
    observed = np.column_stack([idata.observed_data[v].values for v in table.manifest])
    mu = None
    if "intercepts" in idata.posterior:
        mean = idata.constant_data["item_mean"].values
        sd = idata.constant_data["item_sd"].values
        mu = mean + sd * idata.posterior["intercepts"].values.reshape(-1, len(mean))
    loglik = pointwise_loglik(observed, sigma, mu)
    return xr.Dataset({"y": (("chain", "draw", "respondent"), loglik.reshape(*shape, -1))})


def _compare_ml(runs: list[SavedRun], names: list[str]) -> Comparison:
    rows = []
    for name, run in zip(names, runs, strict=True):
        fit = run.json("fit")
        rows.append(
            {
                "model": name,
                **{
                    k: fit.get(k, np.nan)
                    for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "aic", "bic")
                },
            }
        )
    table = pd.DataFrame(rows).sort_values("df", ascending=False).reset_index(drop=True)
    table["delta_chisq"] = table["chisq"].diff(-1)
    table["delta_df"] = table["df"].diff(-1)
    valid = table["delta_df"] > 0
    table["pvalue_difference"] = np.where(
        valid,
        stats.chi2.sf(table["delta_chisq"].clip(lower=0), table["delta_df"].where(valid, 1)),
        np.nan,
    )
    table["compared_with"] = table["model"].shift(-1)
    table["delta_aic"] = table["aic"] - table["aic"].min()
    table["delta_bic"] = table["bic"] - table["bic"].min()
    notes = [
        "chi-square difference tests compare each model with the next less restricted one "
        "(fewer df); they are valid only when the models are nested. AIC/BIC compare any models "
        "fitted to the same data (smaller is better)."
    ]
    return Comparison("ml", table, notes)
