"""Simulating Likert survey responses from a ModelSpec and standardised true values.

Every latent variable and every item's latent response y* has variance 1: exogenous constructs
are standard normal (correlated as `truth.correlations` says), each endogenous construct gets the
residual variance that makes its total variance 1, items are ``y* = lambda * eta + e`` with
``Var(e) = 1 - lambda^2``, and y* is cut at the thresholds into categories. With a cluster
column, each construct is a between-cluster part (variance `icc`) plus a within part
(variance 1 - icc) following the same standardised paths, and `random_slope_sd` lets chosen
within-cluster paths vary across clusters around the path's value (the between paths, among the
clusters' latent means as in lavaan's two-level models, have no random part and take
`between_paths` where it gives a value; the slope variance
adds to the outcome's within variance, so its latent ICC is slightly below `icc`). Items vary
between clusters only through their constructs: no between-level item residual, as the ordinal
two-level model assumes (the continuous one estimates it). With a level-3 column, clusters are
nested in level-3 units (`level3_size` clusters each) whose intercepts of the first-order
constructs take `level3_icc` of the between-cluster share. With `truth.method`, one method factor
loads on every item's y* (common-method variance; a marker scale's items included);
`truth.method_share` sets, for chosen constructs (a marker), the method factor's share of their
items' common variance instead (1: the items measure the method only). A latent
interaction `"BI ~ RECO:ENV": 0.15` multiplies the product of the standardised components (Wen,
Marsh & Hau 2010); the product's variance ``Var(l) Var(r) + Cov(l, r)^2`` counts in its outcome's
explained variance, and the constructs are drawn one equation at a time in causal order.
Reverse-keyed items are written reverse-coded, as respondents would answer them. The same seed
gives the same file, byte for byte.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.config import TruthConfig
from bayeslead.core.partable import ParameterTable, build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError, Problem
from bayeslead.simulate_level3 import DEFAULT_LEVEL3_SIZE, level3_intercepts, level3_share

DEFAULT_CLUSTER_SIZE = 8


@dataclass(frozen=True)
class ItemScale:
    """Response range of an item and whether it is reverse-keyed."""

    low: int
    high: int
    reverse: bool = False

    @property
    def points(self) -> int:
        return self.high - self.low + 1


def default_thresholds(points: int) -> np.ndarray:
    """Bell-shaped, slightly agreeable category use: normal quantiles of a Binomial(K-1, 0.55)."""
    cumulative = stats.binom.cdf(np.arange(points - 1), points - 1, 0.55)
    return stats.norm.ppf(cumulative)


def standardized_matrices(
    spec: ModelSpec, truth: TruthConfig, table: ParameterTable | None = None
) -> tuple[ParameterTable, np.ndarray, np.ndarray]:
    """RAM matrices A (standardised loadings and paths) and S (residual variances) of the truth.

    Raises `InputError` naming the key when a path has no true value, a value is unknown to the
    model, or the paths explain more than all of a construct's variance.
    """
    table = table or build_partable(spec)
    pos = {name: i for i, name in enumerate(table.variables)}
    problems: list[Problem] = []
    loadings = truth.loadings
    indicators = {i for f in spec.factors for i in f.indicators}
    if isinstance(loadings, dict):
        for key in loadings:
            if key not in indicators:
                problems.append(Problem(f"truth.loadings.{key}", "not an indicator of the model"))
    paths = {_normalise(k): v for k, v in truth.paths.items()}
    model_paths = {r.key for r in spec.regressions} | {q.key for q in spec.interactions}
    for key in paths:
        if key not in model_paths:
            problems.append(Problem(f"truth.paths.{key}", "not a path of the model"))
    v = len(table.variables)
    a = np.zeros((v, v))
    for p in table.params:
        if p.op == "=~":
            value = loadings.get(p.rhs, 0.75) if isinstance(loadings, dict) else loadings
            a[p.row, p.col] = value
        elif p.op == "~":
            if p.key not in paths:
                problems.append(Problem("truth.paths", f"no true value for '{p.key}'"))
            a[p.row, p.col] = paths.get(p.key, 0.0)
    s = np.zeros((v, v))
    exogenous = [pos[n] for n in spec.exogenous()]
    for i in exogenous:
        s[i, i] = 1.0
    for key, value in truth.correlations.items():
        x, y = (t.strip() for t in key.split("~~"))
        if x not in spec.exogenous() or y not in spec.exogenous():
            problems.append(
                Problem(f"truth.correlations.{key}", "both must be exogenous constructs")
            )
            continue
        s[pos[x], pos[y]] = s[pos[y], pos[x]] = value
    b = np.linalg.inv(np.eye(v) - a)
    products = {product: (left, right) for product, left, right in table.products}
    problems += _nested_products(table, a, products)
    for i in _parents_first(a, products):
        if i in exogenous:
            continue
        omega = b @ s @ b.T
        if i in products:
            left, right = products[i]
            s[i, i] = omega[left, left] * omega[right, right] + omega[left, right] ** 2
            continue
        explained = omega[i, i]
        if explained >= 1.0 - 1e-9:
            name = table.variables[i]
            problems.append(
                Problem(
                    "truth", f"the values explain {explained:.3f} >= 1 of the variance of {name}"
                )
            )
        s[i, i] = 1.0 - explained
    if problems:
        raise InputError("Config: the truth block does not fit the model:", problems)
    return table, a, s


def _normalise(key: str) -> str:
    lhs, rhs = (t.strip() for t in key.split("~", 1))
    return f"{lhs} ~ {rhs.replace(' ', '')}"


def _parents_first(a: np.ndarray, products: dict[int, tuple[int, int]] | None = None) -> list[int]:
    """Variables ordered causes first (a product after its two components)."""
    order: list[int] = []
    products = products or {}

    def visit(i: int) -> None:
        if i in order:
            return
        for j in products.get(i, np.flatnonzero(a[i])):
            visit(int(j))
        order.append(i)

    for i in range(a.shape[0]):
        visit(i)
    return order


def _nested_products(table: ParameterTable, a: np.ndarray, products: dict) -> list[Problem]:
    """A component downstream of another product would need fourth moments: refused."""
    problems = []
    b = np.linalg.inv(np.eye(a.shape[0]) - a)
    for product, (left, right) in products.items():
        for other in products:
            if other != product and (b[left, other] != 0 or b[right, other] != 0):
                problems.append(
                    Problem(
                        "truth.paths",
                        f"{table.variables[product]}: a component depends on the interaction "
                        f"{table.variables[other]} (not simulated)",
                    )
                )
    return problems


def _draw_latents(
    rng: np.random.Generator, table: ParameterTable, a: np.ndarray, structural: np.ndarray, n: int
) -> np.ndarray:
    """Latent scores (n, variables): one draw of N(0, structural) mapped through (I - A)^-1,
    or, with interactions, one equation at a time with each product formed from its scores."""
    if not table.products:
        return _draw(rng, structural, n) @ np.linalg.inv(np.eye(a.shape[0]) - a).T
    products = {product: (left, right) for product, left, right in table.products}
    shocks_cov = structural.copy()
    for i in products:
        shocks_cov[i, :] = shocks_cov[:, i] = 0.0
    shocks = _draw(rng, shocks_cov, n)
    eta = np.zeros_like(shocks)
    for i in _parents_first(a, products):
        if i in products:
            left, right = products[i]
            eta[:, i] = eta[:, left] * eta[:, right]
        else:
            eta[:, i] = eta @ a[i] + shocks[:, i]
    return eta


def simulate_responses(
    spec: ModelSpec,
    truth: TruthConfig,
    scales: dict[str, ItemScale],
    n: int,
    seed: int,
    *,
    id_column: str = "respondent_id",
    continuous: bool = False,
) -> pd.DataFrame:
    """Draw `n` respondents' answers (integers) to the model's items.

    With `spec.cluster` set, respondents are spread over clusters of `truth.cluster_size`
    (default 8) and the cluster id column is written first. With `continuous`, items are the
    latent responses y* themselves (unit variance, already keyed), as the continuous-indicator
    model assumes.
    """
    if spec.group:
        return _simulate_groups(
            spec, truth, scales, n, seed, id_column=id_column, continuous=continuous
        )
    rng = np.random.default_rng(seed)
    table, a, s = standardized_matrices(spec, truth)
    k = len(spec.items)  # item residuals are drawn separately from the structural part
    b = np.linalg.inv(np.eye(a.shape[0]) - a)
    structural = s.copy()
    structural[np.arange(k), np.arange(k)] = 0.0
    frame = pd.DataFrame()
    if spec.cluster:
        icc = truth.icc if truth.icc is not None else 0.2
        size = truth.cluster_size or DEFAULT_CLUSTER_SIZE
        cluster = np.arange(n) // size
        n_clusters = int(cluster[-1]) + 1
        frame[spec.cluster] = cluster + 1
        level3 = level3_share(spec, truth, icc)
        between_structural, between_b = _between_structure(spec, truth, table, structural, b)
        between = _draw(rng, (icc - level3) * between_structural, n_clusters) @ between_b.T
        within_a = np.repeat(a[None, :, :], n_clusters, axis=0)
        for key, sd in truth.random_slope_sd.items():
            p = table.find(*_split(key))
            within_a[:, p.row, p.col] += rng.normal(0.0, sd, n_clusters)
        shocks = _draw(rng, (1 - icc) * structural, n)
        cluster_b = np.linalg.inv(np.eye(a.shape[0])[None] - within_a)
        padded = np.zeros((n_clusters * size, shocks.shape[1]))  # the last cluster may be short
        padded[:n] = shocks
        within = np.einsum("jik,jsk->jsi", cluster_b, padded.reshape(n_clusters, size, -1))
        within = within.reshape(n_clusters * size, -1)[:n]  # no (n, v, v) copy of cluster_b
        latent_part = between[cluster] + within
        if spec.level3:
            unit = cluster // (truth.level3_size or DEFAULT_LEVEL3_SIZE)
            frame.insert(0, spec.level3, unit + 1)
            latent_part += level3_intercepts(rng, table, a, level3, int(unit[-1]) + 1)[unit]
    else:
        if truth.between_paths:
            raise InputError(
                "Config: truth.between_paths needs a cluster column (data.cluster): paths among "
                "the clusters' latent means exist in two-level designs only"
            )
        latent_part = _draw_latents(rng, table, a, structural, n)
    trait, errors = with_method(rng, spec, truth, np.diag(s)[:k], n)
    ystar = latent_part[:, :k] * trait + errors
    if id_column:
        frame[id_column] = np.arange(1, n + 1)
    thresholds = None if truth.thresholds is None else np.asarray(truth.thresholds)
    for name in spec.observed:
        frame[name] = np.round(latent_part[:, table.variables.index(name)], 4)
    for j, item in enumerate(spec.items):
        if continuous:
            frame[item] = ystar[:, j]
            continue
        scale = scales[item]
        cuts = thresholds if thresholds is not None else default_thresholds(scale.points)
        if len(cuts) != scale.points - 1:
            raise InputError(
                f"Config: truth.thresholds has {len(cuts)} cut points but item '{item}' has a "
                f"{scale.points}-point scale (needs {scale.points - 1})"
            )
        category = scale.low + np.searchsorted(cuts, ystar[:, j], side="right")
        frame[item] = scale.low + scale.high - category if scale.reverse else category
    return frame


def with_method(
    rng: np.random.Generator, spec: ModelSpec, truth: TruthConfig, residual: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The scale of each item's constructs' part and its residual plus method part (every y*
    keeps unit variance): items load `truth.method` (residual variance shrinks by its square);
    items of a construct with `truth.method_share` s keep their common variance, a share s of
    it from the method factor (constructs' part scaled by sqrt(1 - s))."""
    items, constructs = list(spec.items), {f.name: f.indicators for f in spec.first_order}
    unknown = [n for n in truth.method_share if n not in constructs]
    if unknown:
        where = [Problem(f"truth.method_share.{n}", "not a first-order construct") for n in unknown]
        raise InputError("Config: the truth block does not fit the model:", where)
    share, shared = np.zeros(len(items)), np.zeros(len(items), dtype=bool)
    for name, value in truth.method_share.items():
        for item in constructs[name]:
            share[items.index(item)], shared[items.index(item)] = value, True
    method = np.where(shared, np.sqrt(share * (1.0 - residual)), truth.method)
    left = np.where(shared, residual, residual - method**2)
    if np.any(left <= 0):
        bad = [i for i, r in zip(items, left, strict=True) if r <= 0][:5]
        raise InputError(
            f"Config: truth.method = {truth.method} leaves no residual variance for items "
            f"{', '.join(bad)} (loading^2 + method^2 must stay below 1)"
        )
    errors = rng.standard_normal((n, len(residual))) * np.sqrt(left)
    if np.any(method):
        errors += rng.standard_normal((n, 1)) * method
    return np.sqrt(1.0 - share), errors


def _simulate_groups(
    spec: ModelSpec,
    truth: TruthConfig,
    scales: dict[str, ItemScale],
    n: int,
    seed: int,
    *,
    id_column: str,
    continuous: bool,
) -> pd.DataFrame:
    """Respondents split evenly over `truth.groups`, each group drawn from the common truth
    with its own paths (seeds spawned from `seed`); the group column is written first."""
    if len(truth.groups) < 2:
        raise InputError(
            "Config: truth.groups: simulating a multi-group design (data.group) needs at least "
            "two groups, e.g. groups: {soe: {paths: {...}}, private: {}}"
        )
    single = dataclasses.replace(spec, group=None)
    seeds = np.random.SeedSequence(seed).spawn(len(truth.groups))
    sizes = [len(part) for part in np.array_split(np.arange(n), len(truth.groups))]
    frames = []
    for (label, group), size, child in zip(truth.groups.items(), sizes, seeds, strict=True):
        for key in group.paths:
            if _normalise(key) not in {r.key for r in spec.regressions}:
                raise InputError(
                    f"Config: truth.groups.{label}.paths.{key}: not a path of the model"
                )
        paths = {_normalise(k): v for k, v in truth.paths.items()}
        paths |= {_normalise(k): v for k, v in group.paths.items()}
        frame = simulate_responses(
            single,
            truth.model_copy(update={"paths": paths, "groups": {}}),
            scales,
            size,
            int(child.generate_state(1)[0]),
            id_column=id_column,
            continuous=continuous,
        )
        frame.insert(0, spec.group, label)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    if id_column:
        out[id_column] = np.arange(1, n + 1)
    return out


def _between_structure(
    spec: ModelSpec,
    truth: TruthConfig,
    table: ParameterTable,
    structural: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The standardised structural residual covariance and (I - A)^-1 of the clusters' latent
    means: the within ones (`structural`, `b`) unless `truth.between_paths` gives some paths
    their own values (each construct's between variance stays 1 x icc)."""
    if not truth.between_paths:
        return structural, b
    model_paths = {r.key for r in spec.regressions}
    unknown = [k for k in truth.between_paths if _normalise(k) not in model_paths]
    if unknown:
        where = [Problem(f"truth.between_paths.{k}", "not a path of the model") for k in unknown]
        raise InputError("Config: the truth block does not fit the model:", where)
    paths = {_normalise(k): v for k, v in truth.paths.items()}
    paths |= {_normalise(k): v for k, v in truth.between_paths.items()}
    _, a, s = standardized_matrices(spec, truth.model_copy(update={"paths": paths}), table)
    k = len(spec.items)
    s[np.arange(k), np.arange(k)] = 0.0  # item residuals are drawn at the respondent level
    return s, np.linalg.inv(np.eye(a.shape[0]) - a)


def _split(key: str) -> tuple[str, str, str]:
    lhs, rhs = (t.strip() for t in key.split("~", 1))
    return lhs, "~", rhs


def _draw(rng: np.random.Generator, cov: np.ndarray, n: int) -> np.ndarray:
    """Draws from N(0, cov) for a possibly singular (block-diagonal) covariance."""
    vals, vecs = np.linalg.eigh(cov)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return rng.standard_normal((n, cov.shape[0])) @ root.T


def write_csv(frame: pd.DataFrame, path) -> None:
    """Write simulated responses as a plain CSV (integers, LF line endings), atomically."""
    from bayeslead.atomic import atomic_write_text

    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
