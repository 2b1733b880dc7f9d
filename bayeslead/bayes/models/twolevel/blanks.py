"""Blank answers in two-level models with continuous items: sampled as latent values.

The two-level likelihood of the filled-in responses (`kernels/twolevel.py`) is the joint
density of the observed and the blank answers given the parameters; with a flat prior on the
blank answers, integrating them out leaves the exact likelihood of the observed answers (data
augmentation, Tanner & Wong 1987): no respondent is dropped. The cluster means and centred rows
are then functions of the sampled answers, and the kernel returns their gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.kernels.twolevel import ClusterMoments, cluster_moments, cluster_positions
from bayeslead.errors import Problem

NAME = "blank_answers"  # the sampled blank answers (z-scores), one per blank cell


@dataclass(frozen=True)
class Blanks:
    """Where the blank answers sit in the padded cluster array (J, n_max, p)."""

    cluster: np.ndarray  # (b,) cluster index of each blank cell
    member: np.ndarray  # (b,) the row's position among its cluster's members
    item: np.ndarray  # (b,) item index
    start: np.ndarray  # (b,) start values: the item's observed mean in the cluster (else 0)
    members: np.ndarray  # (J, n_max) 1 for a member row, 0 for padding


def rows_used(blank: np.ndarray, complete: bool) -> tuple[np.ndarray, list[Problem]]:
    """Rows a two-level fit uses (`blank`: N x p, True = blank) and a warning naming how many
    were left out: rows with no answer (they carry no information), or with `complete` (observed
    covariates, whose within scatter needs complete rows) every row with a blank."""
    keep = ~blank.any(axis=1) if complete else ~blank.all(axis=1)
    if keep.all():
        return keep, []
    what = (
        "missing responses were left out (two-level models with observed covariates need "
        "complete rows; without covariates, blank answers stay in an exact likelihood)"
        if complete
        else "no responses were left out"
    )
    return keep, [Problem("data", f"{int((~keep).sum())} respondents with {what}", "warning")]


def moments_with_blanks(z: np.ndarray, cluster: np.ndarray) -> tuple[ClusterMoments, Blanks]:
    """Cluster moments of `z` (N x p z-scores, NaN = blank; every row has an answer) with the
    blanks at their start values, and the blanks' layout."""
    labels, index, position = cluster_positions(cluster)
    blank = np.isnan(z)
    observed = np.where(blank, 0.0, z)
    sums = np.zeros((len(labels), z.shape[1]))
    answered = np.zeros_like(sums)
    np.add.at(sums, index, observed)
    np.add.at(answered, index, ~blank)
    cluster_mean = np.divide(sums, answered, out=np.zeros_like(sums), where=answered > 0)
    rows, items = np.nonzero(blank)
    start = cluster_mean[index[rows], items]
    filled = z.copy()
    filled[rows, items] = start
    moments = cluster_moments(filled, cluster)
    members = np.zeros(moments.centred.shape[:2])
    members[index, position] = 1.0
    return moments, Blanks(index[rows], position[rows], items, start, members)


def sampled_moments(moments: ClusterMoments, blanks: Blanks) -> tuple:
    """Cluster means (J, p) and centred member rows (J, n_max, p) with the blank answers the
    model variable `blank_answers` (flat prior), inside a model."""
    values = pm.Flat(NAME, shape=len(blanks.item))
    members = blanks.members[:, :, None]
    rows = moments.centred + moments.means[:, None, :] * members  # the filled rows, padded
    filled = pt.set_subtensor(
        pt.as_tensor_variable(rows)[blanks.cluster, blanks.member, blanks.item], values
    )
    means = filled.sum(axis=1) / moments.counts[:, None]
    centred = (filled - means[:, None, :]) * members
    return means, centred


def missing_statement(ordinal: bool, blanks: Blanks | None, dropped: int) -> str:
    """How a two-level fit treated blank answers (the run's `info.missing`); `dropped` rows
    were left out."""
    if ordinal:
        return "blank answers are left out of the likelihood (missing at random)"
    if blanks is not None:
        return (
            f"exact likelihood of the observed answers: {len(blanks.item)} blank answers "
            "sampled as latent values (data augmentation; missing at random)"
        )
    if dropped:
        return "listwise (two-level models with observed covariates need complete rows)"
    return "none (complete data)"
