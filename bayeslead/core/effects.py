"""Indirect, direct and total effects of the named chains, as pure numpy on parameter vectors.

All functions accept one parameter vector or a batch (bootstrap replicates, posterior draws)
with the parameters on the last axis, and return arrays over the batch.

- indirect: the product of the chain's path coefficients;
- direct: the coefficient of the path from the chain's first to its last construct (0 if absent);
- total: the total effect of the first on the last construct through every path of the model,
  the (target, source) element of ``(I - B)^-1 - I`` for the structural coefficients B.

Standardised values use the model-implied total SDs (lavaan's std.all): each effect times
SD(source) / SD(target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import Effect, ModelSpec


@dataclass(frozen=True)
class EffectDraws:
    """Raw and standardised values of one (effect, kind) over a batch of parameter vectors."""

    effect: Effect
    kind: str
    raw: np.ndarray
    std: np.ndarray

    @property
    def path(self) -> str:
        """Human-readable path, e.g. ``TL -> SENS -> SEIZ``."""
        if self.kind == "indirect":
            return " -> ".join(self.effect.chain)
        if self.kind == "direct":
            return f"{self.effect.source} -> {self.effect.target}"
        return f"{self.effect.source} => {self.effect.target} (all paths)"


def effect_draws(spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> list[EffectDraws]:
    """Every named effect's indirect, direct (when the path exists) and total values."""
    theta = np.asarray(theta, dtype=float)
    a, s = table.matrices(theta)
    v = a.shape[-1]
    b = np.linalg.inv(np.eye(v) - a)
    sd = np.sqrt(np.clip(np.diagonal(b @ s @ np.swapaxes(b, -1, -2), 0, -2, -1), 0, None))
    structural = structural_matrix(spec, table, a)
    total = np.linalg.inv(np.eye(v) - structural)
    pos = {name: i for i, name in enumerate(table.variables)}
    out = []
    for effect in spec.effects:
        src, dst = pos[effect.source], pos[effect.target]
        scale = sd[..., src] / sd[..., dst]
        indirect = np.ones(theta.shape[:-1])
        for link in effect.links:
            indirect = indirect * a[..., pos[link.outcome], pos[link.predictor]]
        out.append(EffectDraws(effect, "indirect", indirect, indirect * scale))
        if spec.regression(effect.target, effect.source) is not None:
            direct = a[..., dst, src]
            out.append(EffectDraws(effect, "direct", direct, direct * scale))
        tot = total[..., dst, src]
        out.append(EffectDraws(effect, "total", tot, tot * scale))
    return out


def structural_matrix(spec: ModelSpec, table: ParameterTable, a: np.ndarray) -> np.ndarray:
    """A with only the structural regressions kept (loadings zeroed)."""
    mask = np.zeros(a.shape[-2:], dtype=bool)
    for p in table.params:
        if p.op == "~":
            mask[p.row, p.col] = True
    return np.where(mask, a, 0.0)


def defined_name(effect: str, kind: str) -> str:
    """Name of the `:=` parameter: the effect's name, with `_direct` / `_total` suffixes."""
    return effect if kind == "indirect" else f"{effect}_{kind}"
