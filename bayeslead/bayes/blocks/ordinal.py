"""Ordinal items: which specs the ordered-response likelihood supports, per-item thresholds
(one sampled cut + positive gaps, in units of the item's y* SD) and the ordered probit/logit
log-likelihood given standardised latent scores (the `IntervalLogProb` kernel)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.containers import response_containers
from bayeslead.bayes.blocks.parameters import prior_distribution, rv
from bayeslead.bayes.blocks.ram import diagonal
from bayeslead.bayes.blocks.scores import first_order_constructs, loading_column
from bayeslead.bayes.data import OrdinalData
from bayeslead.bayes.kernels.ops import interval_log_prob
from bayeslead.bayes.priors import PriorSet
from bayeslead.config import BayesConfig
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError

BIG = 1e3  # stands in for +-infinity as the outer thresholds of the probit scale


def check_ordinal_support(spec: ModelSpec) -> None:
    """Refuse what ordinal models cannot include: observed structural variables and residual
    covariances between items."""
    if spec.observed:
        raise InputError(
            "bayes.indicators: ordinal models cannot include observed structural variables "
            f"({', '.join(spec.observed)}); use continuous indicators or model them as constructs"
        )
    items = set(spec.items)
    if any(a in items for a, _ in spec.covariances):
        raise InputError(
            "bayes.indicators: ordinal models do not support residual covariances between items; "
            "remove them from covariances: or use continuous indicators"
        )


def refuse_limited_information(settings: BayesConfig, family: str) -> None:
    """`bayes.ordinal: polychoric` is a single-level route: refuse it for other families'
    ordinal models."""
    if settings.indicators == "ordinal" and settings.ordinal == "polychoric":
        raise InputError(
            f"bayes.ordinal: polychoric (limited information) supports single-level models only; "
            f"{family} models are fitted with full information: set bayes.ordinal to auto or full"
        )


def ordinal_loglik(
    table: ParameterTable,
    theta,
    data: OrdinalData,
    priors: PriorSet,
    phi,
    scores,
    link: str = "probit",
    relative: bool = False,
    anchored: bool = False,
):
    """Ordered-response log-likelihood of `data` given the standardised scores (N, m) of the
    first-order constructs (`first_order_constructs` order) whose variances are the diagonal of
    `phi`; samples the thresholds (see `_threshold_bounds`).

    With `relative`, the thresholds are sampled relative to each item's latent response at the
    sample mean of the scores: a common shift of the scores then leaves the likelihood unchanged,
    so their location and the thresholds mix independently (an exact reparameterisation).
    `anchored` samples each item's middle cut instead of its first (`threshold_cuts`).
    """
    index, column = item_loadings(table)
    loadings = theta[index]
    shift = None
    if relative:
        mean = pt.mean(scores, axis=0)
        w = loadings * pt.sqrt(diagonal(phi, len(first_order_constructs(table))))[column]
        shift = w * mean[column] / pt.sqrt(1.0 + w**2)
        scores = scores - mean
    lower, upper = _threshold_bounds(data, priors, shift, anchored)
    return interval_log_prob(lower, upper, loadings, phi, scores, column, link)


def item_loadings(table: ParameterTable) -> tuple[np.ndarray, np.ndarray]:
    """Each item's loading as its position in theta, and its construct's score column (the
    position in `first_order_constructs`)."""
    p = table.n_manifest
    factor = np.array([loading_column(table, j) for j in range(p)])
    column = np.searchsorted(first_order_constructs(table), factor)
    return np.array([_loading_index(table, j) for j in range(p)]), column


def _loading_index(table: ParameterTable, item: int) -> int:
    """Position in theta of an item's (free) loading."""
    for p in table.params:
        if p.kind == "loading" and p.row == item:
            return p.free
    raise ValueError(f"item {table.variables[item]} has no loading")


def _threshold_bounds(data: OrdinalData, priors: PriorSet, shift=None, anchored: bool = False):
    """Lower and upper standardised thresholds of every observed response.

    Thresholds are sampled in units of the item's y* SD (`threshold_cuts`) and rescaled in the
    likelihood, which decouples them from the loadings. With `shift` (p,), the cuts are sampled
    relative to it (the bounds are then relative too); the prior and the stored `thresholds`
    are those of the cuts themselves.
    """
    cuts = threshold_cuts(data, priors, shift, anchored)
    pm.Deterministic("thresholds", cuts if shift is None else cuts + shift[cut_items(data)])
    return response_bounds(cuts, data)


def cut_items(data: OrdinalData) -> np.ndarray:
    """The item of every cut point, in the order of the `thresholds` vector."""
    cuts_per_item = data.n_categories - 1
    return np.repeat(np.arange(len(cuts_per_item)), cuts_per_item)


def sampled_cuts(data: OrdinalData, anchored: bool) -> tuple[str, np.ndarray]:
    """The variable that samples one cut of every item (`threshold_cuts`) and that cut's
    position within each item: `threshold_anchor`, the middle cut (the upper one of the two
    middle cuts for an even number of cuts), when `anchored`; else `threshold_first`, the
    first cut."""
    if anchored:
        return "threshold_anchor", (data.n_categories - 1) // 2
    return "threshold_first", np.zeros(len(data.n_categories), dtype=int)


def threshold_cuts(data: OrdinalData, priors: PriorSet, shift=None, anchored: bool = False):
    """Every item's cut points, sampled as one cut per item (`sampled_cuts`) and the positive
    gaps between consecutive cuts outward from it, all cuts from one matrix product of
    constants with the gaps.

    The prior is that of the first cut (`thresholds`) and of every gap (`threshold_gaps`).
    Without `anchored`, the first cut is sampled with its prior. With it (two-level models),
    the middle cut is sampled flat and the first cut's prior, at the first cut plus `shift`
    when the cuts are relative to one, is the Potential `threshold_prior`: from (first cut,
    gaps) the map is a shift (Jacobian 1), so the posterior is the same. Sampled as the first
    cut, a cut next to a rarely used bottom category moved against the log of the first gap
    along a ridge (correlation -0.9 on the firm study, its slowest parameters); a middle cut
    is pinned by the data, and the outer cuts' uncertainty is then their own gaps'. (On a
    single-level Likert interaction model the anchor mixed no better, so it is two-level only.)
    """
    if shift is not None and not anchored:
        raise ValueError("cuts relative to a shift are sampled anchored (anchored=True)")
    cuts_per_item = data.n_categories - 1
    n_cuts = int(cuts_per_item.sum())
    item_of_cut = cut_items(data)
    start_of_item = np.concatenate([[0], np.cumsum(cuts_per_item)[:-1]])
    name, sampled = sampled_cuts(data, anchored)
    anchor_of_item = start_of_item + sampled
    gap_rows = [c for c in range(n_cuts) if c != start_of_item[item_of_cut[c]]]
    cumulative = np.zeros((n_cuts, len(gap_rows)))  # cut - its item's sampled cut, from the gaps
    for g, row in enumerate(gap_rows):  # gap g: from cut row - 1 to cut row
        item = item_of_cut[row]
        anchor, end = anchor_of_item[item], start_of_item[item] + cuts_per_item[item]
        if row > anchor:
            cumulative[row:end, g] = 1.0
        else:
            cumulative[start_of_item[item] : row, g] = -1.0
    if anchored:
        cuts = pm.Flat(name, dims="item")[item_of_cut]
    else:
        cuts = rv(name, priors.classes["thresholds"], dims="item")[item_of_cut]
    if gap_rows:
        gaps = rv("threshold_gaps", priors.classes["threshold_gaps"], shape=len(gap_rows))
        cuts = cuts + pt.dot(cumulative, gaps)
    if anchored:
        first = cuts[start_of_item] if shift is None else cuts[start_of_item] + shift
        kind, args = prior_distribution(priors.classes["thresholds"])
        pm.Potential("threshold_prior", pt.sum(pm.logp(kind.dist(**args), first)))
    return cuts


def response_bounds(cuts, data: OrdinalData):
    """Lower and upper cut of every response (n, p), gathered from `cuts` (a vector in the
    order of `cut_items`); missing responses get (-BIG, BIG), so they contribute log(1) = 0.
    The positions are data containers ("response_lower", "response_upper"), so the compiled
    model depends on the number of respondents and the categories per item only."""
    lower, upper = response_containers(*response_positions(data))
    extended = pt.concatenate([cuts, pt.as_tensor([-BIG, BIG])])
    return extended[lower.ravel()].reshape(lower.shape), extended[upper.ravel()].reshape(
        upper.shape
    )


def response_positions(data: OrdinalData) -> tuple[np.ndarray, np.ndarray]:
    """Positions (n, p) of every response's lower and upper cut in the cuts vector (the order
    of `cut_items`) extended by -BIG and BIG: positions n_cuts and n_cuts + 1 stand for the
    outer categories' open ends and for missing responses."""
    cuts_per_item = data.n_categories - 1
    n_cuts = int(cuts_per_item.sum())
    start_of_item = np.concatenate([[0], np.cumsum(cuts_per_item)[:-1]])
    shape = (data.n, len(cuts_per_item))
    lower = np.full(shape, n_cuts)
    upper = np.full(shape, n_cuts + 1)
    position = start_of_item[data.item] + data.category
    top = data.category == cuts_per_item[data.item]
    upper[data.respondent, data.item] = np.where(top, n_cuts + 1, position)
    lower[data.respondent, data.item] = np.where(data.category == 0, n_cuts, position - 1)
    return lower, upper
