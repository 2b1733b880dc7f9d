"""Observed covariates of the continuous two-level model, as lavaan treats them.

A covariate constant within every cluster (or listed in `bayes.between_only`, then checked) is
between-only: it predicts the between parts of constructs. One listed in `bayes.within_only`
has no between part (lavaan: a variable of the level-1 model only) and predicts the within
parts. Both are exogenous and fixed (lavaan's ``fixed.x``): the likelihood is that of the items
given the covariates; their (co)variances and means are fixed at the sample values (within-only
over respondents, between-only over clusters) and exogenous constructs do not covary with them.
With the items z-scored, ``A_W = Lambda T_W Gamma_W`` and ``A_B = Lambda T_B Gamma_B``:

    y_ij = mu + A_W x_ij + A_B w_j + (the two-level model's within and between parts)

so a cluster's mean is shifted by ``A_W xbar_j + A_B w_j`` (the kernel's offsets) and the
within scatter is ``S(A_W) = W_yy - A_W W_xy - W_yx A_W' + A_W W_xx A_W'``, pooled over clusters
(`within_scatter_term`; with random slopes each cluster would need its own, so level-1
covariates and random slopes are not combined). A covariate that varies within clusters and is
not declared within-only has within and between parts, as in lavaan: its within part (the
deviation from its latent cluster mean) predicts at the within level, its between part (the
latent cluster mean) at the between level (`latent_means.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pytensor.tensor as pt

from bayeslead.bayes.blocks.ram import diagonal_matrix, ram_inverse
from bayeslead.bayes.models.twolevel.latent_means import LatentMeans, latent_means
from bayeslead.config import BayesConfig
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.core.twolevel_ml import covariance
from bayeslead.errors import InputError, Problem
from bayeslead.syntax import render_model

Key = tuple[str, str, str]


@dataclass(frozen=True)
class Covariates:
    """The observed covariates of a two-level model with their data (z-scored as the items)."""

    within: tuple[str, ...] = ()
    between: tuple[str, ...] = ()
    both: tuple[str, ...] = ()  # within and between parts (`latent_means.py`)
    within_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    between_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    both_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    cluster_means: np.ndarray | None = None  # (J, qx) cluster means of z-scored `level1`
    cluster_values: np.ndarray | None = None  # (J, qw) z-scored between-only, per cluster
    scatter: np.ndarray | None = None  # pooled within-cluster scatter of [items, `level1`]
    fixed_std: dict[Key, float] = field(default_factory=dict)  # on the z-scores
    fixed_marker: dict[Key, float] = field(default_factory=dict)  # on the raw metric
    means: dict[str, float] = field(default_factory=dict)  # lavaan's fixed covariate means
    latent: LatentMeans = field(default_factory=LatentMeans)

    @property
    def names(self) -> tuple[str, ...]:
        return self.within + self.between + self.both

    @property
    def level1(self) -> tuple[str, ...]:
        """The covariates with a within part: within-only, then those at both levels."""
        return self.within + self.both

    @property
    def level1_cols(self) -> np.ndarray:
        return np.concatenate([self.within_cols, self.both_cols]).astype(int)


def level_variables(
    spec: ModelSpec, frame: pd.DataFrame, ids: np.ndarray, settings: BayesConfig, where: str
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The within-only, between-only and both-level covariates of `spec` (rows `frame`, cluster
    `ids`); every reason the model cannot be fitted is raised at once (`where` names the data
    file)."""
    covariates = spec.observed
    problems: list[Problem] = []
    for key, names in (
        ("bayes.within_only", settings.within_only),
        ("bayes.between_only", settings.between_only),
    ):
        for name in names:
            if name not in covariates:
                known = ", ".join(covariates) or "none"
                problems.append(
                    Problem(key, f"'{name}' is not an observed variable of the model ({known})")
                )
    for name in sorted(set(settings.within_only) & set(settings.between_only)):
        problems.append(Problem("bayes.within_only", f"'{name}' is also in bayes.between_only"))
    outcomes = [o for o in covariates if spec.is_endogenous(o)]
    if outcomes:
        problems.append(
            Problem(
                "paths",
                f"{', '.join(outcomes)}: observed outcomes and mediators in two-level models "
                "are not estimated by engine: bayes yet (measure them as constructs, or use "
                "engine: sem)",
            )
        )
    for a, b in spec.covariances:
        if {a, b} & set(covariates):
            problems.append(
                Problem(
                    "covariances",
                    f"{a} ~~ {b}: observed covariates of a two-level model are fixed at their "
                    "sample (co)variances (lavaan's fixed.x); remove this covariance",
                )
            )
    varying = frame[list(covariates)].groupby(ids).nunique().max() > 1
    within, between, both = [], [], []
    for name in covariates:
        column = f"{where}, column '{name}'"
        if name in settings.within_only:
            within.append(name)
            if not varying[name]:
                problems.append(
                    Problem(
                        column,
                        "bayes.within_only: constant within every cluster, so it "
                        "has no within part (it is between-only)",
                    )
                )
        elif name in settings.between_only or not varying[name]:
            between.append(name)
            if varying[name]:
                problems.append(
                    Problem(
                        column,
                        "bayes.between_only variables must be constant within "
                        "clusters (one value per cluster)",
                    )
                )
        else:  # varies within clusters: within and between parts, as lavaan splits it
            both.append(name)
    if problems:
        raise InputError("observed covariates of the two-level model", problems)
    return tuple(within), tuple(between), tuple(both)


def covariate_data(
    spec: ModelSpec,
    within: tuple[str, ...],
    between: tuple[str, ...],
    both: tuple[str, ...],
    z: np.ndarray,
    raw: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    ids: np.ndarray,
) -> Covariates:
    """What the model needs of the covariates: `z` and `raw` are the kept rows of every
    manifest variable (spec order, items first), `mean`, `sd` their means and SDs
    (z = (raw - mean) / sd)."""
    manifest = list(spec.manifest)
    wc = np.array([manifest.index(n) for n in within], dtype=int)
    bc = np.array([manifest.index(n) for n in between], dtype=int)
    xc = np.array([manifest.index(n) for n in both], dtype=int)
    level1 = np.concatenate([wc, xc]).astype(int)
    labels, index = np.unique(ids, return_inverse=True)
    index = np.ravel(index)
    counts = np.bincount(index).astype(float)

    def cluster_mean(x: np.ndarray) -> np.ndarray:
        sums = np.zeros((len(labels), x.shape[1]))
        np.add.at(sums, index, x)
        return sums / counts[:, None]

    joined = np.concatenate([np.arange(len(spec.items)), level1])
    centred = z[:, joined] - cluster_mean(z[:, joined])[index]
    fixed_std: dict[Key, float] = {}
    fixed_marker: dict[Key, float] = {}
    means: dict[str, float] = {}
    for names, cols, values in ((within, wc, raw[:, wc]), (between, bc, cluster_mean(raw[:, bc]))):
        cov = covariance(values)
        for i, a in enumerate(names):
            means[a] = float(values[:, i].mean())
            for j in range(i, len(names)):
                key = (a, "~~", names[j])
                fixed_marker[key] = float(cov[i, j])
                fixed_std[key] = float(cov[i, j] / (sd[cols[i]] * sd[cols[j]]))
    exogenous = [v for v in spec.exogenous() if v in spec.latents]
    zeros = [(a, b) for a in within for b in between] + [
        (a, b) for a in exogenous for b in within + between + both
    ]
    for a, b in zeros:
        fixed_std[(a, "~~", b)] = fixed_marker[(a, "~~", b)] = 0.0
    level1_means, level2_values = cluster_mean(z[:, level1]), cluster_mean(z[:, bc])
    latent = latent_means(
        spec, within, between, both, raw, ids, level1_means, level2_values, counts, mean, sd
    )
    for (a, op, b), value in latent.fixed.items():
        fixed_marker[(a, op, b)] = value
        fixed_std[(a, op, b)] = value / (sd[manifest.index(a)] * sd[manifest.index(b)])
    return Covariates(
        within=within,
        between=between,
        both=both,
        within_cols=wc,
        between_cols=bc,
        both_cols=xc,
        cluster_means=level1_means,
        cluster_values=level2_values,
        scatter=centred.T @ centred,
        fixed_std=fixed_std,
        fixed_marker=fixed_marker,
        means=means,
        latent=latent,
    )


def covariate_effects(covariates: Covariates, a, lam, beta_w, beta_b, n_manifest: int, depth: int):
    """Inside a model: A_W (items x `level1`) and A_B (items x between-only), the effects of the
    covariates on the items through the constructs at each level."""
    gamma = a[n_manifest:, :n_manifest]
    a_w = lam @ ram_inverse(beta_w, depth) @ gamma[:, covariates.level1_cols]
    a_b = lam @ ram_inverse(beta_b, depth) @ gamma[:, covariates.between_cols]
    return a_w, a_b


def cluster_offsets(covariates: Covariates, a_w, a_b, a_x=None, x_b=None):
    """Each cluster's item-mean shift (J, items): ``A_W xbar_j + A_B w_j``, and with covariates
    at both levels (between parts `x_b`, their between effects `a_x`)
    ``+ (A_X - A_W,x) x_b,j`` (the within part is x less x_b)."""
    shift = pt.dot(covariates.cluster_means, a_w.T) + pt.dot(covariates.cluster_values, a_b.T)
    if x_b is None:
        return shift
    return shift + pt.dot(x_b, (a_x - a_w[:, len(covariates.within) :]).T)


def within_scatter_term(
    covariates: Covariates, a_w, lam, beta_w, psi_w, theta_w, depth: int, scatter=None
):
    """``-1/2 tr(Sigma_W^-1 S(A_W))``: the within-scatter part of the log-likelihood with the
    level-1 covariates' effects taken out (the kernel then gets zero centred rows); `scatter`
    (symbolic, with blank answers at their conditional means) replaces the data's joined scatter."""
    w = covariates.scatter if scatter is None else scatter
    k = covariates.scatter.shape[0] - len(covariates.level1)
    w_yy, w_yx, w_xx = w[:k, :k], w[:k, k:], w[k:, k:]
    scatter = w_yy - pt.dot(a_w, w_yx.T) - pt.dot(w_yx, a_w.T) + a_w @ w_xx @ a_w.T
    t_w = ram_inverse(beta_w, depth)
    sigma_w = lam @ t_w @ psi_w @ t_w.T @ lam.T + diagonal_matrix(theta_w, k)
    return -0.5 * pt.sum(pt.linalg.inv(sigma_w) * scatter)


def level_theta(marker: ParameterTable, theta: np.ndarray, absent: tuple[str, ...]) -> np.ndarray:
    """`theta` (marker layout) with the paths from the covariates `absent` at this level set to
    0 (e.g. the between-only covariates' paths at the within level)."""
    out = theta.copy()
    for p in marker.free_params:
        if p.op == "~" and p.rhs in absent:
            out[..., p.free] = 0.0
    return out


def covariate_rows(
    estimates: pd.DataFrame, conv: pd.DataFrame, marker: ParameterTable, covariates: Covariates
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimates without the rows of covariates absent at a level (within-only covariates at the
    between level and the reverse), with the covariates' fixed means (lavaan's `~1` rows; a
    covariate at both levels has one per level)."""
    absent = {"within": set(covariates.between), "between": set(covariates.within)}
    drop = np.zeros(len(estimates), dtype=bool)
    for level, names in absent.items():
        drop |= (estimates.level == level) & (estimates.lhs.isin(names) | estimates.rhs.isin(names))
    dropped_keys = {
        f"{p.key} (between)" if level == "between" else p.key
        for level, names in absent.items()
        for p in marker.free_params
        if {p.lhs, p.rhs} & names
    }
    levels = ["within" if n in covariates.within else "between" for n in covariates.means]
    both = covariates.latent.means  # within parts: mean 0; between parts: lavaan's h1 means
    means = pd.DataFrame(
        {
            "lhs": [*covariates.means, *both, *both],
            "op": "~1",
            "rhs": "",
            "label": "",
            "level": levels + ["within"] * len(both) + ["between"] * len(both),
            "est": [*covariates.means.values(), *[0.0] * len(both), *both.values()],
            "se": 0.0,
        }
    )
    out = pd.concat([estimates[~drop], means], ignore_index=True)[estimates.columns]
    return out, conv.loc[[k for k in conv.index if k not in dropped_keys]]


def level_effect_rows(
    effects: pd.DataFrame, conv: pd.DataFrame, spec: ModelSpec, covariates: Covariates
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Effects without those through a covariate absent at their level (a within-only
    covariate's effects exist within only, a between-only covariate's between only)."""
    absent = {"within": set(covariates.between), "between": set(covariates.within)}
    gone = {
        (e.name, level)
        for e in spec.effects
        for level, names in absent.items()
        if set(e.chain) & names
    }
    keep = [
        (name, level) not in gone for name, level in zip(effects.effect, effects.level, strict=True)
    ]
    dropped = [
        k
        for k in conv.index
        if any(k.startswith(f"{name} (") and k.endswith(f"({level})") for name, level in gone)
    ]
    return effects[keep].reset_index(drop=True), conv.drop(index=dropped)


def intercept_shift(
    marker: ParameterTable,
    within: np.ndarray,
    between: np.ndarray,
    covariates: Covariates,
    centres: np.ndarray,
    n_items: int,
) -> np.ndarray:
    """What lavaan's item intercepts subtract from the mean model's item means (raw metric,
    (chain, draw, items)): the covariates' effects on the items at the covariates' centres
    (the means the z-scores used; a covariate at both levels through its between part, its
    within part having mean 0)."""
    out = 0.0
    between_cols = np.concatenate([covariates.between_cols, covariates.both_cols]).astype(int)
    for theta, cols in ((within, covariates.within_cols), (between, between_cols)):
        if len(cols):
            a, _ = marker.matrices(theta)
            total = np.linalg.inv(np.eye(a.shape[-1]) - a)
            out = out + total[..., :n_items, cols] @ centres[cols]
    return out


def lavaan_syntax(spec: ModelSpec, covariates: Covariates) -> str:
    """The run's model as lavaan level blocks (`ModelSpec.to_lavaan`) with each covariate at its
    own level only, and without the named effects through a between-only covariate (their
    paths are unlabelled at level 2), for ``sem(model, data, cluster = ...)``."""
    parsed = spec.to_parsed()
    absent = {"1": set(covariates.between), "2": set(covariates.within)}
    elements = tuple(
        e for e in parsed.elements if not {e.lhs, e.rhs} & absent.get(str(e.level), set())
    )
    through = {e.name for e in spec.effects if set(e.chain) & set(covariates.between)}
    gone = through | {f"{n}_{kind}" for n in through for kind in ("direct", "total")}
    definitions = tuple(d for d in parsed.definitions if d.name not in gone)
    return render_model(replace(parsed, elements=elements, definitions=definitions))
