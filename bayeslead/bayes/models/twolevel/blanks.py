"""Blank answers in two-level models with continuous items: integrated out exactly per cluster.

A cluster's n_j stacked rows have covariance I (x) Sigma_W,j + J (x) Sigma_B, whose precision is
P = I (x) W_j + J (x) D_j with W_j = Sigma_W,j^-1 and D_j = ((Sigma_W,j + n_j Sigma_B)^-1 - W_j) / n_j.
Given the observed answers, the cluster's m_j blank answers are normal with precision P_mm
(entries delta_ii' (W_j)_ab + (D_j)_ab for blank cells (i, a), (i', b)) and mean

    yhat_m = mu_m - P_mm^-1 (P r)_m,   r = y - mu with the blank entries set to 0,

so the observed answers' exact log-density (lavaan's two-level FIML) is the complete-data
density at the blanks' conditional mean plus the conditional's normalising constant:

    log p(y_o) = log p(y_o, y_m = yhat_m) - 1/2 log|P_mm| + (m_j / 2) log(2 pi).

The gradient is Fisher's identity: the expected complete-data gradient given the observed
answers. With the blanks' conditional covariance V = P_mm^-1, the expected within scatter is
that of the filled-in rows plus A_j = sum_i Cov(e_i) - n_j Cov(ebar), and the expected d d' of
the cluster mean that of the filled-in mean plus B_j = Cov(ebar) (e: the blanks' deviations
from yhat_m). The two-level kernel (`kernels/twolevel_terms.py`) takes the filled-in rows as data and
A, B as additions to one cluster's scatter per group of clusters sharing W_j and D_j, so its
value is the expected complete-data log-density, log p(y_o, yhat_m) - m_j / 2, and its gradient
the observed answers' exact one; the potential `blank_answers`, -1/2 log|P_mm| + (m_j / 2)
(log(2 pi) + 1), makes up the value and has no gradient. Nothing here is differentiated
through: one numba Op (`kernels/twolevel_blanks.py`) builds Sigma_W,j and Sigma_B from the
model's matrices as the kernel does and computes yhat_m, A, B and the log-determinant. mu_m is each row's expected value: the item means, the
cluster's mean shift (level-3 intercepts, covariates' effects) and, with level-1 covariates,
their within effects on the row (``A_W (x_ij - xbar_j)``). Random slopes make W_j and D_j
cluster-specific. No blank answer is sampled; no respondent is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslead.bayes.kernels.twolevel import (
    ClusterMoments,
    FilledRows,
    cluster_moments,
    cluster_positions,
)
from bayeslead.bayes.kernels.twolevel_blanks import BlankIntegral
from bayeslead.data.values import file_rows
from bayeslead.errors import Problem


@dataclass(frozen=True)
class Blanks:
    """Where the blank answers sit in the padded cluster array (J, n_max, p)."""

    cluster: np.ndarray  # (b,) cluster index of each blank cell
    member: np.ndarray  # (b,) the row's position among its cluster's members
    item: np.ndarray  # (b,) item index
    slot: np.ndarray  # (b,) the cell's position among its cluster's blank cells
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
    """Cluster moments of `z` (N x p z-scores, NaN = blank; every row has an answer) with each
    blank at its item's observed mean in the cluster (else 0; start values only: the model
    replaces them by their conditional means), and the blanks' layout; with `covariates`
    (N x q, level-1 covariates, complete), also their member rows less their cluster means."""
    labels, index, position = cluster_positions(cluster)
    blank = np.isnan(z)
    observed = np.where(blank, 0.0, z)
    sums = np.zeros((len(labels), z.shape[1]))
    answered = np.zeros_like(sums)
    np.add.at(sums, index, observed)
    np.add.at(answered, index, ~blank)
    cluster_mean = np.divide(sums, answered, out=np.zeros_like(sums), where=answered > 0)
    rows, items = np.nonzero(blank)
    filled = z.copy()
    filled[rows, items] = cluster_mean[index[rows], items]
    moments = cluster_moments(filled, cluster)
    members = np.zeros(moments.centred.shape[:2])
    members[index, position] = 1.0
    slot = np.zeros(len(rows), dtype=int)
    seen = np.zeros(len(labels), dtype=int)
    for k, j in enumerate(index[rows]):
        slot[k] = seen[j]
        seen[j] += 1
    padded = None
    if covariates is not None and covariates.shape[1]:
        padded = cluster_moments(covariates, cluster).centred
    return moments, Blanks(index[rows], position[rows], items, slot, members, padded)


def blank_layout(blanks: Blanks, counts: np.ndarray, per_cluster: bool) -> tuple:
    """The constants `BlankIntegral` and the kernel take besides the data: each cluster's
    within and group index, the groups' sizes, the blank cells' items and members (J, M), their
    number per cluster, and the kernel's extra_index (each group's first cluster with blanks
    carries the group's expected-scatter additions). Groups share W and D: clusters of one size,
    or (`per_cluster`, random slopes) each cluster alone."""
    n_clusters = len(counts)
    if per_cluster:
        within = group = np.arange(n_clusters)
        sizes = np.asarray(counts, dtype=float)
    else:
        sizes, group = np.unique(counts, return_inverse=True)
        group = np.ravel(group)
        within = np.zeros(n_clusters, dtype=int)
    width = int(blanks.slot.max(initial=0)) + 1  # each cluster's blank cells, padded
    slot_item = np.zeros((n_clusters, width), dtype=int)
    slot_member = np.zeros((n_clusters, width), dtype=int)
    slot_item[blanks.cluster, blanks.slot] = blanks.item
    slot_member[blanks.cluster, blanks.slot] = blanks.member
    n_slots = np.bincount(blanks.cluster, minlength=n_clusters)
    index = np.full(n_clusters, -1)
    for j in np.flatnonzero(n_slots)[::-1]:
        index[index == group[j]] = -1
        index[j] = group[j]
    return within, group, sizes, slot_item, slot_member, n_slots, index


def blank_moments(
    moments: ClusterMoments, blanks: Blanks, parameters: tuple, depth: int, offsets=None, a_w=None
) -> FilledRows:
    """Cluster means (J, p) and centred member rows (J, n_max, p) with every blank answer at
    its conditional mean given the cluster's observed answers and the kernel's expected-scatter
    additions (extra_index, A, B): the two-level kernel's `data`, inside a model, without
    gradient; adds the log-density term ``sum_j -1/2 log|P_mm,j| + (m_j / 2) (log(2 pi) + 1)``
    as the potential `blank_answers` (see the module docstring; `kernels/twolevel_blanks.py`).
    `parameters`: the kernel's (lam, theta_w, theta_b, psi_w, psi_b, beta_w, beta_b, slopes,
    slope rows, slope columns, mu); each member row's expected value is mu plus the clusters'
    mean shifts `offsets` (J, p) and, with level-1 covariates, their within effects `a_w`
    (items x covariates) on the row's centred covariates."""
    counts = np.asarray(moments.counts)
    *layout, index = blank_layout(blanks, counts, len(parameters[8]) > 0)
    shift = np.zeros(moments.centred.shape)
    if a_w is not None and blanks.covariate_rows is not None:
        shift = pt.dot(blanks.covariate_rows, a_w.T)
    if offsets is None:
        offsets = np.zeros(moments.means.shape)
    rows = moments.centred + moments.means[:, None, :] * blanks.members[:, :, None]
    value, means, centred, extra_w, extra_b = BlankIntegral(depth)(
        *parameters, offsets, shift, rows, blanks.members, *layout
    )
    pm.Potential("blank_answers", value)
    return FilledRows(means, centred, index, extra_w, extra_b)


def joined_scatter(centred, blanks: Blanks, extra_w):
    """The pooled expected within-cluster scatter of [items, level-1 covariates] (symbolic)
    from the items' centred rows `centred` (J, n_max, p), the covariates'
    (`blanks.covariate_rows`) and the blanks' expected-scatter additions `extra_w` (G, p, p)."""
    rows = pt.concatenate([centred, blanks.covariate_rows], axis=2)
    flat = rows.reshape((-1, rows.shape[2]))
    k = extra_w.shape[1]
    extra = pt.zeros((rows.shape[2], rows.shape[2]))
    return flat.T @ flat + pt.set_subtensor(extra[:k, :k], extra_w.sum(axis=0))


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
            "integrated out per cluster (missing at random)" + left_out
        )
    return "none (complete data)" + left_out
