"""The cache version of the kernels' PyTensor Ops.

PyTensor keeps each Op's compiled numba wrapper on disk keyed by the Op's type, its props and
the integer its numba dispatcher returns, never by source, and the wrappers carry the kernels'
machine code inlined. A kernel edited without a new integer was therefore served from the old
cache (after a `git pull` on an editable install, or a release that forgot the bump), and so
were nutpie's cached entry points built from those wrappers (`bayes/nutpie_cache.py` keys them
by PyTensor's keys). `CACHE_VERSION` is a digest of every file of this folder, so any change of
a kernel, its flags or an Op's inputs gives every Op a new key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def source_digest(folder: Path, pattern: str = "*.py") -> str:
    """A SHA-256 hex digest of the relative paths and contents of the files of `folder`
    matching `pattern` (``"**/*.py"``: every Python file below it)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob(pattern)):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_version(folder: Path = Path(__file__).parent) -> int:
    """A 60-bit integer digest of the ``*.py`` files of `folder` (`source_digest`)."""
    return int(source_digest(folder)[:15], 16)


CACHE_VERSION = source_version()
