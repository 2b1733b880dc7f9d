"""Reading response files (CSV, XLSX, SPSS .sav) into a DataFrame, with clear errors."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayeslead.errors import InputError

READERS = (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".sav")


@dataclass(frozen=True)
class RawTable:
    """A response file as read: the frame, its value labels (SPSS) and its sha256."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path | str, sheet: str | int | None = None) -> RawTable:
    """Read a CSV/TSV, XLSX or SPSS file.

    SPSS user-defined missing values become missing; SPSS value labels are kept in
    `RawTable.value_labels` so that intake can map coded responses onto an instrument's scale.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Data file not found: {path}", source=str(path))
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise InputError(
            f"Data file {path}: unsupported type '{suffix}'; use one of {', '.join(READERS)}",
            source=str(path),
        )
    if path.stat().st_size == 0:
        raise InputError(f"Data file {path} is empty (0 bytes)", source=str(path))
    labels: dict[str, dict[float, str]] = {}
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else None
            frame = pd.read_csv(path, sep=sep, engine="python", dtype=str, keep_default_na=False)
        elif suffix in (".xlsx", ".xls"):
            frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object)
        else:
            import pyreadstat

            frame, meta = pyreadstat.read_sav(str(path), user_missing=False)
            labels = {k: dict(v) for k, v in meta.variable_value_labels.items()}
    except pd.errors.EmptyDataError:
        raise InputError(f"Data file {path} is empty (no header row)", source=str(path)) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"Data file {path} could not be read: {exc}", source=str(path)) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[0] == 0:
        raise InputError(
            f"Data file {path} is empty: it has a header but no response rows", source=str(path)
        )
    return RawTable(frame, path, file_sha256(path), labels)


def read_columns(path: Path | str, sheet: str | int | None = None) -> list[str]:
    """The column names of a response file (a CSV's header only; other types are read whole)."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".txt", ".tsv") and path.is_file():
        sep = "\t" if path.suffix.lower() == ".tsv" else None
        try:
            return list(pd.read_csv(path, sep=sep, engine="python", nrows=0).columns)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError):
            pass  # read_table reports what is wrong with the file
    return list(read_table(path, sheet).frame.columns)
