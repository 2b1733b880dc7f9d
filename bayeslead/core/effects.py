"""Indirect, direct and total effects of the named chains, as pure numpy on parameter vectors.

All functions accept one parameter vector or a batch (bootstrap replicates, posterior draws)
with the parameters on the last axis, and return arrays over the batch.

- indirect: the product of the chain's path coefficients;
- direct: the coefficient of the path from the chain's first to its last construct (0 if absent);
- total: the total effect of the first on the last construct through every path of the model,
  the (target, source) element of ``(I - B)^-1 - I`` for the structural coefficients B.

Standardised values use the model-implied total SDs (lavaan's std.all): each effect times
SD(source) / SD(target).

The user's own ``:=`` definitions (`ModelSpec.definitions`) come last, kind ``defined``: the
expression evaluated on the labels' values, and on their std.all values for `std` (lavaan's
rule for standardised defined parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from bayeslead.core.batches import in_blocks
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import Effect, ModelSpec
from bayeslead.syntax import evaluate_definitions
from bayeslead.syntax.expressions import render_expression


@dataclass(frozen=True)
class EffectDraws:
    """Raw and standardised values of one (effect, kind) over a batch of parameter vectors."""

    effect: Effect
    kind: str
    raw: np.ndarray
    std: np.ndarray
    expression: str = ""  # a user definition's right-hand side

    @property
    def path(self) -> str:
        """Human-readable path, e.g. ``TL -> SENS -> SEIZ`` (a definition: its expression)."""
        if self.kind == "defined":
            return self.expression
        if self.kind == "indirect":
            return " -> ".join(self.effect.chain)
        if self.kind == "direct":
            return f"{self.effect.source} -> {self.effect.target}"
        return f"{self.effect.source} => {self.effect.target} (all paths)"


def effect_draws(spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> list[EffectDraws]:
    """Every named effect's indirect, direct (when the path exists) and total values."""
    theta = np.asarray(theta, dtype=float)
    kinds = _effect_kinds(spec)
    values = in_blocks(partial(_effect_values, spec, table), theta) if kinds else []
    out = [
        EffectDraws(effect, kind, values[2 * i], values[2 * i + 1])
        for i, (effect, kind) in enumerate(kinds)
    ]
    return out + defined_draws(spec, table, theta)


def raw_effect_draws(
    spec: ModelSpec, table: ParameterTable, theta: np.ndarray
) -> dict[str, np.ndarray]:
    """The raw values of `effect_draws` (not standardised: no implied covariance), keyed by
    their `:=` name (`defined_name`); the same values bit for bit."""
    theta = np.asarray(theta, dtype=float)
    kinds = _effect_kinds(spec)
    values = (
        in_blocks(partial(_effect_values, spec, table, standardised=False), theta) if kinds else []
    )
    out = {defined_name(e.name, kind): values[i] for i, (e, kind) in enumerate(kinds)}
    return out | _raw_definitions(spec, table, theta)


def _raw_definitions(
    spec: ModelSpec, table: ParameterTable, theta: np.ndarray
) -> dict[str, np.ndarray]:
    """The user's ``:=`` definitions on raw label values, one value per row of `theta`."""
    if not spec.definitions:
        return {}
    raw = evaluate_definitions(spec.definitions, table.label_values(theta))
    shape = np.shape(theta)[:-1]
    return {d.name: np.broadcast_to(raw[d.name], shape) for d in spec.definitions}


def _effect_kinds(spec: ModelSpec) -> list[tuple[Effect, str]]:
    return [
        (effect, kind)
        for effect in spec.effects
        for kind in ("indirect", "direct", "total")
        if kind != "direct" or spec.regression(effect.target, effect.source) is not None
    ]


def _effect_values(
    spec: ModelSpec, table: ParameterTable, theta: np.ndarray, standardised: bool = True
) -> list[np.ndarray]:
    """Raw and standardised values of the `effect_draws` entries, in their order (raw values
    only when not `standardised`)."""
    a, s = table.matrices(theta)
    v = a.shape[-1]
    if standardised:
        b = np.linalg.inv(np.eye(v) - a)
        sd = np.sqrt(np.clip(np.diagonal(b @ s @ np.swapaxes(b, -1, -2), 0, -2, -1), 0, None))
    structural = structural_matrix(spec, table, a)
    total = np.linalg.inv(np.eye(v) - structural)
    pos = {name: i for i, name in enumerate(table.variables)}
    out = []
    for effect in spec.effects:
        src, dst = pos[effect.source], pos[effect.target]
        indirect = np.ones(theta.shape[:-1])
        for link in effect.links:
            indirect = indirect * a[..., pos[link.outcome], pos[link.predictor]]
        values = [indirect]
        if spec.regression(effect.target, effect.source) is not None:
            values.append(a[..., dst, src])
        values.append(total[..., dst, src])
        if not standardised:
            out += values
            continue
        scale = sd[..., src] / sd[..., dst]
        for value in values:
            out += [value, value * scale]
    return out


def defined_draws(spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> list[EffectDraws]:
    """The user's ``:=`` definitions on raw and std.all label values (kind ``defined``)."""
    if not spec.definitions:
        return []
    raw = _raw_definitions(spec, table, theta)
    std_values = table.standardized(theta)
    labels: dict[str, np.ndarray] = {}
    for k, p in enumerate(table.params):
        if p.label:
            labels.setdefault(p.label, std_values[..., k])
    std = evaluate_definitions(spec.definitions, labels)
    shape = np.shape(theta)[:-1]
    return [
        EffectDraws(
            Effect(d.name, ()),
            "defined",
            raw[d.name].copy(),
            np.broadcast_to(std[d.name], shape).copy(),
            render_expression(d.expr),
        )
        for d in spec.definitions
    ]


def structural_matrix(spec: ModelSpec, table: ParameterTable, a: np.ndarray) -> np.ndarray:
    """A with only the structural regressions kept (loadings zeroed)."""
    mask = np.zeros(a.shape[-2:], dtype=bool)
    for p in table.params:
        if p.op == "~":
            mask[p.row, p.col] = True
    return np.where(mask, a, 0.0)


def defined_name(effect: str, kind: str) -> str:
    """Name of the `:=` parameter: the effect's name, with `_direct` / `_total` suffixes (an
    index of moderated mediation, kind ``imm``, is named ``imm_<effect>`` already)."""
    return effect if kind in ("indirect", "defined", "imm") else f"{effect}_{kind}"
