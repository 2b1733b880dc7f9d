"""The source of nutpie's two C entry points for one model structure (see `nutpie_cache`).

It mirrors nutpie 0.16's `_make_c_logp_func` / `_make_c_expand_func` (same return codes, so the
sampler behaves the same), but reads each shared variable's address and shape from int64 records
instead of closing over runtime objects, so numba can cache the machine code on disk. Also the
records themselves (`user_data`), nutpie's compiled-model class whose `with_data` rewrites them,
and calls of the two entry points from Python (`call_logp`, `call_expand`).
"""

from __future__ import annotations

import ctypes
import dataclasses
from dataclasses import dataclass

import numpy as np

# bump when the generated source or what it calls changes: the key (and so the module file)
# changes with it (2: the entry points inline PyTensor's graph functions, `inlined_graph`)
TEMPLATE_VERSION = "2"

TEMPLATE = '''"""bayeslead: nutpie's C entry points for one model structure ({key}). Generated; do not edit.

`logp_inner` and `expand_inner` (PyTensor's graph functions) are set before this runs."""
import numba
import numpy as np
from nutpie.compile_pymc import address_as_void_pointer

N_DIM = {n_dim}
N_EXPANDED = {n_expanded}
LOGP_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)
EXPAND_SIG = numba.types.int64(
    numba.types.uint64,
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)


@numba.cfunc(LOGP_SIG, cache=True)
def logp_c(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    try:
        ud = numba.carray(user_data_, ({n_records},), np.int64)
{logp_extract}
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_DIM,))
        logp = numba.carray(logp_, ())
        logp_val, grad = logp_inner(x{logp_args})
        logp[()] = logp_val
        if grad.shape[0] != N_DIM:
            return 1
        for i in range(N_DIM):  # loops: out[...] = grad compiles numba's error formatting
            out[i] = grad[i]
        for i in range(N_DIM):
            if not np.isfinite(out[i]):
                return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:  # noqa: BLE001
        return 1
    return 0


@numba.cfunc(EXPAND_SIG, cache=True)
def expand_c(dim, expanded, x_, out_, user_data_):
    if dim != N_DIM:
        return -1
    if expanded != N_EXPANDED:
        return -1
    try:
        ud = numba.carray(user_data_, ({n_records},), np.int64)
{expand_extract}
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_EXPANDED,))
        (values,) = expand_inner(x{expand_args})
        if values.shape[0] != N_EXPANDED:
            return -2
        for i in range(N_EXPANDED):
            out[i] = values[i]
    except Exception:  # noqa: BLE001
        return -2
    return 0
'''


def inlined_graph(jitted):
    """The graph function that PyTensor's jitted function `jitted` wraps, to be inlined into the
    entry point that calls it; None when `jitted` is not such a wrapper.

    numba links every callee's LLVM code into its caller and optimises the caller's whole module
    again, so each layer between an entry point and the graph's node functions repeats the work
    of optimising them all. nutpie's layering (entry point -> PyTensor's wrapper -> graph) cost
    21.4 s of compile for a new three-factor CFA of nine items; the graph inlined into the entry
    point (one layer) 13.9 s, with the same node functions (10.5-12.5 s once the entry points
    copied the gradient in loops).
    """
    import numba

    wrapper = getattr(jitted, "py_func", None)
    graph = None if wrapper is None else wrapper.__globals__.get("jitable_func")
    if not isinstance(graph, numba.core.registry.CPUDispatcher):
        return None
    return numba.njit(graph.py_func, inline="always")


def entry_source_lines(names: list[str], layout: dict[str, int], data: dict) -> tuple[str, str]:
    """Source lines that view the shared variables `names` from the records, and the call's
    extra arguments."""
    lines, args = [], []
    for i, name in enumerate(names):
        offset, value = layout[name], data[name]
        shape = "".join(f"ud[{offset + 1 + d}], " for d in range(value.ndim))
        dtype = "np.bool_" if value.dtype.name == "bool" else f"np.{value.dtype.name}"
        lines.append(
            f"        s{i} = numba.carray(address_as_void_pointer(ud[{offset}]), "
            f"({shape.rstrip(' ')}), {dtype})"
        )
        args.append(f", s{i}")
    return "\n".join(lines) or "        pass", "".join(args)


def module_source(
    key: str,
    n_dim: int,
    n_expanded: int,
    logp_shared: list[str],
    expand_shared: list[str],
    shared_data: dict[str, np.ndarray],
) -> str:
    """The module of one structure's entry points (`logp_shared`, `expand_shared`: the shared
    variables PyTensor's two functions take, in their order)."""
    offsets = layout(shared_data)
    logp_extract, logp_args = entry_source_lines(logp_shared, offsets, shared_data)
    expand_extract, expand_args = entry_source_lines(expand_shared, offsets, shared_data)
    return TEMPLATE.format(
        key=key,
        n_dim=n_dim,
        n_expanded=n_expanded,
        n_records=max(1, sum(1 + value.ndim for value in shared_data.values())),
        logp_extract=logp_extract,
        logp_args=logp_args,
        expand_extract=expand_extract,
        expand_args=expand_args,
    )


def layout(shared_data: dict[str, np.ndarray]) -> dict[str, int]:
    """Offset of each shared variable's record (sorted by name)."""
    offsets, offset = {}, 0
    for name in sorted(shared_data):
        offsets[name] = offset
        offset += 1 + shared_data[name].ndim
    return offsets


def user_data(shared_data: dict[str, np.ndarray]) -> np.ndarray:
    """The int64 records the entry points read: per shared variable its address and shape."""
    rows = np.zeros(max(1, sum(1 + a.ndim for a in shared_data.values())), dtype=np.int64)
    for name, offset in layout(shared_data).items():
        value = shared_data[name]
        rows[offset : offset + 1 + value.ndim] = [value.ctypes.data, *value.shape]
    return rows


def call_logp(compiled, x: np.ndarray) -> tuple[int, float, np.ndarray]:
    """A compiled model's C log-density entry point at `x`: return code, log-density, gradient."""
    x = np.ascontiguousarray(x, dtype=float)
    grad, logp = np.zeros_like(x), np.zeros(1)
    pointer = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_logp_func.ctypes(
        len(x),
        x.ctypes.data_as(pointer),
        grad.ctypes.data_as(pointer),
        logp.ctypes.data_as(pointer),
        compiled.user_data.ctypes.data_as(ctypes.c_void_p),
    )
    return code, float(logp[0]), grad


def call_expand(compiled, x: np.ndarray) -> tuple[int, np.ndarray]:
    """A compiled model's C expansion entry point at `x`: return code, expanded values."""
    x = np.ascontiguousarray(x, dtype=float)
    out = np.zeros(compiled.n_expanded)
    pointer = ctypes.POINTER(ctypes.c_double)
    code = compiled.compiled_expand_func.ctypes(
        len(x),
        len(out),
        x.ctypes.data_as(pointer),
        out.ctypes.data_as(pointer),
        compiled.user_data.ctypes.data_as(ctypes.c_void_p),
    )
    return code, out


_CLASSES: dict[type, type] = {}


def cached_class(base: type) -> type:
    """nutpie's `CompiledPyMCModel` whose `with_data` rewrites the records."""
    if base not in _CLASSES:

        @dataclass(frozen=True)
        class CachedPyMCModel(base):
            def with_data(self, **updates):
                shared = dict(self.shared_data)
                for name, new in updates.items():
                    if name not in shared:
                        raise KeyError(f"Unknown shared variable: {name}")
                    old = shared[name]
                    value = np.array(new, dtype=old.dtype, order="C", copy=True)
                    if value.ndim != old.ndim:
                        raise ValueError(f"Shared variable {name} must have rank {old.ndim}")
                    value.flags.writeable = False
                    shared[name] = value
                return dataclasses.replace(self, shared_data=shared, user_data=user_data(shared))

        _CLASSES[base] = CachedPyMCModel
    return _CLASSES[base]
