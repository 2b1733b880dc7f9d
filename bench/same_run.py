"""Check that two run folders of the same config + seed report the same numbers (issue 22: speed
work must not change results).

Compares, byte for byte, every table (`*.csv`, `tables/*`; .docx files member by member, as
their zip entries carry the time of writing), the fit measures, diagnostics and hypotheses
files, and, array by array, every group of `idata.nc` (draws, sample statistics, pointwise
log-likelihoods, observed data). Timings, dates and paths (manifest.json, report.html, figures)
are not compared. Exit 1 when anything differs.

    .venv/bin/python bench/same_run.py RUN_FOLDER_BEFORE RUN_FOLDER_AFTER
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

SKIP = {"manifest.json", "report.html", "idata.nc"}


def compared_files(folder: Path) -> set[str]:
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    return {f for f in files if f not in SKIP and not f.startswith("figures/")}


def same_content(x: Path, y: Path) -> bool:
    if x.suffix != ".docx":
        return x.read_bytes() == y.read_bytes()
    with zipfile.ZipFile(x) as a, zipfile.ZipFile(y) as b:
        names = a.namelist()
        return names == b.namelist() and all(a.read(n) == b.read(n) for n in names)


def idata_differences(before: Path, after: Path) -> list[str]:
    import arviz as az

    a, b = az.from_netcdf(before), az.from_netcdf(after)
    out = []
    if sorted(a.groups()) != sorted(b.groups()):
        return [f"idata.nc groups {a.groups()} != {b.groups()}"]
    for group in a.groups():
        x, y = getattr(a, group), getattr(b, group)
        if sorted(x.data_vars) != sorted(y.data_vars):
            out.append(f"idata.nc {group}: variables differ")
            continue
        for name in x.data_vars:
            if not np.array_equal(x[name].values, y[name].values, equal_nan=True):
                out.append(f"idata.nc {group}/{name}")
    return out


def main() -> None:
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    names = compared_files(before) | compared_files(after)
    problems = []
    for name in sorted(names):
        x, y = before / name, after / name
        if not x.exists() or not y.exists():
            problems.append(f"{name}: only in {'after' if y.exists() else 'before'}")
        elif not same_content(x, y):
            problems.append(name)
    if (before / "idata.nc").exists() or (after / "idata.nc").exists():
        problems += idata_differences(before / "idata.nc", after / "idata.nc")
    print(f"{len(names)} files and idata.nc compared")
    for problem in problems:
        print(f"DIFFERENT: {problem}")
    if problems:
        raise SystemExit(1)
    print("identical")


if __name__ == "__main__":
    main()
