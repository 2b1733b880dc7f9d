"""A model's structure key computed before any graph rewriting, and the index it opens (see
`nutpie_cache`).

nutpie's `_make_functions` rewrites the log-density, builds its gradient and rewrites the
expansion function before PyTensor compiles them (1.3-2.3 s of a warm Holzinger-Swineford fit):
`nutpie_cache`'s module key is computed from those rewritten graphs, so it cannot skip them. The
key here hashes the model's un-rewritten graphs (the log-density and the expanded variables):
each node's Op (its pickle), its inputs and output types; constants by type and bytes; the
value and shared variables by name and type. Object ids and PyTensor's automatic names are not
in it, so the same structure gives the same key in any process. It also hashes the shapes of the
free and expanded variables, the names stored, `model.check_bounds`, PyTensor's flags, the
source of `bayeslead/bayes/**/*.py` (any change to bayeslead's Ops or model building misses)
and the versions `nutpie_cache` keys by (and PyMC's and NumPy's). An index file per key records
the module key and which of the graphs' shared variables each function takes.

A hit is checked before use: the loaded entry points' log-density and expanded values at the
start point and at a point beside it must equal an evaluation of the
un-rewritten graphs by PyTensor's Python linker (no rewrites, no compilation; 0.05 s for
Holzinger-Swineford) to 1e-8; otherwise `nutpie_cache` compiles as on a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from functools import cache
from math import prod
from pathlib import Path

import numpy as np
import pymc as pm

from bayeslead.bayes.kernels.version import source_digest
from bayeslead.bayes.nutpie_source import call_expand, call_logp

TOLERANCE = 1e-8
# an index entry: the module's key, the shared variables of the two functions in their order,
# where each is among the structure's shared variables (names need not be unique), the extra values of nutpie's _make_functions, each shared variable's (name, rank, dtype)
ENTRY = ("module", "logp", "expand", "shared", "rest", "meta")


@dataclass(frozen=True)
class Structure:
    """A model's un-rewritten graphs, what `nutpie` makes of them, and their key."""

    key: str
    logp: object  # the log-density (a PyTensor variable of the value variables)
    value_vars: list
    remaining: list  # the expanded variables after the free ones
    shared: list  # the graphs' shared variables in the order met
    shape_info: tuple  # (names, slices, shapes) as nutpie's _make_functions returns them
    n_dim: int
    n_expanded: int


def structure(
    model: pm.Model, var_names: list[str] | None, shapes: dict, versions: str
) -> Structure:
    """The structure of `model` (its expanded variables limited to `var_names` as nutpie does)
    and its key; `shapes`: each variable's shape (nutpie's `_compute_shapes`); `versions`: the
    versions the machine code depends on."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import io_toposort

    shapes = {name: tuple(int(n) for n in shape) for name, shape in shapes.items()}
    value_vars = [model.rvs_to_values[var] for var in model.free_RVs]
    names = [var.name for var in value_vars]
    remaining = [var for var in model.unobserved_value_vars if var.name not in names]
    if var_names is not None:
        remaining = [var for var in remaining if var.name in set(var_names)]
    all_names = names + [var.name for var in remaining]
    all_shapes = [shapes[name] for name in all_names]
    slices, start = [], 0
    for shape in all_shapes:
        slices.append(slice(start, start + prod(shape)))
        start += prod(shape)
    n_dim = sum(prod(shape) for shape in all_shapes[: len(names)])
    logp = model.logp()
    digest = hashlib.sha256()
    numbers: dict = {}
    shared: list = []
    op_keys: dict = {}

    def number(var) -> int:
        if var not in numbers:
            numbers[var] = len(numbers)
            if isinstance(var, Constant):
                digest.update(repr(("c", str(var.type))).encode() + _constant_bytes(var.data))
            elif isinstance(var, SharedVariable):
                shared.append(var)
                digest.update(repr(("s", var.name, str(var.type))).encode())
            elif var.owner is None:
                digest.update(repr(("i", var.name, str(var.type))).encode())
        return numbers[var]

    for var in value_vars:
        number(var)
    outputs = [logp, *remaining]
    for node in io_toposort(value_vars, outputs):
        op = op_keys.get(id(node.op)) or hashlib.sha256(pickle.dumps(node.op, 4)).hexdigest()
        op_keys[id(node.op)] = op
        inputs = [number(var) for var in node.inputs]
        result = [(number(var), str(var.type)) for var in node.outputs]
        digest.update(repr((op, inputs, result)).encode())
    digest.update(repr([number(var) for var in outputs]).encode())
    digest.update(repr((all_names, all_shapes, model.check_bounds, _flags())).encode())
    digest.update(repr((_source(), versions, pm.__version__, np.__version__)).encode())
    return Structure(
        key="s" + digest.hexdigest()[:32],
        logp=logp,
        value_vars=value_vars,
        remaining=remaining,
        shared=shared,
        shape_info=(all_names, slices, all_shapes),
        n_dim=n_dim,
        n_expanded=start,
    )


def read_index(directory: Path, key: str) -> dict | None:
    """The index entry of structure `key` (None when absent, unreadable or not an entry)."""
    try:
        entry = json.loads((directory / f"structure_{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.keys() == set(ENTRY) else None


def write_index(directory: Path, key: str, entry: dict) -> None:
    """Store the index entry of structure `key` (atomically; concurrent writers store the same);
    nothing when it does not serialise (a later nutpie's extra values)."""
    try:
        text = json.dumps({name: entry[name] for name in ENTRY})
    except (TypeError, ValueError):
        return
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, directory / f"structure_{key}.json")


def remember(directory: Path, found: Structure, entry: dict, shape_info, variables: dict) -> None:
    """Index `found`'s key to `entry` (the module nutpie's rewritten graphs gave), with where
    each of the functions' shared `variables` is among the structure's; nothing when nutpie's
    `shape_info` differs from the structure's or a variable is not found once."""
    names, slices, shapes = shape_info
    shapes = [tuple(int(n) for n in shape) for shape in shapes]
    where = {
        name: [i for i, known in enumerate(found.shared) if known is var]
        for name, var in variables.items()
    }
    if (names, slices, shapes) == found.shape_info and all(len(at) == 1 for at in where.values()):
        shared = {name: at[0] for name, at in where.items()}
        write_index(directory, found.key, entry | {"shared": shared})


def recall(found: Structure, entry: dict) -> dict | None:
    """The shared variables (by name) of `found` that the indexed functions take (None when the
    entry does not fit the structure)."""
    where = entry["shared"]
    if {*entry["logp"], *entry["expand"]} != where.keys():
        return None
    if not all(isinstance(at, int) and 0 <= at < len(found.shared) for at in where.values()):
        return None
    variables = {name: found.shared[at] for name, at in sorted(where.items())}
    return variables if all(var.name == name for name, var in variables.items()) else None


def mismatch(found: Structure, point: dict, compiled) -> str:
    """Why `compiled`'s entry points do not compute `found`'s model ("" when they do): their
    log-density at the start `point` and beside it, and their expanded values at the start,
    against the un-rewritten graphs evaluated by PyTensor's Python linker."""
    import pytensor
    from pytensor.compile.mode import Mode

    try:
        direct = pytensor.function(
            found.value_vars,
            [found.logp, *found.remaining],
            mode=Mode(linker="py", optimizer=None),
            on_unused_input="ignore",
        )
    except Exception as exc:  # noqa: BLE001  (no check, no hit)
        return f"the check could not run ({type(exc).__name__})"
    names, slices, shapes = found.shape_info
    free = len(found.value_vars)
    x = np.concatenate([np.ravel(point[name]) for name in names[:free]]).astype(float)
    beside = x + 0.25 * np.sin(np.arange(1, len(x) + 1))
    for at in (x, beside):
        args = [
            at[part].reshape(shape).astype(var.dtype)
            for var, part, shape in zip(found.value_vars, slices, shapes, strict=False)
        ]
        try:
            logp, *rest = direct(*args)
        except Exception as exc:  # noqa: BLE001  (no check, no hit)
            return f"the check could not run ({type(exc).__name__})"
        code, cached, _ = call_logp(compiled, at)
        if code not in (0, 3, 4) or not np.isclose(cached, logp, rtol=TOLERANCE, atol=TOLERANCE):
            return f"the cached log-density {cached} differs from the model's {logp}"
        code, expanded = call_expand(compiled, at)
        want = np.concatenate([at, *[np.ravel(value) for value in rest]])
        if code != 0 or not np.allclose(expanded, want, rtol=TOLERANCE, atol=TOLERANCE):
            return "the cached expanded values differ from the model's"
    return ""


def _constant_bytes(data) -> bytes:
    """A constant's value as bytes: a numeric array's dtype, shape and data, else its pickle (an
    object array's bytes would be addresses)."""
    if isinstance(data, np.ndarray | np.generic) and data.dtype.kind in "biufcmMSUV":
        data = np.ascontiguousarray(data)
        return repr((data.dtype.str, data.shape)).encode() + data.tobytes()
    return pickle.dumps(data, 4)


def _flags() -> tuple:
    """PyTensor's flags (those that are cheap to read: not the BLAS link flags)."""
    import pytensor

    config = pytensor.config
    return tuple(
        (name, str(getattr(config, name)))
        for name in sorted(config._config_var_dict)
        if not name.startswith("blas__")
    )


@cache
def _source() -> str:
    """A hash of bayeslead's Bayesian source files (its Ops and model building)."""
    return source_digest(Path(__file__).parent, "**/*.py")
