"""R-squared of every endogenous variable, as lavaan's ``inspect(fit, "r2")``.

A variable is endogenous when something points at it in the RAM matrix A: every indicator item,
first-order constructs measured by a second-order construct, and constructs or observed variables
regressed on others. Its R-squared is the share of its model-implied variance that is not
residual, ``1 - S[i, i] / Omega[i, i]``; with latent interactions Omega includes the products'
variance (the interaction's share counts as explained). Like the rest of the core, the functions accept one
parameter vector or a batch (bootstrap replicates, posterior draws) with parameters last.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from bayeslead.core.batches import in_blocks
from bayeslead.core.conditional import product_moments
from bayeslead.core.partable import ParameterTable


def endogenous(table: ParameterTable) -> tuple[str, ...]:
    """Variables with an R-squared, in lavaan's order: manifest variables first, then constructs."""
    targets = {p.row for p in table.params if p.matrix == "A"}
    return tuple(name for k, name in enumerate(table.variables) if k in targets)


def r_squared(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """R-squared of each `endogenous` variable, shape (..., k)."""
    return in_blocks(partial(_r_squared_block, table), theta)


def _r_squared_block(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    a, s = table.matrices(theta)
    _, omega = product_moments(table, a, s)
    total = np.diagonal(omega, 0, -2, -1)
    residual = np.diagonal(s, 0, -2, -1)
    index = [table.variables.index(name) for name in endogenous(table)]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - residual[..., index] / total[..., index]
