"""What the Bayesian multi-group model holds equal across groups (`bayes.invariance`).

* ``full`` (default): loadings and item intercepts exactly equal (with the item residual
  variances: lavaan's ``group.equal = c("loadings", "intercepts", "residuals")``); with ordinal
  items, loadings and thresholds (``"x3 | t1"``) in their place (`ordinal.py`);
* ``partial``: the loadings and intercepts named in `group_partial` (``"F =~ x3"``,
  ``"x3 ~ 1"``) differ by group, with deviations from the groups' common value under the
  wide `group_free` prior (normal(0, 1) on the standardised scale); the rest exactly equal;
* ``approximate`` (Muthén & Asparouhov 2013): every loading and item intercept deviates by group
  from the common value under the small-variance `group_deviation` prior (normal(0, 0.1):
  variance 0.01 on the standardised scale of the sampled model, items z-scored on the pooled
  sample, latents standardised), `group_partial`'s parameters under `group_free`.

Deviations are zero-sum over the groups (a ZeroSumNormal whose SD is the prior's), so the common
value is the groups' average. A deviation whose 95% interval excludes 0 is flagged: the Bayesian
counterpart of a failed invariance test for that parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.posterior import summarize
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.groups import compact_key
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError

DEVIATION_COLUMNS = ["parameter", "kind", "group", "est", "se", "ci_lower", "ci_upper"]


@dataclass(frozen=True)
class Deviations:
    """The loadings and item intercepts that deviate across groups, with their prior SDs."""

    loading_keys: list[str]
    loading_index: np.ndarray  # free index (std.lv table) of each deviating loading
    loading_cells: list[tuple[int, int]]  # (row, col) in A
    loading_sd: np.ndarray
    item_keys: list[str]
    item_index: np.ndarray  # manifest position of each deviating intercept
    item_sd: np.ndarray
    threshold_keys: list[str] = field(default_factory=list)  # "x3 | t1" (ordinal items)
    threshold_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    threshold_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def any(self) -> bool:
        return bool(self.loading_keys or self.item_keys or self.threshold_keys)


def deviation_plan(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    invariance: str,
    thresholds: list[str] | None = None,
) -> Deviations:
    """Which parameters deviate under `invariance` (see the module docstring); `thresholds`:
    the keys of the ordinal items' cut points (``"x3 | t1"``, in the model's order), which then
    take the place of the item intercepts."""
    freed = {compact_key(k) for k in spec.group_partial}
    small = _normal_sd(priors, "group_deviation")
    wide = _normal_sd(priors, "group_free")
    loadings = [p for p in table.free_params if p.kind == "loading"]
    load_keys = {compact_key(p.key): p for p in loadings}
    item_keys = {compact_key(f"{item} ~ 1"): k for k, item in enumerate(table.manifest)}
    cut_keys = {compact_key(key): k for k, key in enumerate(thresholds or [])}
    if thresholds is not None:
        item_keys = {}
    unknown = sorted(freed - set(load_keys) - set(item_keys) - set(cut_keys))
    if unknown and invariance != "full":
        named = (
            "thresholds 'x | t1' (ordinal items have no free intercepts)"
            if thresholds is not None
            else "intercepts 'x ~ 1'"
        )
        raise InputError(
            f"Config: group_partial: {', '.join(unknown)} names no loading or item "
            f"{'threshold' if thresholds is not None else 'intercept'} (the Bayesian "
            f"multi-group model frees loadings 'F =~ x' and {named})"
        )

    def chosen(key: str) -> float | None:
        if key in freed and invariance != "full":
            return wide
        return small if invariance == "approximate" else None

    keep_l = [(p, chosen(k)) for k, p in load_keys.items() if chosen(k) is not None]
    keep_i = [(k, chosen(key)) for key, k in item_keys.items() if chosen(key) is not None]
    keep_t = [(k, chosen(key)) for key, k in cut_keys.items() if chosen(key) is not None]
    return Deviations(
        loading_keys=[p.key for p, _ in keep_l],
        loading_index=np.array([p.free for p, _ in keep_l], dtype=int),
        loading_cells=[(p.row, p.col) for p, _ in keep_l],
        loading_sd=np.array([sd for _, sd in keep_l]),
        item_keys=[f"{table.manifest[k]} ~ 1" for k, _ in keep_i],
        item_index=np.array([k for k, _ in keep_i], dtype=int),
        item_sd=np.array([sd for _, sd in keep_i]),
        threshold_keys=[thresholds[k] for k, _ in keep_t],
        threshold_index=np.array([k for k, _ in keep_t], dtype=int),
        threshold_sd=np.array([sd for _, sd in keep_t]),
    )


def _normal_sd(priors: PriorSet, name: str) -> float:
    prior = priors.classes[name]
    if prior.family != "normal" or prior.args[0] != 0:
        raise InputError(
            f"Config: bayes.priors.{name}: must be normal(0, sd) (deviations sum to zero over "
            f"the groups); got {prior}"
        )
    return float(prior.args[1])


def deviation_variables(plan: Deviations, v: int, p: int):
    """The model's deviation variables as per-group increments: A (group, v, v) and item
    intercepts (group, p) tensors, or None where nothing deviates. Call inside the model with
    coords `deviating_loading`, `deviating_item` and `group`."""
    a_dev = nu_dev = None
    if plan.loading_keys:
        dev = loading_deviation(plan)
        basis = np.zeros((len(plan.loading_keys), v, v))
        for k, (row, col) in enumerate(plan.loading_cells):
            basis[k, row, col] = 1.0
        a_dev = pt.tensordot(dev.T, basis, axes=1)
    if plan.item_keys:
        sigma = prior_sd("intercept_deviation_sd", plan.item_sd, "deviating_item")
        dev = pm.ZeroSumNormal("intercept_deviation", sigma=sigma, dims=("deviating_item", "group"))
        scatter = np.zeros((len(plan.item_keys), p))
        scatter[np.arange(len(plan.item_keys)), plan.item_index] = 1.0
        nu_dev = pt.dot(dev.T, scatter)
    return a_dev, nu_dev


def prior_sd(name: str, sd: np.ndarray, dim: str):
    """The deviations' prior SDs as model data (k, 1): a refit that frees other parameters
    (their SD `group_free` instead of `group_deviation`) has the same graph, so its compiled
    log-density comes from the compile cache (`bayes/nutpie_cache.py`)."""
    return pm.Data(name, np.asarray(sd, dtype=float), dims=dim)[:, None]


def loading_deviation(plan: Deviations):
    """The zero-sum deviations (deviating loading, group) of the loadings."""
    sigma = prior_sd("loading_deviation_sd", plan.loading_sd, "deviating_loading")
    return pm.ZeroSumNormal("loading_deviation", sigma=sigma, dims=("deviating_loading", "group"))


def threshold_deviation(plan: Deviations, n_cuts: int):
    """The thresholds' per-group increments (group, n_cuts) from their zero-sum deviations
    (deviating threshold, group), or None when no threshold deviates. Call inside the model
    with coords `deviating_threshold` and `group`."""
    if not plan.threshold_keys:
        return None
    sigma = prior_sd("threshold_deviation_sd", plan.threshold_sd, "deviating_threshold")
    dev = pm.ZeroSumNormal(
        "threshold_deviation", sigma=sigma, dims=("deviating_threshold", "group")
    )
    scatter = np.zeros((len(plan.threshold_keys), n_cuts))
    scatter[np.arange(len(plan.threshold_keys)), plan.threshold_index] = 1.0
    return pt.dot(dev.T, scatter)


def coords(plan: Deviations) -> dict[str, list[str]]:
    return {
        "deviating_loading": plan.loading_keys,
        "deviating_item": plan.item_keys,
        "deviating_threshold": plan.threshold_keys,
    }


def group_theta_std(plan: Deviations, post, g: int) -> np.ndarray:
    """Group g's sampled (std.lv) parameters: the common values plus its loading deviations."""
    theta = post["theta"].values.copy()
    if plan.loading_keys:
        theta[..., plan.loading_index] += post["loading_deviation"].values[..., g]
    return theta


def intercept_deviation(plan: Deviations, post, g: int, p: int) -> np.ndarray:
    """Group g's item-intercept deviations on the standardised scale, draws (chain, draw, p)."""
    out = np.zeros((*post["theta"].shape[:2], p))
    if plan.item_keys:
        out[..., plan.item_index] = post["intercept_deviation"].values[..., g]
    return out


def deviation_table(plan: Deviations, post, labels: list[str], hdi_prob: float):
    """invariance_deviations.csv: each deviating parameter's deviation per group (standardised
    scale), its prior SD and `flagged` (95% interval excludes 0); and its convergence rows."""
    frames, convs = [], []
    for name, keys, kind, sd in (
        ("loading_deviation", plan.loading_keys, "loading", plan.loading_sd),
        ("intercept_deviation", plan.item_keys, "intercept", plan.item_sd),
        ("threshold_deviation", plan.threshold_keys, "threshold", plan.threshold_sd),
    ):
        if not keys:
            continue
        draws = post[name].values  # (chain, draw, k, group)
        for g, label in enumerate(labels):
            summary = summarize(draws[..., g], hdi_prob)
            summary.insert(0, "group", label)
            summary.insert(0, "kind", kind)
            summary.insert(0, "parameter", keys)
            summary["prior_sd"] = sd
            summary["flagged"] = (summary.ci_lower > 0) | (summary.ci_upper < 0)
            frames.append(summary)
            conv = summary[["rhat", "ess_bulk", "ess_tail"]].copy()
            conv.index = [f"{k} deviation [{label}]" for k in keys]
            convs.append(conv)
    if not frames:
        return pd.DataFrame(columns=DEVIATION_COLUMNS), pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    extra = [c for c in table.columns if c not in DEVIATION_COLUMNS]
    return table[DEVIATION_COLUMNS + extra], pd.concat(convs)
