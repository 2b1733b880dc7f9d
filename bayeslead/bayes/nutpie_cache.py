"""Compile once per machine: a persistent cache of nutpie's two C entry points for any PyMC model.

nutpie 0.16 wraps PyTensor's compiled log-density (+ gradient) and its expansion function in two
`numba.cfunc`s that close over runtime objects, so numba cannot cache them and every process
recompiles them (5 s for Holzinger-Swineford on a quiet machine, 15 s for the bundled study on
a busy one). Here the two wrappers are written as source into a module file named by a key of
the model's structure and defined with ``cache=True``: a later process that builds a model of the
same structure imports the module and numba loads their machine code instead of compiling it.

The key hashes PyTensor's own cache keys of the two compiled functions (they hash the rewritten
graphs, constants included), the shared variables' names, dtypes and ranks, the dimensions and
the versions of nutpie, PyTensor, numba, Python and the template below. Data held in `pm.Data`
containers (shared variables) is therefore not in the key: the wrappers read each container's
address and shape from nutpie's user-data pointer, as (address, shape...) int64 records, so data
of any size reuses the same machine code. Every family passes its data that way
(`bayes/blocks/containers.py`; what is structure and what is data per family: ARCHITECTURE.md),
so a fit of a structure fitted before on other data compiles nothing; data held as constants
(two-level models with covariates or blank answers) is in the key.

Computing that key needs the rewritten graphs, which cost more than loading the machine code
(1.1 s of a warm Holzinger-Swineford fit): a structure key computed from the model's un-rewritten
graphs (`nutpie_structure`) names an index file that holds the module's key, so a model of a
structure compiled before loads the module directly (compile phase 0.7 s instead of 1.7 s), after
checking its log-density and expanded values against the un-rewritten graphs. Without an index
entry (a cache written by an older version), or when that check fails, the graphs are rewritten as
above: `CacheInfo.describe` then says "hit (graphs rewritten: why)". On a structure hit the compiled
model's `logp_func` and `expand_func` (PyTensor's functions) are None.

Processes may compile the same key at once: the module file is written to a temporary name and
hard-linked into place (the link fails if another process won; both then use the same file),
and numba writes its cache files to temporary names and renames them.

The cache lives in ``<PyTensor's base_compiledir>/bayeslead_nutpie`` (beside PyTensor's own
numba cache; ``PYTENSOR_FLAGS=base_compiledir=...`` moves both), or in the directory
``BAYESLEAD_NUTPIE_CACHE`` names; ``BAYESLEAD_NUTPIE_CACHE=off`` compiles as nutpie does. When
nutpie's or PyTensor's private API differs from what this module was written against (nutpie
0.16.8 - 0.16.11, PyTensor 2.38), or a model cannot be cached, it falls back to
`nutpie.compile_pymc_model` and says why in `CacheInfo.reason`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pymc as pm

from bayeslead.bayes.nutpie_source import (
    TEMPLATE_VERSION,
    cached_class,
    inlined_graph,
    module_source,
    user_data,
)
from bayeslead.bayes.nutpie_structure import (
    Structure,
    mismatch,
    read_index,
    recall,
    remember,
    structure,
)

if TYPE_CHECKING:
    from nutpie.compile_pymc import CompiledPyMCModel

ENV = "BAYESLEAD_NUTPIE_CACHE"
# what this module uses of `nutpie.compile_pymc` (private, so checked before use)
NUTPIE_NAMES = (
    "_make_functions",
    "_prepare_dims_and_coords",
    "CompiledPyMCModel",
    "address_as_void_pointer",
    "_rv_dict_to_flat_array_wrapper",
    "_compute_shapes",
)

_DTYPES = {
    "float64", "float32", "int64", "int32", "int16", "int8",
    "uint64", "uint32", "uint16", "uint8", "bool",
}  # fmt: skip


class CacheUnavailable(Exception):
    """This model, or this nutpie / PyTensor, cannot use the cache (the message says why)."""


@dataclass(frozen=True)
class CacheInfo:
    """How the sampler's entry points were obtained.

    `status`: "hit" (machine code loaded from the cache), "miss" (compiled and stored),
    "off" (switched off) or "fallback" (compiled by plain nutpie; `reason` says why)."""

    status: str
    key: str = ""
    reason: str = ""

    def describe(self) -> str:
        """One line for the manifest's info."""
        return f"{self.status} ({self.reason})" if self.reason else self.status


def cache_dir() -> Path | None:
    """The cache directory (None when switched off by ``BAYESLEAD_NUTPIE_CACHE=off``)."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in ("off", "0", "false", "no"):
        return None
    if value:
        return Path(value).expanduser()
    import pytensor

    return Path(pytensor.config.base_compiledir) / "bayeslead_nutpie"


def compile_model(
    model: pm.Model,
    initial_points: dict | None = None,
    var_names: list[str] | None = None,
    on_miss: Callable[[], None] | None = None,
    directory: Path | None = None,
) -> tuple[CompiledPyMCModel, CacheInfo]:
    """nutpie's compiled model of `model` (as ``nutpie.compile_pymc_model(model,
    initial_points=..., jitter_rvs=set(), var_names=...)``), its C entry points from the
    persistent cache when a model of the same structure was compiled before on this machine.

    Parameters
    ----------
    model, initial_points, var_names
        As for nutpie (chains start at `initial_points` without jitter).
    on_miss
        Called before compiling entry points that are not in the cache yet.
    directory
        The cache directory (default `cache_dir()`).

    Returns
    -------
    (compiled, info)
        nutpie's `CompiledPyMCModel` and how its entry points were obtained.
    """
    import nutpie
    from numba.core.errors import NumbaError

    where = directory or cache_dir()
    if where is None:
        info = CacheInfo("off", reason=f"{ENV}=off")
    else:
        try:
            return _compile_cached(model, initial_points, var_names, on_miss, Path(where))
        except (
            CacheUnavailable,
            NumbaError,
            ImportError,
            AttributeError,
            TypeError,
            ValueError,
        ) as exc:
            info = CacheInfo("fallback", reason=f"{type(exc).__name__}: {exc}")
    compiled = nutpie.compile_pymc_model(
        model, initial_points=initial_points, jitter_rvs=set(), var_names=var_names
    )
    return compiled, info


def _compile_cached(model, initial_points, var_names, on_miss, directory: Path):
    """The cached route; raises CacheUnavailable (or an API-mismatch error) to fall back."""
    from nutpie import compile_pymc as nc
    from pymc.initial_point import make_initial_point_fn
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    missing = [name for name in NUTPIE_NAMES if not hasattr(nc, name)]
    if missing:
        version = getattr(sys.modules.get("nutpie"), "__version__", "?")
        raise CacheUnavailable(f"nutpie {version}'s compile_pymc has no {', '.join(missing)}")
    point_fn = make_initial_point_fn(
        model=model,
        overrides=initial_points,
        default_strategy="support_point",
        jitter_rvs=set(),
        return_transformed=True,
    )
    found = structure(model, var_names, nc._compute_shapes(model), _versions())
    entry = read_index(directory, found.key)
    compiled = (
        "no structure index"
        if entry is None
        else _from_index(model, found, entry, point_fn, directory)
    )
    if not isinstance(compiled, str):
        return compiled, CacheInfo("hit", key=entry["module"])
    rewritten = f"graphs rewritten: {compiled}"
    made = nc._make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=_locked(point_fn),
        var_names=var_names,
    )
    n_dim, n_expanded, logp_fn, expand_fn, initial_point_fn, shape_info, *rest = made
    if len(rest) > 1:
        raise CacheUnavailable(f"nutpie's _make_functions returned {len(made)} values")
    jitted = (logp_fn.vm.jit_fn, expand_fn.vm.jit_fn)
    keys = [CACHED_SRC_FUNCTIONS.get(f.py_func) for f in jitted]
    if None in keys:
        raise CacheUnavailable("PyTensor has no cache key for this model's functions")
    graphs = [inlined_graph(f) for f in jitted]
    if None in graphs:
        raise CacheUnavailable("PyTensor's compiled functions are not wrappers of their graphs")
    logp_shared = [v.name for v in logp_fn.get_shared()]
    expand_shared = [v.name for v in expand_fn.get_shared()]
    variables = {v.name: v for v in [*logp_fn.get_shared(), *expand_fn.get_shared()]}
    if len(variables) != len(set(logp_fn.get_shared()) | set(expand_fn.get_shared())):
        raise CacheUnavailable("shared variables must have unique names")
    shared_data = _values(variables)
    shared_meta = _meta(shared_data)
    key = _key(keys, logp_shared, expand_shared, shared_meta, n_dim, n_expanded)
    path = directory / f"nutpie_{key}.py"
    _create_once(
        path, module_source(key, n_dim, n_expanded, logp_shared, expand_shared, shared_data)
    )
    module = _load(path, key, *graphs, on_miss)
    hit = module.logp_c.cache_hits > 0 and module.expand_c.cache_hits > 0
    if (n_dim, n_expanded) == (found.n_dim, found.n_expanded):
        entry = {"module": key, "logp": logp_shared, "expand": expand_shared, "rest": rest}
        remember(directory, found, entry | {"meta": shared_meta}, shape_info, variables)
    parts = (n_dim, n_expanded, shape_info, rest, initial_point_fn, logp_fn, expand_fn)
    compiled = _assemble(model, module, parts, variables, shared_data)
    return compiled, CacheInfo("hit", key, rewritten) if hit else CacheInfo("miss", key=key)


def _from_index(model, found: Structure, entry: dict, point_fn, directory: Path):
    """The compiled model from the module the index names, checked against the model's graphs,
    or why not (its machine code is not stored, its shared variables differ, the check fails):
    then the graphs are rewritten and compiled as on a miss."""
    from numba.core.errors import NumbaError
    from nutpie.compile_pymc import _rv_dict_to_flat_array_wrapper

    path = directory / f"nutpie_{entry['module']}.py"
    if not _stored(path):
        return "machine code not stored"
    variables = recall(found, entry)
    if variables is None:
        return "other shared variables"
    shared_data = _values(variables)
    if _meta(shared_data) != [tuple(row) for row in entry["meta"]]:
        return "shared variables of other ranks or types"
    try:
        module = _load(path, entry["module"], _not_compiled, _not_compiled, None)
    except NumbaError:  # numba found no machine code it could use and tried to compile
        return "machine code not loaded"
    if not (module.logp_c.cache_hits and module.expand_c.cache_hits):
        return "machine code not loaded"
    names, _, shapes = found.shape_info
    free = len(found.value_vars)
    initial_point_fn = _rv_dict_to_flat_array_wrapper(
        _locked(point_fn), names=names[:free], shapes=shapes[:free]
    )
    rest = entry["rest"]
    parts = (found.n_dim, found.n_expanded, found.shape_info, rest, initial_point_fn, None, None)
    compiled = _assemble(model, module, parts, variables, shared_data)
    return mismatch(found, point_fn(0), compiled) or compiled


def _not_compiled(*args):
    """Stands for PyTensor's functions when loading stored machine code (never called)."""
    raise CacheUnavailable("the entry points were not stored")


def _assemble(model, module, parts: tuple, variables: dict, shared_data: dict):
    """nutpie's compiled model around the entry points of `module`."""
    from nutpie import compile_pymc as nc

    n_dim, n_expanded, shape_info, rest, initial_point_fn, logp_fn, expand_fn = parts
    dims, coords = nc._prepare_dims_and_coords(model, shape_info, *rest)
    extra = {}
    names = {f.name for f in dataclasses.fields(nc.CompiledPyMCModel)}
    if "shared_var_keys" in names:  # nutpie >= 0.16.9 keys shared data by these
        extra["shared_var_keys"] = {var: name for name, var in variables.items()}
    if "reparameterized_names" in names:
        extra["reparameterized_names"] = rest[0] if rest else []
    return cached_class(nc.CompiledPyMCModel)(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=module.logp_c,
        compiled_expand_func=module.expand_c,
        initial_point_func=initial_point_fn,
        shared_data=shared_data,
        user_data=user_data(shared_data),
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        **extra,
    )


def _values(variables: dict) -> dict[str, np.ndarray]:
    """Read-only C-contiguous copies of the shared variables' values."""
    shared_data = {}
    for name, var in variables.items():
        value = np.array(var.get_value(), order="C", copy=True)
        if value.dtype.name not in _DTYPES:
            raise CacheUnavailable(f"shared variable {name} has dtype {value.dtype}")
        value.flags.writeable = False
        shared_data[name] = value
    return shared_data


def _meta(shared_data: dict[str, np.ndarray]) -> list[tuple]:
    """Name, rank and dtype of each shared variable (sorted)."""
    return sorted((n, v.ndim, v.dtype.name) for n, v in shared_data.items())


def _key(*parts) -> str:
    """The structure's key: a hash of `parts` and the versions that make the machine code."""
    return "m" + hashlib.sha256(repr((*parts, _versions())).encode()).hexdigest()[:32]


def _versions() -> str:
    import numba
    import nutpie
    import pytensor

    python = ".".join(map(str, sys.version_info[:3]))
    return f"{nutpie.__version__}/{pytensor.__version__}/{numba.__version__}/{python}/{TEMPLATE_VERSION}"


def _create_once(path: Path, text: str) -> None:
    """Create `path` with `text` atomically unless it exists (another process may race)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=".py")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        try:
            os.link(tmp, path)  # fails if another process created it first
        except FileExistsError:
            pass
        except OSError:  # no hard links here: an atomic replace (same bytes)
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path, key: str, logp_jit, expand_jit, on_miss):
    """Run the module file: its cfuncs load their machine code, or compile and store it."""
    spec = importlib.util.spec_from_file_location(f"bayeslead_nutpie_cache.{key}", path)
    if spec is None or spec.loader is None:
        raise CacheUnavailable(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # numba names the module of a function it cannot find in sys.modules (these generated
    # ones, PyTensor's) "<dynamic>" and imports that name when it loads their environments
    # from the cache: let the import find numba's own dummy module of that name
    from numba.core import utils

    sys.modules.setdefault(utils._dynamic_modname, utils._dynamic_module)
    module.logp_inner, module.expand_inner = logp_jit, expand_jit
    if on_miss is not None and not _stored(path):
        on_miss()
    spec.loader.exec_module(module)
    return module


def _stored(path: Path) -> bool:
    """Whether numba's index files for both entry points exist (beside `path`, or under
    NUMBA_CACHE_DIR when set): a likely hit."""
    import numba

    pattern = f"{path.stem}.*.nbi"
    found = list((path.parent / "__pycache__").glob(pattern))
    if numba.config.CACHE_DIR:
        found += list(Path(numba.config.CACHE_DIR).rglob(pattern))
    return len(found) >= 2


def _locked(function: Callable) -> Callable:
    """`function` behind a lock (nutpie calls the initial-point function from several threads)."""
    lock = threading.Lock()

    def call(*args, **kwargs):
        with lock:
            return function(*args, **kwargs)

    return call
