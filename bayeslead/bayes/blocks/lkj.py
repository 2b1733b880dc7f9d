"""LKJ correlation matrices by the C-vine construction (Lewandowski, Kurowicka & Joe 2009):
Beta shapes of the partial correlations, the Cholesky factor from them, and back."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt


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
