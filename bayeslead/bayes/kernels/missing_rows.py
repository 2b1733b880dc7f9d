"""Respondents with blank cells prepared for the exact missing-data kernel (`missing.py`):
sufficient statistics of the low-rank route and the incomplete rows grouped by pattern.

`row_layout` works out where each respondent of a blank-cell mask goes (once per mask);
`RowLayout.fill` puts a data set's values there, so data sets with the same blanks (posterior
predictive replicates) skip the pattern search. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RowData:
    """Respondents prepared for `rows_loglik` (z-scored items, NaN = missing, all-missing rows
    removed beforehand).

    Low-rank route ("lowrank" respondents: complete ones and patterns with k <= p - k) enter
    `stats`/`sums`/`count` (sufficient statistics of their zero-filled rows); every incomplete
    respondent also appears in `rows`, grouped by missing-data pattern.
    """

    stats: np.ndarray  # (3, p, p): sum yt yt', sum yt o', sum o o' over lowrank respondents
    sums: np.ndarray  # (p,) sum yt over lowrank respondents (yt = y zero-filled)
    count: float  # lowrank respondents
    rows: np.ndarray  # (R, p) incomplete respondents, zero-filled, grouped by pattern
    order: np.ndarray  # (G, p) int64: the pattern's k missing items, then its observed items
    n_missing: np.ndarray  # (G,) int64: k per pattern
    starts: np.ndarray  # (G + 1,) int64: rows[starts[g]:starts[g + 1]] have pattern g
    direct: np.ndarray  # (G,) int64: 1 = direct route (factorise Sigma_oo)

    @property
    def arrays(self) -> tuple:
        """The kernel's data arguments, in order."""
        return (
            self.stats,
            self.sums,
            self.count,
            self.rows,
            self.order,
            self.n_missing,
            self.starts,
            self.direct,
        )


@dataclass(frozen=True)
class RowLayout:
    """Where the respondents of one blank-cell mask go in `RowData`: computed once per mask, so
    data sets with the same blanks (posterior predictive replicates) are prepared by `fill`."""

    seen: np.ndarray  # (N, p) bool: True where answered
    lowrank: np.ndarray  # (N,) bool: respondents in the sufficient statistics
    members: np.ndarray  # (R,) int64: the incomplete respondents, grouped by pattern
    order: np.ndarray  # (G, p) int64, as RowData.order
    n_missing: np.ndarray  # (G,) int64
    starts: np.ndarray  # (G + 1,) int64
    direct: np.ndarray  # (G,) int64

    def fill(self, z: np.ndarray) -> RowData:
        """`RowData` of `z` (N x p; its values at the unseen cells are ignored)."""
        filled = np.where(self.seen, z, 0.0)
        o = self.seen[self.lowrank].astype(float)
        yt = filled[self.lowrank]
        return RowData(
            stats=np.stack([yt.T @ yt, yt.T @ o, o.T @ o]),
            sums=yt.sum(axis=0),
            count=float(self.lowrank.sum()),
            rows=filled[self.members],
            order=self.order,
            n_missing=self.n_missing,
            starts=self.starts,
            direct=self.direct,
        )


def row_layout(seen: np.ndarray, direct_above: float = 0.5) -> RowLayout:
    """The `RowLayout` of a blank-cell mask (`seen`: N x p, True where answered).

    A pattern takes the direct route when more than `direct_above` of its items are missing
    (1.0 = never, 0.0 = every incomplete pattern; both are exact)."""
    seen = np.asarray(seen, dtype=bool)
    p = seen.shape[1]
    if not seen.any(axis=1).all():
        raise ValueError("rows with no observed item must be removed first")
    keys, inverse = np.unique(seen, axis=0, return_inverse=True)
    inverse = np.ravel(inverse)
    k_of = p - keys.sum(axis=1)
    is_direct = k_of > direct_above * p
    # low-rank patterns first, by k (the kernel inverts runs of equal k together), then direct
    incomplete = sorted(
        (g for g in range(len(keys)) if k_of[g] > 0), key=lambda g: (is_direct[g], k_of[g])
    )
    members = [np.flatnonzero(inverse == g) for g in incomplete]
    order = [
        np.concatenate([np.flatnonzero(~keys[g]), np.flatnonzero(keys[g])]) for g in incomplete
    ]
    return RowLayout(
        seen=seen,
        lowrank=~is_direct[inverse],
        members=np.concatenate(members) if members else np.zeros(0, dtype=np.int64),
        order=np.array(order, dtype=np.int64).reshape(-1, p),
        n_missing=np.array([k_of[g] for g in incomplete], dtype=np.int64),
        starts=np.cumsum([0, *map(len, members)], dtype=np.int64),
        direct=np.array([int(is_direct[g]) for g in incomplete], dtype=np.int64),
    )


def row_data(z: np.ndarray, direct_above: float = 0.5) -> RowData:
    """Prepare `z` (N x p, NaN = missing) for `rows_loglik` (see `row_layout`)."""
    z = np.asarray(z, dtype=float)
    return row_layout(~np.isnan(z), direct_above).fill(z)
