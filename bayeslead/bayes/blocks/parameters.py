"""The free parameters of a std.lv parameter table as PyMC random variables.

Every free parameter gets a prior class (`parameter_classes`); parameters sharing a class and a
prior are sampled as one vector variable (`parameter_groups`), the exogenous correlations as an
LKJ block; `free_parameters` assembles them into the vector `theta` in table order, and
`initial_values` inverts that map for start values. `rv` turns a `Prior` into a PyMC variable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.lkj import lkj_vine_shapes, vine_cholesky, vine_partials
from bayeslead.bayes.priors import Prior, PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec


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
        elif p.kind == "interaction":
            out.append(FreeParameter(p.key, "interactions"))
        elif p.kind == "residual_variance":
            out.append(FreeParameter(p.key, "residual_sd", squared=True))
        elif p.kind == "latent_variance":
            out.append(FreeParameter(p.key, "observed_sd", squared=True))
        elif p.kind == "latent_covariance" and p.lhs in exogenous and p.rhs in exogenous:
            out.append(FreeParameter(p.key, "latent_correlation"))
        else:
            out.append(FreeParameter(p.key, "residual_correlation"))
    return out


def prior_distribution(prior: Prior) -> tuple[type[pm.Distribution], dict[str, float]]:
    """The PyMC distribution class of `prior` and its arguments."""
    f, a = prior.family, prior.args
    if f == "normal":
        return pm.Normal, {"mu": a[0], "sigma": a[1]}
    if f == "halfnormal":
        return pm.HalfNormal, {"sigma": a[0]}
    if f == "student_t":
        return pm.StudentT, {"nu": a[0], "mu": a[1], "sigma": a[2]}
    if f == "exponential":
        return pm.Exponential, {"lam": a[0]}
    if f == "gamma":
        return pm.Gamma, {"alpha": a[0], "beta": a[1]}
    if f == "lognormal":
        return pm.LogNormal, {"mu": a[0], "sigma": a[1]}
    if f == "beta":
        return pm.Beta, {"alpha": a[0], "beta": a[1]}
    raise ValueError(f"prior {prior} cannot be a vector parameter")


def rv(name: str, prior: Prior, dims: str | None = None, shape: int | None = None):
    """A PyMC random variable for `prior` (a vector over `dims`)."""
    kind, args = prior_distribution(prior)
    kw = {"dims": dims} if dims else ({"shape": shape} if shape else {})
    return kind(name, **args, **kw)


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
    name: str | None = "theta",
) -> pt.TensorVariable:
    """Sample every free parameter and return them as one vector `theta` (std.lv table order).

    Parameters sharing a class and prior form one vector variable named after the class;
    a parameter with its own prior gets its own variable. The assembly is vectorised (one
    concatenation and one permutation) to keep the compiled graph small. `given` maps
    parameter keys to tensors the caller defines (e.g. population paths of a multi-group
    model); a group whose members are all given is not sampled here. With `name` None no
    deterministic is registered (the caller maps given values first, then registers it).
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
        value = rv(group.name, group.prior, dims=f"{group.name}_dim")
        if group.cls == "residual_correlation":
            value = 2.0 * value - 1.0
        pieces.append(value**2 if classes[group.members[0]].squared else value)
        order += list(group.members)
    correlations = _correlations(spec, table, classes, priors)
    if correlations is not None:
        pieces.append(correlations[1])
        order += correlations[0]
    theta = pt.concatenate(pieces)[np.argsort(order)]
    theta = _scale_covariances(table, classes, theta)
    model.add_coord("parameter", [c.key for c in classes])
    return pm.Deterministic(name, theta, dims="parameter") if name else theta


def initial_values(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, theta: np.ndarray
) -> dict[str, np.ndarray]:
    """Values of the sampled variables that reproduce `theta` (e.g. the ML estimates).

    Starting chains here keeps them in the reflection mode of the data (first loadings
    positive) and shortens warm-up; SDs are kept away from zero and correlations inside (-1, 1).
    """
    classes = parameter_classes(spec, table)
    params = table.free_params
    variance = {p.lhs: p.value for p in table.params if p.op == "~~" and p.lhs == p.rhs}
    variance |= {p.lhs: theta[p.free] for p in table.free_rows if p.op == "~~" and p.lhs == p.rhs}
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
    variance_of = {p.lhs: p.free for p in table.free_rows if p.op == "~~" and p.lhs == p.rhs}
    fixed = {p.lhs: p.value for p in table.params if p.free < 0 and p.op == "~~" and p.lhs == p.rhs}
    targets, left, right = [], [], []
    for k, c in enumerate(classes):
        if c.cls in ("latent_correlation", "residual_correlation"):
            targets.append(k)
            left.append(variance_of.get(params[k].lhs, -1))
            right.append(variance_of.get(params[k].rhs, -1))
    if not targets:
        return theta
    left, right = np.array(left), np.array(right)
    const_left = np.array([np.sqrt(fixed.get(params[k].lhs, 1.0)) for k in targets])
    const_right = np.array([np.sqrt(fixed.get(params[k].rhs, 1.0)) for k in targets])
    scale = pt.where(left >= 0, pt.sqrt(theta[np.maximum(left, 0)]), const_left) * pt.where(
        right >= 0, pt.sqrt(theta[np.maximum(right, 0)]), const_right
    )
    targets = np.array(targets)
    return pt.set_subtensor(theta[targets], theta[targets] * scale)
