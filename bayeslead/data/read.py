"""Reading response files (CSV, XLSX, SPSS .sav) into a DataFrame, with clear errors."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer
import pandas as pd

from bayeslead.errors import InputError

READERS = (".csv", ".txt", ".tsv", ".xlsx", ".xls", ".sav")


@dataclass(frozen=True)
class RawTable:
    """A response file as read: the frame, its value labels (SPSS) and its sha256."""

    frame: pd.DataFrame
    path: Path | None  # None: a DataFrame passed to the Python API
    sha256: str
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    first_row: int = 2  # file row number of the frame's first row (the header is row 1)
    sheet: str | None = None  # the worksheet read (spreadsheets)
    sheets: tuple[str, ...] = ()  # every worksheet of the file (spreadsheets)

    def describe(self) -> str:
        """The file, and for a spreadsheet the sheet read: how error messages name the source."""
        if self.path is None:
            return "(DataFrame)"
        if self.sheet is None:
            return str(self.path)
        return f"{self.path} (sheet '{self.sheet}')"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(
    path: Path | str,
    sheet: str | int | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
) -> RawTable:
    """Read a CSV/TSV, XLSX or SPSS file.

    SPSS user-defined missing values become missing; SPSS value labels are kept in
    `RawTable.value_labels` so that intake can map coded responses onto an instrument's scale.
    Text files are read as UTF-8 (a byte-order mark is allowed) unless `encoding` is given; a
    file in another encoding is an `InputError` naming the likely encoding. `skip_rows` rows
    below the header are dropped (the question-text and import-id rows of Qualtrics exports).
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
    sheet_name, sheets = None, ()
    skip = list(range(1, skip_rows + 1))
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else None
            text = decode_text(path, encoding)
            frame = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                engine="python",
                dtype=str,
                keep_default_na=False,
                skiprows=skip,
            )
        elif suffix in (".xlsx", ".xls"):
            sheets = tuple(pd.ExcelFile(path).sheet_names)
            sheet_name = _sheet_name(path, sheet, sheets)
            frame = pd.read_excel(path, sheet_name=sheet_name, dtype=object, skiprows=skip)
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
    return RawTable(frame, path, file_sha256(path), labels, 2 + skip_rows, sheet_name, sheets)


def read_columns(
    path: Path | str, sheet: str | int | None = None, encoding: str | None = None
) -> list[str]:
    """The column names of a response file (a CSV's header only; other types are read whole)."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".txt", ".tsv") and path.is_file():
        sep = "\t" if path.suffix.lower() == ".tsv" else None
        try:
            return list(
                pd.read_csv(
                    path, sep=sep, engine="python", nrows=0, encoding=encoding or "utf-8-sig"
                ).columns
            )
        except (pd.errors.ParserError, UnicodeError, LookupError, pd.errors.EmptyDataError):
            pass  # read_table reports what is wrong with the file
    return list(read_table(path, sheet, encoding).frame.columns)


def frame_table(frame: pd.DataFrame) -> RawTable:
    """A DataFrame given to the Python API, as if read from a file (its sha256 is that of its
    CSV text, so the same data give the same run hash)."""
    if frame.shape[0] == 0:
        raise InputError("The DataFrame passed as data has no rows")
    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    text = frame.to_csv(index=False, lineterminator="\n").encode()
    return RawTable(frame.reset_index(drop=True), None, hashlib.sha256(text).hexdigest())


def decode_text(path: Path, encoding: str | None) -> str:
    """The text of `path` in `encoding` (default UTF-8, with or without a byte-order mark);
    `InputError` naming the likely encoding and the key to set when it does not decode."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding or "utf-8-sig")
    except LookupError:
        raise InputError(
            f"Data file {path}: unknown encoding '{encoding}' (data.encoding); use a Python "
            "codec name such as utf-8, cp1252, latin-1, gb18030",
            source=str(path),
        ) from None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = likely_encoding(raw)
        likely = f"; it looks like {guess}" if guess else ""
        hint = guess or "cp1252"
        raise InputError(
            f"Data file {path} is not valid {encoding or 'UTF-8'} (byte {raw[exc.start]:#04x} "
            f"on line {line}){likely}. Set the file's encoding in the config, e.g. "
            f"data: {{encoding: {hint}}} (Excel on Windows saves CSV as cp1252), or save it "
            "from Excel as 'CSV UTF-8'.",
            source=str(path),
        ) from None


# encodings survey files are usually saved in, preferred among equally plausible detections
COMMON = ("cp1252", "gb18030", "big5", "shift_jis", "cp1251", "latin_1", "utf_16")


def likely_encoding(raw: bytes) -> str | None:
    """The encoding charset-normalizer finds most plausible for `raw`, preferring the common
    ones of survey files (Excel on Windows: cp1252; Chinese: GB18030) among its candidates."""
    found = [match.encoding for match in charset_normalizer.from_bytes(raw)]
    if not found:
        return None
    common = [e for e in COMMON if e in found]
    if common:
        return common[0]
    single_byte_latin = found[0].startswith(("cp12", "cp7", "cp8", "iso8859", "mac_"))
    if single_byte_latin and _decodes(raw, "cp1252"):
        return "cp1252"  # Western and Central European code pages are often indistinguishable
    return found[0]


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _sheet_name(path: Path, sheet: str | int | None, sheets: tuple[str, ...]) -> str:
    """The worksheet `sheet` names (a name or a 0-based position; default the first)."""
    listing = ", ".join(repr(s) for s in sheets)
    if sheet is None:
        return sheets[0]
    if isinstance(sheet, int):
        if 0 <= sheet < len(sheets):
            return sheets[sheet]
        raise InputError(
            f"Data file {path}: data.sheet {sheet} is out of range; the file has "
            f"{len(sheets)} sheet(s): {listing} (data.sheet counts from 0, or give a name)",
            source=str(path),
        )
    if sheet not in sheets:
        raise InputError(
            f"Data file {path}: no sheet '{sheet}' (data.sheet); sheets in the file: {listing}",
            source=str(path),
        )
    return sheet
