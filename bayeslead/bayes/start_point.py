"""The sampler's starting point on the unconstrained scale: the initial values flattened in
nutpie's order, moved off exact-zero gradients (which nuts-rs refuses), and, when the
log-density is not usable there, a message naming the culprits."""

from __future__ import annotations

import numpy as np
import pymc as pm
from pymc.initial_point import make_initial_point_fn


def nudged_start(model: pm.Model, initial: dict, rounds: int = 5) -> np.ndarray | None:
    """`initial` on the unconstrained scale (flat, nutpie's order) with every coordinate whose
    log-density gradient is exactly zero moved by 0.001 (fixed signs: the same start every
    run), repeated while zeros remain; None if the log-density or its gradient is not finite
    there (nothing to mend: `start_failure` explains)."""
    point = start_point(model, initial)
    flat = flatten(model, point)
    names = [value.name for value in model.value_vars]  # the free variables' order, as nutpie's
    shapes = [np.shape(point[name]) for name in names]
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])[:-1]
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    signs = np.where(np.random.default_rng(0).random(flat.size) < 0.5, -1.0, 1.0)
    for _ in range(rounds):
        gradient = dlogp(point)
        if not (np.isfinite(logp(point)) and np.all(np.isfinite(gradient))):
            return None
        zero = gradient == 0
        if not zero.any():
            return flat
        flat[zero] += 1e-3 * signs[zero] * np.maximum(1.0, np.abs(flat[zero]))
        parts = zip(names, np.split(flat, ends), shapes, strict=True)
        point = {name: part.reshape(shape) for name, part, shape in parts}
    return None


def flat_start(model: pm.Model, initial: dict) -> np.ndarray:
    """`initial` on the unconstrained scale, flattened in nutpie's order (the free variables'
    order in the model)."""
    return flatten(model, start_point(model, initial))


def start_point(model: pm.Model, initial: dict) -> dict[str, np.ndarray]:
    """`initial` on the unconstrained scale, keyed by value-variable name (no jitter)."""
    return make_initial_point_fn(
        model=model, overrides=initial, jitter_rvs=set(), return_transformed=True
    )(0)


def flatten(model: pm.Model, point: dict[str, np.ndarray]) -> np.ndarray:
    values = [np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs]
    return np.ascontiguousarray(np.concatenate(values), dtype="float64")


def start_failure(model: pm.Model, initial: dict) -> str:
    """Explain why the sampler could not start: which variables have a non-finite log-density
    term or a non-finite (or exactly zero) gradient at the initial values, and what to try."""
    point = start_point(model, initial)
    terms = model.point_logps(point)
    bad_terms = [name for name, value in terms.items() if not np.isfinite(value)]
    gradient = model.compile_dlogp()(point)
    bad_grad, offset = [], 0
    for var in model.value_vars:
        size = int(np.prod(point[var.name].shape))
        part = gradient[offset : offset + size]
        if not np.all(np.isfinite(part)) or np.any(part == 0):
            bad_grad.append(var.name)
        offset += size
    where = ", ".join(bad_terms + [f"gradient of {n}" for n in bad_grad]) or "no single term"
    return (
        f"the sampler could not start: the log-density is not usable at the initial values ({where}). "
        "Check the data for constant or duplicated items, give the named parameters stronger priors "
        "(bayes.priors), or simplify the model (constructs with fewer than 3 items, second-order "
        "constructs with 2 dimensions)."
    )
