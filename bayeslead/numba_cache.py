"""What numba's on-disk cache cannot see: a change in another file.

numba keys each cached function by the modification time and size of its own source file only.
A kernel that calls a numba function of another file (`bayes/kernels/twolevel_blanks.py` calls
`kernels/lanes.py`'s helpers, compiled into its own machine code) therefore keeps its old
machine code when only the callee's file changed: after a `git pull` on an editable install, or a
developer's edit, numbers would silently come from the old code (at stop 35 the draws of one fit
depended on which caches were warm). `refresh` runs when bayeslead is imported, before any numba
function is defined: for each group of files whose numba functions call each other (`GROUPS`),
it keeps a digest of their contents in the group's ``__pycache__``; when the contents changed,
every file of the group gets a new modification time, so numba recompiles each of them once.
A read-only installation is left alone (its files do not change)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).parent
# folders (relative to the package) and the files in them whose numba functions call each other
GROUPS = {
    "bayes/kernels": ("*.py",),
    "core": ("bivariate.py", "polychoric.py"),
}
STAMP = "numba_sources.sha256"


def refresh(package: Path = PACKAGE) -> list[Path]:
    """Give every file of each group in `GROUPS` whose contents changed since the last call a
    new modification time; the files touched."""
    return [
        path
        for folder, patterns in GROUPS.items()
        for path in refresh_group(package / folder, patterns)
    ]


def refresh_group(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    """`refresh` for the files of `folder` matching `patterns`: all of them are touched when
    their digest differs from the one kept in ``folder/__pycache__``, none otherwise."""
    files = sorted({path for pattern in patterns for path in folder.glob(pattern)})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    stamp = folder / "__pycache__" / STAMP
    try:
        if stamp.read_text(encoding="ascii") == digest.hexdigest():
            return []
    except OSError:
        pass  # no digest yet: numba's cache may predate it, so refresh once
    try:
        for path in files:
            os.utime(path)
        stamp.parent.mkdir(exist_ok=True)
        temporary = stamp.with_name(f"{STAMP}.{os.getpid()}")
        temporary.write_text(digest.hexdigest(), encoding="ascii")
        os.replace(temporary, stamp)
    except OSError:
        return []  # a read-only installation
    return files
