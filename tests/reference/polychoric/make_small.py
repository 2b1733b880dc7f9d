"""Writes ref/small.csv: 400 x 8 ordinal items, 10% MCAR blanks, mixed numbers of categories
(2, 3, 4, 6, 7), one item whose lowest category never occurs. Input for small_lavaan.R."""

import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 400
f = rng.standard_normal((n, 2))
lam = np.array([0.7, 0.6, -0.5, 0.8, 0.5, 0.7, -0.6, 0.4])
ystar = np.column_stack(
    [lam[j] * f[:, j // 4] + np.sqrt(1 - lam[j] ** 2) * rng.standard_normal(n) for j in range(8)]
)
cuts = [
    [0.3],
    [-0.5, 0.6],
    [-1.0, 0.0, 1.0],
    [-1.5, -0.7, 0.2, 1.0, 1.8],
    [-1.2, -0.4, 0.4, 1.2],
    [-1.8, -1.0, -0.3, 0.3, 1.0, 1.8],
    [-0.8, 0.1, 0.9],
    [-0.2, 0.5, 1.3, 2.0],
]
x = np.column_stack([1 + np.searchsorted(c, ystar[:, j]) for j, c in enumerate(cuts)]).astype(float)
x[:, 7] += 1  # values 2..5: the scale's lowest category (1) unused
x[rng.random(x.shape) < 0.10] = np.nan
pd.DataFrame(x, columns=[f"y{j + 1}" for j in range(8)]).to_csv("small.csv", index=False, na_rep="")
