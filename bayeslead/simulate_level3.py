"""Level-3 units in simulated two-level data (`simulate.simulate_responses` with data.level3):
the share of each construct's variance between level-3 units and the units' intercepts of the
first-order constructs."""

from __future__ import annotations

import numpy as np

from bayeslead.config import TruthConfig
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError

DEFAULT_LEVEL3_SIZE = 10  # clusters per level-3 unit
DEFAULT_LEVEL3_ICC = 0.05


def level3_share(spec: ModelSpec, truth: TruthConfig, icc: float) -> float:
    """Share of each construct's variance between level-3 units (part of the cluster share)."""
    if not spec.level3:
        return 0.0
    share = truth.level3_icc if truth.level3_icc is not None else DEFAULT_LEVEL3_ICC
    if share >= icc:
        raise InputError(
            f"Config: truth.level3_icc ({share}) must be below truth.icc ({icc}): the level-3 "
            "share is part of the share between clusters"
        )
    return share


def level3_intercepts(
    rng: np.random.Generator, table: ParameterTable, a: np.ndarray, share: float, n_units: int
) -> np.ndarray:
    """Each level-3 unit's intercepts of the first-order constructs (independent, variance
    `share`) and what they add to the items (times the loadings), shape (units, variables)."""
    k = table.n_manifest
    loadings = np.zeros_like(a)
    loadings[:k] = a[:k]
    first = sorted({p.col for p in table.params if p.op == "=~" and p.row < k})
    draws = np.zeros((n_units, a.shape[0]))
    draws[:, first] = rng.normal(0.0, np.sqrt(share), (n_units, len(first)))
    return draws + draws @ loadings.T
