"""Run folders: ``<output>/<name>/<UTC timestamp>-<short hash>/``, created atomically.

Everything is written into a hidden temporary sibling, which is renamed to its final name only
when complete, so a crashed run never leaves a folder that looks finished, and a run never
overwrites another (a name clash gets a numeric suffix). Only `report.html` of a finished run
may be replaced later (`replace_report`), again atomically.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import platform
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayeslead.atomic import atomic_write_text
from bayeslead.errors import BayesleadWarning, InputError
from bayeslead.version import __version__

PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "semopy",
    "pymc",
    "pytensor",
    "arviz",
    "nutpie",
    "numpyro",
    "jax",
    "pydantic",
    "matplotlib",
)


# The run-folder format: which files a run has and what their columns mean. Raise it (and add a
# line to FORMAT_CHANGES) only when a saved run can no longer be read as before; any bayeslead
# reads runs of the formats it knows, whichever version wrote them.
FORMAT_VERSION = 1
FORMAT_CHANGES = {1: "the first recorded format (bayeslead 0.1)"}


def process_start_time() -> float:
    """Wall-clock time (epoch seconds) at which this process started."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
        return boot + start_ticks / ticks
    except (OSError, ValueError, StopIteration, IndexError):
        return _IMPORT_TIME


_IMPORT_TIME = time.time()


def package_versions() -> dict[str, str]:
    """Versions of Python, bayeslead and the numerical stack (installed packages only)."""
    out = {"python": platform.python_version(), "bayeslead": __version__}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_hash(config_yaml: str, data_sha256: str, seed: int | None) -> str:
    text = f"{config_yaml}\n{data_sha256}\n{seed}"
    return hashlib.sha256(text.encode()).hexdigest()


class RunFolder:
    """A run folder being written: files go to a temporary sibling until `finish()`."""

    def __init__(self, root: Path, name: str, short_hash: str):
        self.parent = Path(root) / name
        self.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.final_name = f"{stamp}-{short_hash[:8]}"
        self.tmp = self.parent / f".{self.final_name}.{os.getpid()}.incomplete"
        self.tmp.mkdir()
        self.path: Path | None = None

    def write_text(self, name: str, text: str) -> Path:
        target = self.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(target, text)

    def write_json(self, name: str, data: Any) -> Path:
        return self.write_text(
            name, json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n"
        )

    def write_csv(self, name: str, frame: pd.DataFrame) -> Path:
        return self.write_text(name, frame.to_csv(index=False, lineterminator="\n"))

    def write_netcdf(self, name: str, idata: Any) -> Path:
        """An ArviZ InferenceData as netCDF; attributes netCDF cannot store (nutpie >= 0.16.9
        records its settings as a dict, in the top-level attributes) are written as JSON."""
        safe = str | bytes | int | float | np.number | np.ndarray | list | tuple
        for attrs in [idata.attrs] + [getattr(idata, group).attrs for group in idata.groups()]:
            for key, value in list(attrs.items()):
                if not isinstance(value, safe):
                    attrs[key] = json.dumps(value, default=str)
        target = self.file(name)
        idata.to_netcdf(str(target))
        return target

    def file(self, name: str) -> Path:
        """Path for a file another library writes itself (e.g. netCDF); write it completely."""
        target = self.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def finish(self) -> Path:
        """Rename the temporary folder to its final name (never over an existing run)."""
        for suffix in itertools.count():
            target = self.parent / (self.final_name + (f"-{suffix}" if suffix else ""))
            if target.exists():
                continue
            try:
                os.rename(self.tmp, target)
            except OSError:
                if target.exists():  # another run took this name in the meantime
                    continue
                raise
            self.path = target.resolve()
            return self.path
        raise AssertionError("unreachable")

    def abandon(self) -> None:
        """Remove the temporary folder of a run that failed."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and NaN to JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    return value


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def check_format(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a run whose format this bayeslead cannot read, naming what changed; warn when a
    readable run was written by another bayeslead version. Runs written before the format was
    recorded are format 1."""
    fmt = manifest.get("format_version", 1)
    written_by = manifest.get("bayeslead_version")
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise InputError(
            f"Run folder {path} has run-folder format {fmt} (written by bayeslead {written_by}); "
            f"this is bayeslead {__version__}, which reads formats up to {FORMAT_VERSION}: "
            "upgrade bayeslead to read it"
        )
    if fmt not in FORMAT_CHANGES:
        changes = "; ".join(f"format {k}: {v}" for k, v in FORMAT_CHANGES.items() if k > fmt)
        raise InputError(
            f"Run folder {path} has run-folder format {fmt}, which bayeslead {__version__} no "
            f"longer reads ({changes}): refit it with this version"
        )
    if written_by != __version__:
        warnings.warn(
            f"run folder {path} was written by bayeslead {written_by} (this is {__version__}); "
            f"its format ({fmt}) is read unchanged",
            BayesleadWarning,
            stacklevel=3,
        )


REQUIRED = {
    "sem": ("config.yaml", "manifest.json", "estimates.csv", "effects.csv", "fit.json"),
    "bayes": (
        "config.yaml",
        "manifest.json",
        "estimates.csv",
        "effects.csv",
        "fit.json",
        "diagnostics.json",
        "idata.nc",
    ),
}


@dataclass
class SavedRun:
    """A finished run folder read back: its manifest, resolved config text and tables."""

    path: Path
    manifest: dict[str, Any]
    config_text: str

    @property
    def engine(self) -> str:
        return self.manifest["engine"]

    def table(self, name: str) -> pd.DataFrame | None:
        file = self.path / f"{name}.csv"
        return pd.read_csv(file, keep_default_na=False, na_values=[""]) if file.exists() else None

    def json(self, name: str) -> dict[str, Any] | None:
        file = self.path / f"{name}.json"
        return json.loads(file.read_text()) if file.exists() else None

    def idata(self):
        import arviz as az

        return az.from_netcdf(self.path / "idata.nc")


def load_run(path: Path | str) -> SavedRun:
    """Read a run folder, refusing an incomplete one, one of a format this version cannot read,
    or one whose provenance does not check out (config/data/seed not matching its manifest)."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise InputError(f"Run folder not found: {path}")
    if path.name.startswith(".") or path.name.endswith(".incomplete"):
        raise InputError(
            f"Run folder {path} is incomplete (still being written, or its run crashed)"
        )
    manifest_file = path / "manifest.json"
    if not manifest_file.exists():
        raise InputError(f"Run folder {path} is incomplete: manifest.json is missing")
    manifest = json.loads(manifest_file.read_text())
    missing = [
        f for f in REQUIRED.get(manifest.get("engine"), REQUIRED["sem"]) if not (path / f).exists()
    ]
    if missing:
        raise InputError(f"Run folder {path} is incomplete: missing {', '.join(missing)}")
    check_format(path, manifest)
    config_text = (path / "config.yaml").read_text(encoding="utf-8")
    digest = config_hash(config_text, manifest.get("data_sha256", ""), manifest.get("seed"))
    if digest != manifest.get("config_sha256"):
        raise InputError(
            f"Run folder {path}: config.yaml does not match the manifest's config_sha256 "
            "(the folder was edited after the run); refusing to use it"
        )
    return SavedRun(path, manifest, config_text)
