"""Latent scores of the constructs measured by items, for models that sample them explicitly
(ordinal items; a latent interaction would need them too): which constructs get scores, which
score column each item loads on, and the normal log-density of score rows written with the
pattern likelihood Op on their scatter matrix."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bayeslead.bayes.kernels.moments import PatternMoments
from bayeslead.bayes.kernels.ops import pattern_loglik
from bayeslead.core.partable import ParameterTable


def first_order_constructs(table: ParameterTable) -> list[int]:
    """Positions in `table.variables` of the constructs measured directly by items, in order."""
    return sorted({loading_column(table, j) for j in range(table.n_manifest)})


def loading_column(table: ParameterTable, item: int) -> int:
    """Position in `table.variables` of the construct an item loads on."""
    for p in table.params:
        if p.kind == "loading" and p.row == item:
            return p.col
    raise ValueError(f"item {table.variables[item]} has no loading")


def normal_rows_logp(cov, rows, n: int, m: int):
    """Log-density of the `n` rows (n, m) of `rows` as independent N(0, `cov`) vectors, up to a
    constant; written with the likelihood Op on their scatter matrix."""
    moments = PatternMoments(
        np.ones((1, m)), np.array([float(n)]), np.zeros(1), np.zeros((1, m, m)), np.zeros((1, m))
    )
    return pattern_loglik(cov, pt.zeros(m), moments, scatter=(rows.T @ rows)[None])
