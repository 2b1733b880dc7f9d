"""Latent scores of the constructs, for models that sample them explicitly (ordinal items; the
components of latent interactions): which constructs get scores, which score column each item
loads on, the products of score columns, and the normal log-density of score rows written with
the pattern likelihood Op on their scatter matrix."""

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


def product_components(table: ParameterTable) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The constructs whose scores form the products (positions in `table.variables`, sorted),
    and for each product the score columns of its left and right component."""
    scored = sorted({k for _, left, right in table.products for k in (left, right)})
    left = np.array([scored.index(left) for _, left, _ in table.products], dtype=int)
    right = np.array([scored.index(right) for _, _, right in table.products], dtype=int)
    return scored, left, right
