"""Symbolic RAM algebra (McArdle & McDonald 1984) for PyMC models: A and S from the free
parameters, and the implied covariance ``B S B'`` with ``B = (I - A)^-1`` written with matrix
products only (A is nilpotent for recursive models)."""

from __future__ import annotations

import graphlib

import numpy as np
import pytensor.tensor as pt

from bayeslead.bayes.kernels.ram import RamCovariance
from bayeslead.core.partable import ParameterTable


def _basis(
    table: ParameterTable, matrix: str, first: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot basis of the free entries of A or S (variables from `first` on), and the
    fixed part of that block.

    ``M = dot(theta_sub, basis) + fixed``: one matrix product instead of indexed updates,
    which keeps the compiled graph small and fast.
    """
    v = len(table.variables) - first
    params = [p for p in table.params if p.matrix == matrix and min(p.row, p.col) >= first]
    free = [p for p in params if p.free >= 0]
    basis = np.zeros((len(free), v, v))
    fixed = np.zeros((v, v))
    for k, p in enumerate(free):
        basis[k, p.row - first, p.col - first] = 1.0
        if matrix == "S":
            basis[k, p.col - first, p.row - first] = 1.0
    for p in params:
        if p.free < 0:
            fixed[p.row - first, p.col - first] = p.value
            if matrix == "S":
                fixed[p.col - first, p.row - first] = p.value
    return np.array([p.free for p in free], dtype=int), basis, fixed


def ram_matrices(table: ParameterTable, theta, first: int = 0) -> tuple:
    """Symbolic RAM matrices A and S (the block of variables `first`, `first` + 1, ...)."""
    out = []
    for matrix in ("A", "S"):
        index, basis, fixed = _basis(table, matrix, first)
        value = pt.as_tensor(fixed)
        if len(index):
            flat = pt.dot(theta[index], basis.reshape(len(index), -1))
            value = value + flat.reshape(fixed.shape)
        out.append(value)
    return out[0], out[1]


def path_depth(table: ParameterTable) -> int:
    """Length of the longest directed path in A (A is nilpotent: A^(depth+1) = 0)."""
    a = np.zeros((len(table.variables),) * 2)
    for p in table.params:
        if p.matrix == "A":
            a[p.row, p.col] = 1.0
    depth, power = 0, a.copy()
    while power.any():
        depth += 1
        power = power @ a
    return depth


def ram_entries(table: ParameterTable) -> tuple[np.ndarray, ...]:
    """The table as `kernels.ram.RamCovariance`'s constant inputs: A's entries (row, column,
    free index or -1) sorted so that every cause's row comes before its effects', their fixed
    values, S's entries and fixed values, and (variables, manifest variables)."""
    order = graphlib.TopologicalSorter({k: set() for k in range(len(table.variables))})
    a_rows = [p for p in table.params if p.matrix == "A"]
    for p in a_rows:
        order.add(p.row, p.col)
    position = {k: n for n, k in enumerate(order.static_order())}
    a_rows.sort(key=lambda p: position[p.row])
    s_rows = [p for p in table.params if p.matrix == "S"]
    out = []
    for rows in (a_rows, s_rows):
        out.append(np.array([[p.row, p.col, p.free] for p in rows], dtype=np.int64).reshape(-1, 3))
        out.append(np.array([p.value if p.free < 0 else 0.0 for p in rows]))
    sizes = np.array([len(table.variables), table.n_manifest], dtype=np.int64)
    return (*out, sizes)


def manifest_covariance(table: ParameterTable, theta) -> pt.TensorVariable:
    """Model-implied covariance of the manifest variables, ``F B S B' F'``, as one Op with an
    analytic gradient (`kernels.ram`); equal to `implied_covariance(...)[:p, :p]`."""
    return RamCovariance()(theta, *ram_entries(table))


def implied_covariance(table: ParameterTable, theta) -> pt.TensorVariable:
    """Model-implied covariance of all variables, ``B S B'`` with ``B = (I - A)^-1``.

    A is nilpotent (the model is recursive), so ``B = I + A + ... + A^depth`` exactly, using
    matrix products only.
    """
    a, s = ram_matrices(table, theta)
    return ram_covariance(a, s, path_depth(table))


def ram_inverse(a, depth: int):
    """``B = I + A + ... + A^depth`` (= (I - A)^-1 for nilpotent A), matrix products only."""
    b = term = pt.eye(a.shape[0])
    for _ in range(depth):
        term = term @ a
        b = b + term
    return b


def diagonal(x, size: int):
    """The diagonal of a (size, size) matrix, or of each matrix of a stack (G, size, size), as
    a masked sum (the gradient is elementwise).

    PyTensor's own diagonals (`pt.diagonal`, `pt.diag`) have the OpFromGraph `AllocDiag` in
    their gradient, which PyTensor 2.38 inlines late through `clone_replace`: that copies every
    ancestor of its input, the likelihood Op included, and the copies are not merged again, so
    the compiled log-density + gradient ran the likelihood kernel twice or more."""
    return (x * np.eye(size)).sum(axis=-1)


def diagonal_matrix(v, size: int):
    """The (size, size) matrix with the vector `v` on its diagonal, as a product with the
    identity (`pt.diag(v)` is the OpFromGraph `AllocDiag`: see `diagonal`)."""
    return v * np.eye(size)


def batched_matmul(x, y):
    """Matrix products of stacks of small matrices, (G, k, l) x (G, l, n) -> (G, k, n), as one
    broadcast product and sum (elementwise Ops only)."""
    return (x[:, :, :, None] * y[:, None, :, :]).sum(axis=2)


def batched_ram_inverse(a, depth: int):
    """`ram_inverse` of every matrix of a stack (G, v, v) of nilpotent A matrices."""
    b = term = pt.broadcast_to(pt.eye(a.shape[1]), a.shape)
    for _ in range(depth):
        term = batched_matmul(term, a)
        b = b + term
    return b


def ram_covariance(a, s, depth: int):
    """``B S B'`` with ``B = (I - A)^-1`` (see `ram_inverse`)."""
    b = ram_inverse(a, depth)
    return b @ s @ b.T
