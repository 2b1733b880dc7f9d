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


def grouped_normal_rows_logp(cov, rows, group, counts, n_groups: int, m: int):
    """Log-density of the rows (n, m) of `rows` as independent N(0, cov_g) vectors, up to a
    constant, row i in group `group[i]`, `counts[g]` rows in group g (arrays or data
    containers: the group sizes are data); `cov` is (G, m, m). One likelihood Op: the groups'
    covariances are the diagonal blocks of a (G m, G m) matrix, each group a pattern observing
    its block, with its rows' scatter matrix."""
    one_hot = pt.eq(group[:, None], np.arange(n_groups)[None, :]).astype("float64")
    spread = (one_hot[:, :, None] * rows[:, None, :]).reshape((rows.shape[0], n_groups * m))
    scatter = pt.dot(spread.T, rows).reshape((n_groups, m, m))
    g, a, b = np.meshgrid(np.arange(n_groups), np.arange(m), np.arange(m), indexing="ij")
    block_row, block_col = (g * m + a).ravel(), (g * m + b).ravel()
    sigma = pt.zeros((n_groups * m, n_groups * m))[block_row, block_col].set(cov.ravel())
    padded = pt.zeros((n_groups, n_groups * m, n_groups * m))
    padded = padded[g.ravel(), block_row, block_col].set(scatter.ravel())
    observed = np.repeat(np.eye(n_groups), m, axis=1)  # (G, G m): group g observes its block
    moments = PatternMoments(
        observed,
        np.zeros(n_groups),
        np.zeros(n_groups),
        np.zeros((n_groups, n_groups * m, n_groups * m)),
        np.zeros((n_groups, n_groups * m)),
    )
    return pattern_loglik(sigma, pt.zeros(n_groups * m), moments, scatter=padded, weight=counts)


def product_components(table: ParameterTable) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The constructs whose scores form the products (positions in `table.variables`, sorted),
    and for each product the score columns of its left and right component."""
    scored = sorted({k for _, left, right in table.products for k in (left, right)})
    left = np.array([scored.index(left) for _, left, _ in table.products], dtype=int)
    right = np.array([scored.index(right) for _, _, right in table.products], dtype=int)
    return scored, left, right
