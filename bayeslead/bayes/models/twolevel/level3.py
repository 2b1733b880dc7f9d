"""A third level for two-level models: clusters (firms) nested in level-3 units (industries).

Each level-3 unit k has intercepts of the first-order constructs, eta_k = level3_sd * z_k with
z_k standard normal (non-centred; independent across constructs: with the handful of level-3
units surveys have, a covariance matrix at that level is not estimable). A cluster's item means
shift by Lambda eta_k(j); the cluster likelihood of the two-level kernel is otherwise unchanged
(it takes the shift as a per-cluster mean offset, with its gradient). The level-3 intercepts are
variance components: they add to a construct's level, not to its paths (as Mplus' three-level
random-intercept models without a level-3 structural model). Each construct's variance then
splits into within-cluster, between-cluster and level-3 parts; `icc.csv` reports the share
between clusters (cluster and level 3 together, the classic ICC of respondents in one cluster)
and the level-3 share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.blocks.parameters import rv
from bayeslead.bayes.blocks.scores import first_order_constructs
from bayeslead.bayes.posterior import summarize
from bayeslead.bayes.priors import PriorSet
from bayeslead.core.partable import ParameterTable
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem

FEW_UNITS = 5  # level-3 units below which the level-3 SDs are mostly prior


@dataclass(frozen=True)
class Level3:
    """Level-3 units and which unit each cluster belongs to."""

    column: str
    labels: np.ndarray  # (K,) unit ids, in order
    unit_of_cluster: np.ndarray  # (J,) index into labels, clusters in ClusterMoments order


def level3_units(
    data: ResponseData, column: str, clusters: np.ndarray, cluster_labels: np.ndarray
) -> tuple[Level3, list[Problem]]:
    """Level-3 unit of every cluster; errors for missing ids, clusters split across units and a
    single unit. `clusters` is the cluster id of each row of `data`, `cluster_labels` the
    clusters in the order the likelihood uses."""
    ids = data.id_column(column, "level-3 ids")
    where = f"Data file {data.path}, column '{column}'"
    pairs = pd.DataFrame({"cluster": clusters, "unit": ids.to_numpy()}).drop_duplicates()
    split = pairs.cluster[pairs.cluster.duplicated()].unique()
    if len(split):
        shown = ", ".join(str(c) for c in split[:5])
        raise InputError(
            f"{where}: clusters {shown} belong to more than one level-3 unit; clusters must be "
            "nested in level-3 units (each firm in one industry)"
        )
    unit = pairs.set_index("cluster").unit
    labels = np.unique(unit.to_numpy())
    if len(labels) < 2:
        raise InputError(
            f"{where}: a single level-3 unit; its variance cannot be estimated (remove data.level3)"
        )
    problems = []
    if len(labels) < FEW_UNITS:
        problems.append(
            Problem(
                column,
                f"only {len(labels)} level-3 units: their variance is estimated mostly from the "
                "prior (level3_sd)",
                "warning",
            )
        )
    index = np.searchsorted(labels, unit.loc[list(cluster_labels)].to_numpy())
    return Level3(column, labels, index), problems


def level3_offsets(table: ParameterTable, priors: PriorSet, lam, level3: Level3):
    """Inside a model: each cluster's item-mean offset (J, p), Lambda times its level-3 unit's
    construct intercepts (`level3_sd`, `level3_z`)."""
    model = pm.modelcontext(None)
    p = table.n_manifest
    first = np.array(first_order_constructs(table)) - p
    model.add_coord("level3", [str(label) for label in level3.labels])
    model.add_coord("level3_latent", [table.variables[p + k] for k in first])
    sd = rv("level3_sd", priors.classes["level3_sd"], dims="level3_latent")
    z = pm.Normal("level3_z", 0.0, 1.0, dims=("level3", "level3_latent"))
    shift = pt.dot(z * sd[None, :], lam[:, first].T)  # (K, p)
    return shift[level3.unit_of_cluster]


def level3_start(table: ParameterTable, level3: Level3) -> dict[str, np.ndarray]:
    """Initial values: SDs 0.2, intercepts near zero (nutpie refuses exactly zero gradients)."""
    m = len(first_order_constructs(table))
    shape = (len(level3.labels), m)
    return {
        "level3_sd": np.full(m, 0.2),
        "level3_z": 0.01 * np.random.default_rng(1).standard_normal(shape),
    }


def level3_variances(table: ParameterTable, post) -> np.ndarray:
    """Level-3 variance of every construct on the sampled (std.lv) metric, (chain, draw, m);
    zero for constructs without items (second-order)."""
    p = table.n_manifest
    sd = post["level3_sd"].values
    out = np.zeros((*sd.shape[:2], len(table.variables) - p))
    out[..., np.array(first_order_constructs(table)) - p] = sd**2
    return out


def level3_rows(table: ParameterTable, post, scales: np.ndarray, hdi_prob: float):
    """`~~` rows (level `level3`) of the construct variances between level-3 units on lavaan's
    marker metric, and their convergence rows."""
    first = np.array(first_order_constructs(table))
    names = [table.variables[k] for k in first]
    variance = post["level3_sd"].values ** 2 * scales[..., first] ** 2
    summary = summarize(variance, hdi_prob)
    rows = pd.DataFrame({"lhs": names, "op": "~~", "rhs": names, "label": ""})
    out = pd.concat([rows, summary], axis=1)
    out["std_est"] = np.nan
    out["level"] = "level3"
    conv = summary[["rhat", "ess_bulk", "ess_tail"]].copy()
    conv.index = [f"{n} ~~ {n} (level3)" for n in names]
    return out, conv
