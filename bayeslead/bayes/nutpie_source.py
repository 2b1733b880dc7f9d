"""The source of nutpie's two C entry points for one model structure (see `nutpie_cache`).

It mirrors nutpie 0.16's `_make_c_logp_func` / `_make_c_expand_func` (same return codes, so the
sampler behaves the same), but reads each shared variable's address and shape from int64 records
instead of closing over runtime objects, so numba can cache the machine code on disk.
"""

from __future__ import annotations

# bump when the generated source changes: the key (and so the module file) changes with it
TEMPLATE_VERSION = "1"

TEMPLATE = '''"""bayeslead: nutpie's C entry points for one model structure ({key}). Generated; do not edit.

`logp_inner` and `expand_inner` (PyTensor's compiled functions) are set before this runs."""
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
        out[...] = grad
        if not np.all(np.isfinite(out)):
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
        out[...] = values
    except Exception:  # noqa: BLE001
        return -2
    return 0
'''


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
