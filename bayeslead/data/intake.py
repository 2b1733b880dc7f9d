"""Response intake: map columns to items, convert, validate ranges and ids, reverse-score.

Only the columns the model uses are validated. Problems that make the data unusable raise
`InputError` (exit code 2) naming the file, the column, the first offending rows and the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayeslead.data.read import RawTable, frame_table, read_table
from bayeslead.data.values import Conversions, to_numbers
from bayeslead.errors import InputError, Problem
from bayeslead.instrument import Instrument

SHOW_ROWS = 5


@dataclass(frozen=True)
class ResponseData:
    """Validated responses of the model's columns (items reverse-scored), ready for the engines."""

    frame: pd.DataFrame  # columns: the model's manifest variables, float, NaN = missing
    raw: pd.DataFrame  # the same columns before reverse scoring, plus attention checks
    path: Path | None
    sha256: str
    ranges: dict[str, tuple[int, int]]  # item -> (low, high) where a scale is known
    reversed_items: tuple[str, ...] = ()
    ids: pd.Series | None = None
    clusters: pd.DataFrame | None = None  # cluster (and level-3) id columns
    attention: dict[str, int] = field(default_factory=dict)  # check id -> expected value
    warnings: tuple[Problem, ...] = ()
    conversions: dict[str, object] = field(default_factory=dict)  # `Conversions.as_dict()`
    first_row: int = 2  # file row of the first response row (the header is row 1)

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def has_missing(self) -> bool:
        return bool(self.frame.isna().to_numpy().any())

    def id_column(self, column: str, what: str) -> pd.Series:
        """Values of the id column `column` (cluster, level-3 unit or group); `InputError`
        naming the rows (of the file, header = row 1) where it is empty."""
        ids = self.clusters[column]
        missing = ids.isna() | (ids.astype(str).str.strip() == "")
        if missing.any():
            rows = ", ".join(str(i + self.first_row) for i in ids.index[missing][:5])
            raise InputError(
                f"Data file {self.path}, column '{column}': missing {what} in rows {rows} (the "
                "header is row 1); every respondent needs one"
            )
        return ids


def load_responses(
    path: Path | str | pd.DataFrame,
    items: list[str],
    *,
    observed: list[str] | None = None,
    instrument: Instrument | None = None,
    scale: tuple[int, int] | None = None,
    column_map: dict[str, str] | None = None,
    id_column: str | None = None,
    cluster_columns: list[str] | None = None,
    missing_codes: list[float] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    skip_rows: int = 0,
) -> ResponseData:
    """Read a response file and validate the model's item and observed-variable columns.

    `column_map` maps item id -> column name in the file; `scale` is the response range of items
    an instrument does not describe. Observed (non-item) variables are checked to be numeric only.
    `sheet`, `encoding` and `skip_rows` are passed to `read_table`; `path` may also be a
    DataFrame (the Python API).
    """
    if isinstance(path, pd.DataFrame):
        table = frame_table(path)
    else:
        table = read_table(path, sheet=sheet, encoding=encoding, skip_rows=skip_rows)
    return validate_responses(
        table,
        items,
        observed=observed or [],
        instrument=instrument,
        scale=scale,
        column_map=column_map or {},
        id_column=id_column,
        cluster_columns=cluster_columns or [],
        missing_codes=missing_codes or [],
    )


def validate_responses(
    table: RawTable,
    items: list[str],
    *,
    observed: list[str],
    instrument: Instrument | None,
    scale: tuple[int, int] | None,
    column_map: dict[str, str],
    id_column: str | None,
    cluster_columns: list[str],
    missing_codes: list[float],
) -> ResponseData:
    """Validate an already-read table; see `load_responses`."""
    frame, where, first = table.frame, table.describe(), table.first_row
    inst_items = {info.id: info for info in instrument.items()} if instrument else {}
    checks = {c.id: c for c in instrument.attention_checks} if instrument else {}
    columns = [*items, *observed]
    wanted = {c: column_map.get(c, c) for c in columns}
    extra_ids = [c for c in [id_column, *cluster_columns] if c]
    missing = [
        f"'{col}' (item {item})" if col != item else f"'{col}'"
        for item, col in wanted.items()
        if col not in frame.columns
    ]
    missing += [f"'{c}'" for c in extra_ids if c not in frame.columns]
    if missing:
        available = ", ".join(list(frame.columns)[:30])
        raise InputError(
            f"Data file {where} lacks {len(missing)} column(s) the model needs: "
            f"{', '.join(missing)}. Columns in the file: {available}"
            + (" ..." if frame.shape[1] > 30 else "")
            + ". Map differently named columns with data.columns in the config"
            + _other_sheets(table)
            + ".",
            source=where,
        )
    ranges: dict[str, tuple[int, int]] = {}
    for item in items:
        if item in inst_items:
            ranges[item] = inst_items[item].scale.range
        elif scale is not None:
            ranges[item] = scale
    values = {}
    conversions = Conversions()
    for item, col in wanted.items():
        labels = _label_map(item, inst_items, table.value_labels.get(col, {}))
        name = f"'{col}'" + (f" (item {item})" if col != item else "")
        values[item], counts = to_numbers(frame[col], name, where, labels, missing_codes, first)
        conversions.add(counts)
        recode = _spss_recoding(inst_items.get(item), table.value_labels.get(col, {}))
        if recode:
            values[item] = values[item].map(lambda v, r=recode: r.get(v, v))
        if item in ranges:
            _check_range(values[item], name, where, ranges[item], frame[col], first)
    raw = pd.DataFrame(values)
    for check_id in checks:
        if check_id in frame.columns:
            raw[check_id], _ = to_numbers(
                frame[check_id], f"'{check_id}'", where, {}, missing_codes, first
            )
    ids = None
    if id_column:
        ids = frame[id_column].astype(str).str.strip()
        dup = ids[ids.duplicated(keep=False)]
        if len(dup):
            rows = _rows(dup.index, first)
            raise InputError(
                f"Data file {where}, column '{id_column}': duplicate respondent ids "
                f"{', '.join(repr(v) for v in dup.unique()[:SHOW_ROWS])} in rows {rows}",
                source=where,
            )
    clusters = frame[cluster_columns].copy() if cluster_columns else None
    reversed_items = tuple(i for i in columns if i in inst_items and inst_items[i].item.reverse)
    scored = raw[list(columns)].copy()
    for item in reversed_items:
        low, high = ranges[item]
        scored[item] = low + high - scored[item]
    warnings = []
    unused_checks = [c for c in checks if c not in frame.columns]
    if unused_checks:
        listing = ", ".join(unused_checks)
        warnings.append(
            Problem(where, f"attention-check columns not in the file: {listing}", "warning")
        )
    if conversions.missing_tokens:
        tokens = ", ".join(f"'{t}' ({n})" for t, n in conversions.missing_tokens.items())
        warnings.append(Problem(where, f"cells read as missing: {tokens}", "warning"))
    return ResponseData(
        frame=scored,
        raw=raw,
        path=table.path,
        sha256=table.sha256,
        ranges=ranges,
        reversed_items=reversed_items,
        ids=ids,
        clusters=clusters,
        attention={c.id: c.expected for c in checks.values() if c.id in frame.columns},
        warnings=tuple(warnings),
        conversions=conversions.as_dict(),
        first_row=first,
    )


def _other_sheets(table: RawTable) -> str:
    """For a workbook: which sheet was read and how to choose another one."""
    if table.sheet is None:
        return ""
    others = [s for s in table.sheets if s != table.sheet]
    if not others:
        return f"; sheet '{table.sheet}' is the only sheet of the workbook"
    listing = ", ".join(repr(s) for s in others)
    return f"; sheet '{table.sheet}' was read: choose another one with data.sheet ({listing})"


def _rows(index: pd.Index, first_row: int = 2) -> str:
    """File row numbers (the header is row 1) of the first offending entries."""
    shown = [str(int(i) + first_row) for i in list(index)[:SHOW_ROWS]]
    more = f" and {len(index) - SHOW_ROWS} more" if len(index) > SHOW_ROWS else ""
    return ", ".join(shown) + more + " (the header is row 1)"


def _label_map(item: str, inst_items: dict, spss_labels: dict[float, str]) -> dict[str, float]:
    """Response text (anchor labels, SPSS value labels) -> scale value for one item."""
    out: dict[str, float] = {}
    info = inst_items.get(item)
    if info is not None:
        for labels in info.scale.labels.values():
            out.update({str(text).strip().lower(): float(value) for value, text in labels.items()})
    for code, text in spss_labels.items():
        out.setdefault(str(text).strip().lower(), float(code))
    return out


def _spss_recoding(info, spss_labels: dict[float, str]) -> dict[float, float]:
    """SPSS code -> scale value when every labelled code names one of the scale's anchors.

    E.g. a file coded 0..6 with labels "Strongly disagree".."Strongly agree" is read onto a 1..7
    instrument scale. Codes whose labels do not all match leave the column as it is.
    """
    if info is None or not spss_labels:
        return {}
    anchors = {}
    for labels in info.scale.labels.values():
        anchors.update({str(text).strip().lower(): float(v) for v, text in labels.items()})
    mapped = {
        float(code): anchors.get(str(text).strip().lower()) for code, text in spss_labels.items()
    }
    if any(v is None for v in mapped.values()):
        return {}
    return {k: v for k, v in mapped.items() if k != v}


def _check_range(
    values: pd.Series,
    name: str,
    where: str,
    bounds: tuple[int, int],
    original: pd.Series,
    first_row: int,
) -> None:
    low, high = bounds
    present = values.dropna()
    bad = present[(present < low) | (present > high) | (present != np.round(present))]
    if len(bad):
        raise InputError(
            f"Data file {where}, column {name}: value {_show(original[bad.index[0]])!r} outside the "
            f"scale {low}..{high} (whole numbers) in rows {_rows(bad.index, first_row)}",
            source=where,
        )


def _show(value: object) -> str:
    """A response value as the user would write it (1.0 -> '1')."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
