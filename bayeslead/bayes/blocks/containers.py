"""Data as model inputs: `pm.Data` containers, so a compiled model depends on the structure only.

nutpie's compiled entry points are cached per machine by a key of the model's structure
(`bayes/nutpie_cache.py`): PyTensor constants are part of that key, `pm.Data` containers (shared
variables) are not, their values and sizes are read at run time. A family that passes its data
through these containers therefore compiles a structure once and re-uses it for any data set of
that structure. What stays structure is what shapes the parameter vector or the graph: the
items, categories per item, constructs, groups, and (where scores are sampled) the respondents.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pymc as pm

from bayeslead.bayes.kernels.missing_rows import RowData


def row_containers(rows: RowData, prefix: str = "rows") -> list:
    """`pm.Data` containers of the missing-data kernel's arrays ("<prefix>_stats",
    "<prefix>_sums", ...), in the kernel's order (the arguments of `RowsLoglik` after mu)."""
    names = [f.name for f in dataclasses.fields(RowData)]
    values = [np.asarray(value) for value in rows.arrays]
    return [pm.Data(f"{prefix}_{name}", value) for name, value in zip(names, values, strict=True)]


def index_container(name: str, value: np.ndarray):
    """An integer array (response positions, group or cluster indices) as a `pm.Data`
    container of int64."""
    return pm.Data(name, np.asarray(value, dtype=np.int64))


def response_containers(lower: np.ndarray, upper: np.ndarray) -> tuple:
    """The ordinal responses' positions (n, p) in the cuts vector as data containers
    ("response_lower", "response_upper"; see `blocks.ordinal.response_positions`)."""
    return index_container("response_lower", lower), index_container("response_upper", upper)
