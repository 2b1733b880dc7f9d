"""Conditional effects of latent interactions, as pure numpy on parameter vectors.

For an interaction `X:W` in the equation of Y (coefficient gamma), the path X -> Y at a value w
of the latent moderator is ``b + gamma w`` (a simple slope); a chain's conditional indirect effect
is the product of its links' conditional coefficients; when exactly one link is moderated by W the
indirect effect is linear in W and its slope is the index of moderated mediation (Hayes 2015):
gamma times the other links. Moderator values are in SD units of the latent moderator (its mean
is 0): default -1, 0, +1 SD; a percentile p of the normal latent is z_p SD.

Standardised values follow Wen, Marsh & Hau (2010): every variable, the moderator included, is
standardised before the product is formed, so a standardised simple slope at z SD is
``(b + gamma z SD(W)) SD(X) / SD(Y)``. The total SDs include what the product adds to its outcome
and that outcome's descendants: the product of zero-mean jointly normal components has variance
``Var(X) Var(W) + Cov(X, W)^2`` (Isserlis) and is uncorrelated with every normal variable.

Every function takes one parameter vector or a batch (posterior draws, bootstrap or Monte Carlo
replicates) on the last axis of `theta`, in the metric of `build_partable(spec)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import Effect, ModelSpec

DEFAULT_VALUES_SD = (-1.0, 0.0, 1.0)
JN_GRID = np.round(np.linspace(-3.0, 3.0, 121), 10)


@dataclass(frozen=True)
class ConditionalDraws:
    """One conditional quantity over a batch of parameter vectors.

    `kind` is ``simple_slope``, ``conditional_indirect`` or ``imm``; `value_sd` the moderator
    value in SD units (NaN for an index); `moderator_value` that value in the latent's metric.
    """

    effect: str
    kind: str
    path: str
    moderator: str
    value_sd: float
    moderator_value: np.ndarray
    raw: np.ndarray
    std: np.ndarray


def moderator_values(percentiles: list[float] | None = None) -> tuple[float, ...]:
    """Moderator values in SD units: -1, 0, +1 SD, or the normal quantiles of `percentiles`
    (config `moderator_percentiles`, e.g. [16, 50, 84])."""
    if not percentiles:
        return DEFAULT_VALUES_SD
    return tuple(round(float(stats.norm.ppf(p / 100.0)), 6) for p in percentiles)


def product_moments(
    table: ParameterTable, a: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """S with each product's variance filled in, and the total covariance of all variables."""
    eye = np.eye(a.shape[-1])
    b = np.linalg.inv(eye - a)
    if not table.products:
        return s, b @ s @ np.swapaxes(b, -1, -2)
    linear = b @ s @ np.swapaxes(b, -1, -2)
    s = s.copy()
    for product, left, right in table.products:
        s[..., product, product] = (
            linear[..., left, left] * linear[..., right, right] + linear[..., left, right] ** 2
        )
    return s, b @ s @ np.swapaxes(b, -1, -2)


def total_sds(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Model-implied total SDs of every variable, products' contributions included."""
    a, s = table.matrices(theta)
    _, omega = product_moments(table, a, s)
    return np.sqrt(np.clip(np.diagonal(omega, 0, -2, -1), 0, None))


def interaction_std(table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Wen-Marsh-Hau standardised value of each interaction row (gamma SD(l) SD(r) / SD(Y)),
    NaN for the other rows; shape (..., len(table.params))."""
    theta = np.asarray(theta, dtype=float)
    sd = total_sds(table, theta)
    out = np.full((*theta.shape[:-1], len(table.params)), np.nan)
    components = {product: (left, right) for product, left, right in table.products}
    for k, p in enumerate(table.params):
        if p.kind == "interaction":
            left, right = components[p.col]
            value = theta[..., p.free] if p.free >= 0 else p.value
            out[..., k] = value * sd[..., left] * sd[..., right] / sd[..., p.row]
    return out


def conditional_draws(
    spec: ModelSpec,
    table: ParameterTable,
    theta: np.ndarray,
    values_sd: tuple[float, ...] | None = None,
) -> list[ConditionalDraws]:
    """Simple slopes, conditional indirect effects and indices of moderated mediation at the
    moderator values `values_sd` (default: the spec's `moderator_values`)."""
    theta = np.asarray(theta, dtype=float)
    values_sd = spec.moderator_values if values_sd is None else values_sd
    a, _ = table.matrices(theta)
    sd = total_sds(table, theta)
    pos = {name: i for i, name in enumerate(table.variables)}
    out: list[ConditionalDraws] = []
    for q in spec.interactions:
        x, w, y = pos[q.left], pos[q.right], pos[q.outcome]
        for z in values_sd:
            value = z * sd[..., w]
            raw = a[..., y, x] + a[..., y, pos[q.name]] * value
            path = f"{q.left} -> {q.outcome}"
            std = raw * sd[..., x] / sd[..., y]
            out.append(ConditionalDraws(q.key, "simple_slope", path, q.right, z, value, raw, std))
    for effect in spec.effects:
        for moderator in _chain_moderators(spec, effect):
            for z in values_sd:
                value = z * sd[..., pos[moderator]]
                raw = _conditional_indirect(spec, effect, moderator, a, pos, value)
                std = raw * sd[..., pos[effect.source]] / sd[..., pos[effect.target]]
                path = " -> ".join(effect.chain)
                out.append(
                    ConditionalDraws(
                        effect.name, "conditional_indirect", path, moderator, z, value, raw, std
                    )
                )
    for imm in spec.moderated_mediations():
        q = imm.interaction
        raw = a[..., pos[q.outcome], pos[q.name]]
        for k, link in enumerate(imm.effect.links):
            if k != imm.link:
                raw = raw * a[..., pos[link.outcome], pos[link.predictor]]
        src, dst = pos[imm.effect.source], pos[imm.effect.target]
        std = raw * sd[..., pos[imm.moderator]] * sd[..., src] / sd[..., dst]
        path = f"{' -> '.join(imm.effect.chain)} | {imm.moderator}"
        nan = np.full(raw.shape, np.nan)
        out.append(ConditionalDraws(imm.name, "imm", path, imm.moderator, np.nan, nan, raw, std))
    return out


def _chain_moderators(spec: ModelSpec, effect: Effect) -> list[str]:
    """Moderators acting on at least one link of `effect`, in order of appearance."""
    found = [m for link in effect.links for m, _ in spec.moderators(link.outcome, link.predictor)]
    return list(dict.fromkeys(found))


def _conditional_indirect(spec, effect, moderator, a, pos, value) -> np.ndarray:
    """Product of the chain's links, each at `moderator` = value (other moderators at 0)."""
    raw = np.ones(np.shape(value))
    for link in effect.links:
        coefficient = a[..., pos[link.outcome], pos[link.predictor]]
        for m, q in spec.moderators(link.outcome, link.predictor):
            if m == moderator:
                coefficient = coefficient + a[..., pos[q.outcome], pos[q.name]] * value
        raw = raw * coefficient
    return raw


def johnson_neyman(
    spec: ModelSpec,
    table: ParameterTable,
    draws: np.ndarray,
    level: float = 0.95,
    grid: np.ndarray = JN_GRID,
) -> pd.DataFrame:
    """Standardised simple slopes and conditional indirect effects on a grid of moderator
    values (SD units) with their equal-tailed `level` intervals over `draws`; `significant`
    marks the Johnson-Neyman region where the interval excludes 0."""
    records = conditional_draws(spec, table, draws, tuple(grid))
    tail = (1.0 - level) / 2.0
    rows = []
    for r in records:
        if r.kind == "imm":
            continue
        lower, upper = np.quantile(r.std, [tail, 1.0 - tail])
        rows.append(
            {
                "effect": r.effect,
                "kind": r.kind,
                "path": r.path,
                "moderator": r.moderator,
                "value_sd": r.value_sd,
                "est": float(np.median(r.std)),
                "ci_lower": float(lower),
                "ci_upper": float(upper),
                "significant": bool(lower > 0 or upper < 0),
            }
        )
    return pd.DataFrame(rows)


def johnson_neyman_bounds(grid_table: pd.DataFrame) -> pd.DataFrame:
    """The moderator values (SD units) where the interval starts or stops excluding 0, per
    (effect, kind, moderator), midway between grid points; empty bounds when it never switches."""
    rows = []
    for (effect, kind, moderator), part in grid_table.groupby(
        ["effect", "kind", "moderator"], sort=False
    ):
        z = part.value_sd.to_numpy()
        flag = part.significant.to_numpy()
        switches = np.flatnonzero(flag[1:] != flag[:-1])
        bounds = [(z[k] + z[k + 1]) / 2.0 for k in switches]
        rows.append(
            {
                "effect": effect,
                "kind": kind,
                "moderator": moderator,
                "bounds_sd": ";".join(f"{b:.3f}" for b in bounds),
                "significant_share": float(flag.mean()),
            }
        )
    return pd.DataFrame(rows)


TABLE_COLUMNS = [
    "effect",
    "kind",
    "path",
    "moderator",
    "value_sd",
    "moderator_value",
    "est",
    "se",
    "ci_lower",
    "ci_upper",
    "ci_method",
    "std_est",
    "std_ci_lower",
    "std_ci_upper",
    "p_direction",
]


def conditional_table(
    draws: list[ConditionalDraws],
    ci_method: str,
    point: list[ConditionalDraws] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """`conditional_effects.csv`: one row per record with its estimate (`point`, else the mean
    of the draws), SD of the draws as `se`, equal-tailed `level` interval of the draws (raw and
    standardised) and the probability of direction (share of draws with the estimate's sign)."""
    tail = (1.0 - level) / 2.0
    rows = []
    for k, d in enumerate(draws):
        est = float(np.mean(point[k].raw)) if point else float(np.mean(d.raw))
        std = float(np.mean(point[k].std)) if point else float(np.mean(d.std))
        value = point[k].moderator_value if point else d.moderator_value
        lower, upper = np.quantile(d.raw, [tail, 1.0 - tail])
        std_lower, std_upper = np.quantile(d.std, [tail, 1.0 - tail])
        rows.append(
            {
                "effect": d.effect,
                "kind": d.kind,
                "path": d.path,
                "moderator": d.moderator,
                "value_sd": d.value_sd,
                "moderator_value": float(np.mean(value)),
                "est": est,
                "se": float(np.std(d.raw, ddof=1)),
                "ci_lower": float(lower),
                "ci_upper": float(upper),
                "ci_method": ci_method,
                "std_est": std,
                "std_ci_lower": float(std_lower),
                "std_ci_upper": float(std_upper),
                "p_direction": float(max(np.mean(d.raw > 0), np.mean(d.raw < 0))),
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def imm_draws(spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Raw index of moderated mediation by name (``imm_<effect>``), over a batch of theta."""
    records = conditional_draws(spec, table, theta, ())
    return {r.effect: r.raw for r in records if r.kind == "imm"}
