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
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.kernels.twolevel import ClusterMoments, cluster_moments, cluster_positions
from bayeslead.data.values import file_rows
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
    # (J, n_max, q) level-1 covariates' member rows less their cluster means (zero padding)
    covariate_rows: np.ndarray | None = None


def rows_used(
    frame: pd.DataFrame, n_items: int, first_row: int = 2
) -> tuple[np.ndarray, list[Problem], dict[str, list[int]]]:
    """Rows a two-level fit uses (`frame`: the manifest variables, items first, NaN = blank;
    its index the data rows, `first_row` the file row of index 0), warnings naming how many and
    which file rows were left out, and those file rows by reason: rows without an answer (they
    carry no information) and rows with an answer and a blank observed covariate (fixed and
    conditioned on, as lavaan's fixed.x; lavaan leaves these rows out too)."""
    blank = frame.isna().to_numpy()
    no_answer = blank[:, :n_items].all(axis=1)
    covariates = blank[:, n_items:] & ~no_answer[:, None]
    no_covariate = covariates.any(axis=1)
    counts = ", ".join(
        f"{name}: {int(count)}"
        for name, count in zip(frame.columns[n_items:], covariates.sum(axis=0), strict=True)
        if count
    )
    reasons = (
        ("no_answer", no_answer, "no responses were left out"),
        (
            "blank_covariate",
            no_covariate,
            f"a blank observed covariate ({counts}) were left out (fixed.x, as lavaan)",
        ),
    )
    problems, left_out = [], {}
    for reason, mask, what in reasons:
        if not mask.any():
            continue
        rows = frame.index[mask]
        left_out[reason] = [int(i) + first_row for i in rows]
        text = f"{len(rows)} respondents with {what}: {file_rows(rows, first_row)}"
        problems.append(Problem("data", f"{text} (the header is row 1)", "warning"))
    return ~(no_answer | no_covariate), problems, left_out


def moments_with_blanks(
    z: np.ndarray, cluster: np.ndarray, covariates: np.ndarray | None = None
) -> tuple[ClusterMoments, Blanks]:
    """Cluster moments of `z` (N x p z-scores, NaN = blank; every row has an answer) with the
    blanks at their start values, and the blanks' layout; with `covariates` (N x q, level-1
    covariates, complete), also their member rows less their cluster means."""
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
    padded = None
    if covariates is not None and covariates.shape[1]:
        padded = cluster_moments(covariates, cluster).centred
    return moments, Blanks(index[rows], position[rows], items, start, members, padded)


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


def joined_scatter(centred, blanks: Blanks):
    """The pooled within-cluster scatter of [items, level-1 covariates] (symbolic) from the
    items' centred rows `centred` (J, n_max, p) and the covariates' (`blanks.covariate_rows`)."""
    rows = pt.concatenate([centred, blanks.covariate_rows], axis=2)
    flat = rows.reshape((-1, rows.shape[2]))
    return flat.T @ flat


def missing_statement(ordinal: bool, blanks: Blanks | None, dropped: int) -> str:
    """How a two-level fit treated blank answers (the run's `info.missing`); `dropped` rows
    (no answer, or a blank covariate) were left out."""
    left_out = f"; {dropped} rows without an answer or with a blank covariate left out"
    left_out = left_out if dropped else ""
    if ordinal:
        return "blank answers are left out of the likelihood (missing at random)" + left_out
    if blanks is not None:
        return (
            f"exact likelihood of the observed answers: {len(blanks.item)} blank answers "
            "sampled as latent values (data augmentation; missing at random)" + left_out
        )
    return "none (complete data)" + left_out
