"""Blank answers in two-level models with continuous items: integrated out, or sampled.

Without level-1 covariates the blank answers are integrated out exactly: each cluster is filled
in at the blank answers' conditional means given its observed answers and the parameters, and
the filled-in likelihood (`kernels/twolevel.py`) plus the log-determinant correction of
`kernels/twolevel_blanks.py` is the likelihood of the observed answers (lavaan's two-level
FIML); no variable per blank answer is sampled. With level-1 covariates (whose within scatter
with the items is a term of its own, `covariates.py`) they are sampled as latent values: the
two-level likelihood of the filled-in responses is the joint density of the observed and the
blank answers given the parameters; with a flat prior on the blank answers, integrating them out
leaves the exact likelihood of the observed answers (data augmentation, Tanner & Wong 1987). The
cluster means and centred rows are then functions of the sampled answers, and the kernel returns
their gradients. Either way no respondent with an answer is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.kernels.twolevel import ClusterMoments, cluster_moments, cluster_positions
from bayeslead.bayes.kernels.twolevel_blanks import BlankCells, blank_cells
from bayeslead.bayes.kernels.twolevel_blanks_op import blank_correction
from bayeslead.data.values import file_rows
from bayeslead.errors import InputError, Problem

NAME = "blank_answers"  # the sampled blank answers (z-scores), one per blank cell
# Blank answers are integrated out when no cluster has more blank cells than this: the exact
# correction costs one Cholesky factorisation per cluster, O(cells^3). Measured per evaluation
# (bench/twolevel_blank_kernels.py, 50 clusters x 10, 20 items, 2026-12-06): 5% blanks (at most
# 17 cells per cluster) 89 us beside the complete-data kernel's 104 us; 20% blanks (at most 51)
# 1,690 us. Sampled blank answers cost little per evaluation but shorten NUTS trajectories.
INTEGRATED_CELLS = 24


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
    # the cells sorted cluster by cluster when the blank answers are integrated out (None:
    # sampled, with level-1 covariates or many blank cells in a cluster)
    cells: BlankCells | None = None


def rows_used(blank: np.ndarray, n_items: int) -> tuple[np.ndarray, list[Problem]]:
    """Rows a two-level fit uses (`blank`: N x items, True = blank): rows with an answer, and a
    warning counting the rows without one (they carry no information)."""
    no_answer = blank[:, :n_items].all(axis=1)
    count = int(no_answer.sum())
    problems = [Problem("data", f"{count} respondents with no responses were left out", "warning")]
    return ~no_answer, problems if count else []


def refuse_blank_covariates(frame: pd.DataFrame, n_items: int, path) -> None:
    """An input error naming the rows (with an answer) whose observed covariates are blank:
    two-level models condition on their covariates (lavaan's fixed.x), so such a row cannot be
    used, and leaving it out (lavaan's and Mplus's default, with a warning) would change the
    sample behind the researcher's back."""
    covariates = list(frame.columns[n_items:])
    answered = frame.iloc[:, :n_items].notna().any(axis=1).to_numpy(dtype=bool)
    blank = frame[covariates].isna().to_numpy(dtype=bool) & answered[:, None]
    if not blank.any():
        return
    rows = frame.index[blank.any(axis=1)]
    names = [c for c, hit in zip(covariates, blank.any(axis=0), strict=True) if hit]
    raise InputError(
        f"Data file {path}: {file_rows(rows)} have a blank observed covariate "
        f"({', '.join(names)}; {len(rows)} rows). Two-level models condition on their observed "
        "covariates (lavaan's fixed.x), so a row without its covariate values cannot be used: "
        "fill the values in (e.g. multiple imputation) or remove these rows from the data file"
    )


def moments_with_blanks(
    z: np.ndarray, cluster: np.ndarray, covariates: np.ndarray | None = None
) -> tuple[ClusterMoments, Blanks]:
    """Cluster moments of `z` (N x p z-scores, NaN = blank; every row has an answer) with the
    blanks at their start values, and the blanks' layout; with `covariates` (N x q, level-1
    covariates, complete), also their member rows less their cluster means (the blank answers
    are then sampled), else the cells to integrate out when no cluster has more than
    `INTEGRATED_CELLS`."""
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
    padded = cells = None
    if covariates is not None and covariates.shape[1]:
        padded = cluster_moments(covariates, cluster).centred
    elif np.bincount(index[rows], minlength=len(labels)).max() <= INTEGRATED_CELLS:
        cells, _ = blank_cells(index[rows], position[rows], items, members, z.shape[1])
    blanks = Blanks(index[rows], position[rows], items, start, members, padded, cells)
    return moments, blanks


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


def integrated_moments(moments: ClusterMoments, blanks: Blanks, matrices: tuple, shift) -> tuple:
    """Cluster means (J, p) and centred member rows (J, n_max, p) filled in at the blank answers'
    conditional means, and the log-determinant correction that makes the filled-in likelihood
    the observed answers' likelihood (`kernels/twolevel_blanks.py`), symbolic; `matrices`: the
    two-level kernel's (lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes, rows,
    cols, depth), `shift` (J, p) each cluster's expected item means (intercepts plus offsets).
    The filling carries no gradient (it maximises the filled-in likelihood over the blank
    answers)."""
    members = blanks.members[:, :, None]
    rows = moments.centred + moments.means[:, None, :] * members  # the member rows, padded
    shift = shift + np.zeros(moments.means.shape)  # (1, p) intercepts: one row per cluster
    correction, means, centred = blank_correction(
        matrices, moments.counts, rows, shift, blanks.cells
    )
    return means, centred, correction


def joined_scatter(centred, blanks: Blanks):
    """The pooled within-cluster scatter of [items, level-1 covariates] (symbolic) from the
    items' centred rows `centred` (J, n_max, p) and the covariates' (`blanks.covariate_rows`)."""
    rows = pt.concatenate([centred, blanks.covariate_rows], axis=2)
    flat = rows.reshape((-1, rows.shape[2]))
    return flat.T @ flat


def missing_statement(ordinal: bool, blanks: Blanks | None, dropped: int) -> str:
    """How a two-level fit treated blank answers (the run's `info.missing`); `dropped` rows
    (without an answer) were left out."""
    left_out = f"; {dropped} rows without an answer left out"
    left_out = left_out if dropped else ""
    if ordinal:
        return "blank answers are left out of the likelihood (missing at random)" + left_out
    if blanks is not None and blanks.cells is not None:
        return (
            f"exact likelihood of the observed answers: {len(blanks.item)} blank answers "
            "integrated out analytically (missing at random)" + left_out
        )
    if blanks is not None:
        return (
            f"exact likelihood of the observed answers: {len(blanks.item)} blank answers "
            "sampled as latent values (data augmentation; missing at random)" + left_out
        )
    return "none (complete data)" + left_out
