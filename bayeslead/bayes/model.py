"""Building the PyMC model of a ModelSpec (no sampling here).

Identification: standardised latent variables (every latent residual variance 1) with the first
loading of each construct positive, on standardised items. This removes the reflection
(sign-flip) indeterminacy; the engine converts draws to lavaan's marker metric afterwards.

Continuous items: the likelihood is marginal over the latent variables. With complete data it
uses only the scatter matrix W of the z-scored items, with the item means integrated out under a
flat prior: ``-(N-1)/2 log|Sigma| - tr(Sigma^-1 W)/2``, so a gradient costs the same at any N.
With missing values it is exact per missing-data pattern (item intercepts are then sampled).

Ordinal items: ordered probit (or logit) on latent responses ``y* = lambda * eta + e`` with
Var(e) = 1 (theta parameterisation), per-item thresholds (first cut + positive gaps), and
centred latent scores eta ~ MvNormal(0, model-implied latent covariance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.data import ContinuousData, OrdinalData
from bayeslead.bayes.moments import PatternMoments, complete_moments, pattern_moments
from bayeslead.bayes.ops import interval_log_prob, pattern_loglik
from bayeslead.bayes.priors import Prior, PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec

BIG = 1e3  # stands in for +-infinity as the outer thresholds of the probit scale


@dataclass(frozen=True)
class FreeParameter:
    """How one free parameter of the std.lv table is sampled."""

    key: str
    cls: str  # prior class (bayeslead.bayes.priors)
    squared: bool = False  # sampled as an SD, used as a variance


def parameter_classes(spec: ModelSpec, table: ParameterTable) -> list[FreeParameter]:
    """Prior class of every free parameter (std.lv table), in table order."""
    first = {f.name: f.indicators[0] for f in spec.factors}
    exogenous = set(spec.exogenous())
    out = []
    for p in table.free_params:
        if p.kind == "loading":
            out.append(
                FreeParameter(p.key, "first_loading" if first[p.lhs] == p.rhs else "loadings")
            )
        elif p.kind == "regression":
            out.append(FreeParameter(p.key, "paths"))
        elif p.kind == "residual_variance":
            out.append(FreeParameter(p.key, "residual_sd", squared=True))
        elif p.kind == "latent_variance":
            out.append(FreeParameter(p.key, "observed_sd", squared=True))
        elif p.kind == "latent_covariance" and p.lhs in exogenous and p.rhs in exogenous:
            out.append(FreeParameter(p.key, "latent_correlation"))
        else:
            out.append(FreeParameter(p.key, "residual_correlation"))
    return out


def _rv(name: str, prior: Prior, dims: str | None = None, shape: int | None = None):
    """A PyMC random variable for `prior` (a vector over `dims`)."""
    f, a = prior.family, prior.args
    kw = {"dims": dims} if dims else ({"shape": shape} if shape else {})
    if f == "normal":
        return pm.Normal(name, mu=a[0], sigma=a[1], **kw)
    if f == "halfnormal":
        return pm.HalfNormal(name, sigma=a[0], **kw)
    if f == "student_t":
        return pm.StudentT(name, nu=a[0], mu=a[1], sigma=a[2], **kw)
    if f == "exponential":
        return pm.Exponential(name, lam=a[0], **kw)
    if f == "gamma":
        return pm.Gamma(name, alpha=a[0], beta=a[1], **kw)
    if f == "lognormal":
        return pm.LogNormal(name, mu=a[0], sigma=a[1], **kw)
    if f == "beta":
        return pm.Beta(name, alpha=a[0], beta=a[1], **kw)
    raise ValueError(f"prior {prior} cannot be a vector parameter")


def _safe(key: str) -> str:
    return key.replace(" =~ ", "_by_").replace(" ~~ ", "_with_").replace(" ~ ", "_on_")


@dataclass(frozen=True)
class ParameterGroup:
    """Free parameters sampled as one vector variable (same class and prior)."""

    name: str
    cls: str
    prior: Prior
    members: tuple[int, ...]  # positions in the free-parameter vector
    keys: tuple[str, ...]


def parameter_groups(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet
) -> list[ParameterGroup]:
    """Group the free parameters by class and prior (latent correlations are the LKJ block)."""
    classes = parameter_classes(spec, table)
    grouped: dict[tuple[str, str], list[int]] = {}
    for k, fp in enumerate(classes):
        if fp.cls != "latent_correlation":
            grouped.setdefault((fp.cls, str(priors.for_parameter(fp.key, fp.cls))), []).append(k)
    out, names = [], set()
    for (cls, _), members in grouped.items():
        keys = tuple(classes[k].key for k in members)
        own = keys[0] in priors.parameters and len(members) == 1
        name = f"{cls}__{_safe(keys[0])}" if own else cls
        while name in names:
            name += "_"
        names.add(name)
        out.append(
            ParameterGroup(name, cls, priors.for_parameter(keys[0], cls), tuple(members), keys)
        )
    return out


def free_parameters(
    spec: ModelSpec,
    table: ParameterTable,
    priors: PriorSet,
    given: dict[str, pt.TensorVariable] | None = None,
) -> pt.TensorVariable:
    """Sample every free parameter and return them as one vector `theta` (std.lv table order).

    Parameters sharing a class and prior form one vector variable named after the class;
    a parameter with its own prior gets its own variable. The assembly is vectorised (one
    concatenation and one permutation) to keep the compiled graph small. `given` maps
    parameter keys to tensors the caller defines (e.g. population paths of a multi-group
    model); a group whose members are all given is not sampled here.
    """
    classes = parameter_classes(spec, table)
    model = pm.modelcontext(None)
    given = given or {}
    pieces, order = [], []
    for group in parameter_groups(spec, table, priors):
        if all(key in given for key in group.keys):
            pieces.append(pt.stack([given[key] for key in group.keys]))
            order += list(group.members)
            continue
        model.add_coord(f"{group.name}_dim", list(group.keys))
        rv = _rv(group.name, group.prior, dims=f"{group.name}_dim")
        if group.cls == "residual_correlation":
            rv = 2.0 * rv - 1.0
        pieces.append(rv**2 if classes[group.members[0]].squared else rv)
        order += list(group.members)
    correlations = _correlations(spec, table, classes, priors)
    if correlations is not None:
        pieces.append(correlations[1])
        order += correlations[0]
    theta = pt.concatenate(pieces)[np.argsort(order)]
    theta = _scale_covariances(table, classes, theta)
    model.add_coord("parameter", [c.key for c in classes])
    return pm.Deterministic("theta", theta, dims="parameter")


def initial_values(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, theta: np.ndarray
) -> dict[str, np.ndarray]:
    """Values of the sampled variables that reproduce `theta` (e.g. the ML estimates).

    Starting chains here keeps them in the reflection mode of the data (first loadings
    positive) and shortens warm-up; SDs are kept away from zero and correlations inside (-1, 1).
    """
    classes = parameter_classes(spec, table)
    params = table.free_params
    variance = {p.lhs: theta[k] for k, p in enumerate(params) if p.lhs == p.rhs}
    out: dict[str, np.ndarray] = {}
    for group in parameter_groups(spec, table, priors):
        vals = []
        for k in group.members:
            value = theta[k]
            if classes[k].squared:
                value = np.sqrt(max(value, 0.01))
            elif group.cls == "first_loading":
                value = max(abs(value), 0.05)
            elif group.cls == "residual_correlation":
                p = params[k]
                sd = np.sqrt(
                    max(variance.get(p.lhs, 1.0), 0.01) * max(variance.get(p.rhs, 1.0), 0.01)
                )
                value = (np.clip(value / sd, -0.95, 0.95) + 1.0) / 2.0
            vals.append(value)
        out[group.name] = np.array(vals)
    exogenous = list(spec.exogenous())
    members = [k for k, c in enumerate(classes) if c.cls == "latent_correlation"]
    if members:
        corr = np.eye(len(exogenous))
        index = {name: i for i, name in enumerate(exogenous)}
        for k in members:
            p = params[k]
            i, j = index[p.lhs], index[p.rhs]
            sd = np.sqrt(max(variance.get(p.lhs, 1.0), 0.01) * max(variance.get(p.rhs, 1.0), 0.01))
            corr[i, j] = corr[j, i] = np.clip(theta[k] / sd, -0.95, 0.95)
        vals, vecs = np.linalg.eigh(corr)
        corr = vecs @ np.diag(np.clip(vals, 0.05, None)) @ vecs.T
        d = np.sqrt(np.diag(corr))
        out["exogenous_partial"] = (
            np.clip(vine_partials(corr / np.outer(d, d)), -0.95, 0.95) + 1.0
        ) / 2.0
    return out


def lkj_vine_shapes(k: int, eta: float) -> np.ndarray:
    """Beta shapes of the C-vine partial correlations that make a correlation matrix LKJ(eta).

    Lewandowski, Kurowicka & Joe (2009): the partial correlation of variables j and i > j given
    variables 0..j-1 is Beta(b, b) on (-1, 1) with ``b = eta + (k - 2 - j) / 2``. Pairs are in
    row-major order of the strict upper triangle.
    """
    return np.array([eta + (k - 2 - j) / 2 for j in range(k - 1) for _ in range(j + 1, k)])


def vine_cholesky(partials, k: int):
    """Cholesky factor of the correlation matrix with C-vine partial correlations `partials`."""
    z = {}
    pos = 0
    for j in range(k - 1):
        for i in range(j + 1, k):
            z[(j, i)] = partials[pos]
            pos += 1
    rows = []
    for i in range(k):
        row, used = [], 0.0
        for j in range(i):
            value = z[(j, i)] * pt.sqrt(1.0 - used) if j else z[(j, i)]
            used = used + value**2
            row.append(value)
        row.append(pt.sqrt(1.0 - used) if i else pt.as_tensor(1.0))
        row += [pt.as_tensor(0.0)] * (k - i - 1)
        rows.append(pt.stack(row))
    return pt.stack(rows)


def vine_partials(corr: np.ndarray) -> np.ndarray:
    """The C-vine partial correlations of a correlation matrix (inverse of `vine_cholesky`)."""
    chol = np.linalg.cholesky(corr)
    k = len(corr)
    out = []
    for j in range(k - 1):
        for i in range(j + 1, k):
            out.append(chol[i, j] / np.sqrt(1.0 - np.sum(chol[i, :j] ** 2)))
    return np.array(out)


def _correlations(spec, table, classes, priors):
    """LKJ prior on the correlations of the exogenous variables (vine construction).

    Returns (positions in theta, correlation values) or None when there is at most one
    exogenous variable.
    """
    exogenous = list(spec.exogenous())
    members = [k for k, c in enumerate(classes) if c.cls == "latent_correlation"]
    if not members:
        return None
    k = len(exogenous)
    shapes = lkj_vine_shapes(k, priors.classes["latent_correlation"].args[0])
    partial = pm.Beta("exogenous_partial", alpha=shapes, beta=shapes, shape=len(shapes))
    chol = vine_cholesky(2.0 * partial - 1.0, k)
    corr = chol @ chol.T
    index = {name: i for i, name in enumerate(exogenous)}
    params = table.free_params
    rows = np.array([index[params[m].lhs] for m in members])
    cols = np.array([index[params[m].rhs] for m in members])
    return members, corr[rows, cols]


def _scale_covariances(table: ParameterTable, classes, theta):
    """Turn sampled correlations into covariances: r * SD_a * SD_b (latent SDs are 1)."""
    params = table.free_params
    variance_of = {p.lhs: k for k, p in enumerate(params) if p.lhs == p.rhs}
    targets, left, right = [], [], []
    for k, c in enumerate(classes):
        if c.cls in ("latent_correlation", "residual_correlation"):
            targets.append(k)
            left.append(variance_of.get(params[k].lhs, -1))
            right.append(variance_of.get(params[k].rhs, -1))
    if not targets:
        return theta
    left, right = np.array(left), np.array(right)
    scale = pt.where(left >= 0, pt.sqrt(theta[np.maximum(left, 0)]), 1.0) * pt.where(
        right >= 0, pt.sqrt(theta[np.maximum(right, 0)]), 1.0
    )
    targets = np.array(targets)
    return pt.set_subtensor(theta[targets], theta[targets] * scale)


def _basis(
    table: ParameterTable, matrix: str, first: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot basis of the free entries of A or S (variables from `first` on), and the
    fixed part of that block.

    ``M = dot(theta_sub, basis) + fixed``: one matrix product instead of indexed updates,
    which keeps the compiled graph small and fast.
    """
    v = len(table.variables) - first
    params = [p for p in table.params if p.matrix == matrix and min(p.row, p.col) >= first]
    free = [p for p in params if p.free >= 0]
    basis = np.zeros((len(free), v, v))
    fixed = np.zeros((v, v))
    for k, p in enumerate(free):
        basis[k, p.row - first, p.col - first] = 1.0
        if matrix == "S":
            basis[k, p.col - first, p.row - first] = 1.0
    for p in params:
        if p.free < 0:
            fixed[p.row - first, p.col - first] = p.value
            if matrix == "S":
                fixed[p.col - first, p.row - first] = p.value
    return np.array([p.free for p in free], dtype=int), basis, fixed


def ram_matrices(table: ParameterTable, theta, first: int = 0) -> tuple:
    """Symbolic RAM matrices A and S (the block of variables `first`, `first` + 1, ...)."""
    out = []
    for matrix in ("A", "S"):
        index, basis, fixed = _basis(table, matrix, first)
        value = pt.as_tensor(fixed)
        if len(index):
            flat = pt.dot(theta[index], basis.reshape(len(index), -1))
            value = value + flat.reshape(fixed.shape)
        out.append(value)
    return out[0], out[1]


def path_depth(table: ParameterTable) -> int:
    """Length of the longest directed path in A (A is nilpotent: A^(depth+1) = 0)."""
    a = np.zeros((len(table.variables),) * 2)
    for p in table.params:
        if p.matrix == "A":
            a[p.row, p.col] = 1.0
    depth, power = 0, a.copy()
    while power.any():
        depth += 1
        power = power @ a
    return depth


def implied_covariance(table: ParameterTable, theta) -> pt.TensorVariable:
    """Model-implied covariance of all variables, ``B S B'`` with ``B = (I - A)^-1``.

    A is nilpotent (the model is recursive), so ``B = I + A + ... + A^depth`` exactly, using
    matrix products only.
    """
    a, s = ram_matrices(table, theta)
    return _ram_covariance(a, s, path_depth(table))


def ram_inverse(a, depth: int):
    """``B = I + A + ... + A^depth`` (= (I - A)^-1 for nilpotent A), matrix products only."""
    b = term = pt.eye(a.shape[0])
    for _ in range(depth):
        term = term @ a
        b = b + term
    return b


def _ram_covariance(a, s, depth: int):
    """``B S B'`` with ``B = (I - A)^-1`` (see `ram_inverse`)."""
    b = ram_inverse(a, depth)
    return b @ s @ b.T


def build_continuous_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: ContinuousData,
    priors: PriorSet,
    data_containers: bool = False,
) -> pm.Model:
    """PyMC model of continuous (z-scored) items, likelihood marginal over the latents.

    With `data_containers` (complete data only) the scatter matrix and its weight are
    `pm.Data` containers named "scatter" and "weight", so a compiled model can be re-used
    with another data set's moments (simulation studies).
    """
    p = table.n_manifest
    moments = (
        complete_moments(data.scatter, data.n) if data.complete else pattern_moments(data.groups, p)
    )
    if data_containers and not data.complete:
        raise ValueError("data containers need complete data")
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = free_parameters(spec, table, priors)
        sigma = implied_covariance(table, theta)[:p, :p]
        if data.complete:
            intercepts = pt.zeros(p)
        else:
            intercepts = _rv("intercepts", priors.classes["intercepts"], dims="item")
        scatter = weight = None
        if data_containers:
            scatter = pm.Data("scatter", moments.scatter)
            weight = pm.Data("weight", moments.weight)
        pm.Potential("loglik", pattern_loglik(sigma, intercepts, moments, scatter, weight))
    return model


def build_ordinal_model(
    spec: ModelSpec,
    table: ParameterTable,
    data: OrdinalData,
    priors: PriorSet,
    link: str = "probit",
) -> pm.Model:
    """PyMC model of ordinal items: ordered probit/logit with standardised latent scores.

    Only constructs measured directly by items get scores (second-order constructs are
    integrated out exactly), and the scores are standardised: u ~ N(0, R) with R the
    model-implied correlation matrix of the first-order constructs, and each item's latent
    response is (loading x construct SD) x u + e. This keeps the scores' scale fixed while the
    structural parameters move (centred scores of endogenous or second-order constructs mix
    poorly because their variance depends on the paths). The prior is written with the
    likelihood Op on the scores' scatter matrix.
    """
    p = table.n_manifest
    first_order = first_order_constructs(table)
    latents = [table.variables[k] for k in first_order]
    m = len(latents)
    with pm.Model(coords={"item": list(table.manifest), "latent": latents}) as model:
        theta = free_parameters(spec, table, priors)
        a, s = ram_matrices(table, theta, first=p)  # latent block only
        phi = _ram_covariance(a, s, max(path_depth(table) - 1, 0))
        index = np.array(first_order) - p
        phi_first = phi[np.ix_(index, index)]
        sd = pt.sqrt(pt.diagonal(phi_first))
        corr = phi_first / (sd[:, None] * sd[None, :])
        scores = pm.Flat("scores", shape=(data.n, m))
        pm.Potential("scores_prior", normal_rows_logp(corr, scores, data.n, m))
        pm.Potential("loglik", ordinal_loglik(table, theta, data, priors, phi_first, scores, link))
    return model


def first_order_constructs(table: ParameterTable) -> list[int]:
    """Positions in `table.variables` of the constructs measured directly by items, in order."""
    return sorted({_loading_column(table, j) for j in range(table.n_manifest)})


def normal_rows_logp(cov, rows, n: int, m: int):
    """Log-density of the `n` rows (n, m) of `rows` as independent N(0, `cov`) vectors, up to a
    constant; written with the likelihood Op on their scatter matrix."""
    moments = PatternMoments(
        np.ones((1, m)), np.array([float(n)]), np.zeros(1), np.zeros((1, m, m)), np.zeros((1, m))
    )
    return pattern_loglik(cov, pt.zeros(m), moments, scatter=(rows.T @ rows)[None])


def ordinal_loglik(
    table: ParameterTable,
    theta,
    data: OrdinalData,
    priors: PriorSet,
    phi,
    scores,
    link: str = "probit",
    relative: bool = False,
):
    """Ordered-response log-likelihood of `data` given the standardised scores (N, m) of the
    first-order constructs (`first_order_constructs` order) whose variances are the diagonal of
    `phi`; samples the thresholds (see `_threshold_bounds`).

    With `relative`, the thresholds are sampled relative to each item's latent response at the
    sample mean of the scores: a common shift of the scores then leaves the likelihood unchanged,
    so their location and the thresholds mix independently (an exact reparameterisation).
    """
    p = table.n_manifest
    factor = np.array([_loading_column(table, j) for j in range(p)])
    column = np.searchsorted(first_order_constructs(table), factor)  # item -> its score column
    loadings = theta[np.array([_loading_index(table, j) for j in range(p)])]
    shift = None
    if relative:
        mean = pt.mean(scores, axis=0)
        w = loadings * pt.sqrt(pt.diagonal(phi))[column]
        shift = w * mean[column] / pt.sqrt(1.0 + w**2)
        scores = scores - mean
    lower, upper = _threshold_bounds(data, priors, shift)
    return interval_log_prob(lower, upper, loadings, phi, scores, column, link)


def _loading_index(table: ParameterTable, item: int) -> int:
    """Position in theta of an item's (free) loading."""
    for p in table.params:
        if p.kind == "loading" and p.row == item:
            return p.free
    raise ValueError(f"item {table.variables[item]} has no loading")


def _loading_column(table: ParameterTable, item: int) -> int:
    for p in table.params:
        if p.kind == "loading" and p.row == item:
            return p.col
    raise ValueError(f"item {table.variables[item]} has no loading")


def _threshold_bounds(data: OrdinalData, priors: PriorSet, shift=None):
    """Lower and upper standardised thresholds of every observed response.

    Thresholds are sampled in units of the item's y* SD (first cut + positive gaps; about the
    normal quantiles of the cumulative category shares) and rescaled in the likelihood, which
    decouples them from the loadings. All cut points come from one matrix
    product of constants with the gaps (cumulative sums within each item), then two gathers.
    With `shift` (p,), the cuts are sampled relative to it (the bounds are then relative too);
    the prior and the stored `thresholds` are those of the cuts themselves.
    """
    cuts_per_item = data.n_categories - 1
    n_cuts = int(cuts_per_item.sum())
    item_of_cut = np.repeat(np.arange(len(cuts_per_item)), cuts_per_item)
    start_of_item = np.concatenate([[0], np.cumsum(cuts_per_item)[:-1]])
    gap_rows = [c for c in range(n_cuts) if c != start_of_item[item_of_cut[c]]]
    cumulative = np.zeros((n_cuts, len(gap_rows)))
    for g, row in enumerate(gap_rows):
        item = item_of_cut[row]
        end = start_of_item[item] + cuts_per_item[item]
        cumulative[row:end, g] = 1.0
    first = _rv("threshold_first", priors.classes["thresholds"], dims="item")
    cuts = first[item_of_cut]
    if gap_rows:
        gaps = _rv("threshold_gaps", priors.classes["threshold_gaps"], shape=len(gap_rows))
        cuts = cuts + pt.dot(cumulative, gaps)
    if shift is None:
        pm.Deterministic("thresholds", cuts)
    else:
        moved = pm.logp(first, first + shift) - pm.logp(first, first)
        pm.Potential("threshold_prior_shift", pt.sum(moved))
        pm.Deterministic("thresholds", cuts + shift[item_of_cut])
    extended = pt.concatenate([cuts, pt.as_tensor([-BIG, BIG])])
    # (N, p) index of each response's lower and upper cut; missing responses get (-BIG, BIG),
    # so they contribute log(1) = 0
    shape = (data.n, len(cuts_per_item))
    lower = np.full(shape, n_cuts)
    upper = np.full(shape, n_cuts + 1)
    position = start_of_item[data.item] + data.category
    top = data.category == cuts_per_item[data.item]
    upper[data.respondent, data.item] = np.where(top, n_cuts + 1, position)
    lower[data.respondent, data.item] = np.where(data.category == 0, n_cuts, position - 1)
    return extended[lower.ravel()].reshape(shape), extended[upper.ravel()].reshape(shape)
