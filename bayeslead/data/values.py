"""Response cells -> numbers: missing tokens, anchor labels, "5 - Strongly agree" answers.

Every conversion that is not a plain number is counted (`Conversions`), so that `data check`
and the run manifest can say how many cells were read from labels or as missing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayeslead.errors import InputError

MISSING_TOKENS = {"", "na", "n/a", "nan", "null", "."}
SHOW = 5
# "5 - Strongly agree", "5 = Strongly agree", "5: Strongly agree", "5. Strongly agree", "5) ..."
NUMBER_FIRST = re.compile(r"^([+-]?\d+)\s*[-\u2013\u2014:=.)]\s*(\S.*)$")
# "Strongly agree (5)", "Strongly agree [5]"
NUMBER_LAST = re.compile(r"^(.*\S)\s*[(\[]\s*([+-]?\d+)\s*[)\]]$")


@dataclass
class Conversions:
    """Counts of cells that were not plain numbers, over the columns read."""

    anchor_labels: int = 0  # "Agree", "5 - Strongly agree", SPSS value labels
    missing_tokens: Counter = field(default_factory=Counter)  # "n/a" -> cells
    missing_codes: int = 0  # data.missing_codes (e.g. -99)

    def add(self, other: Conversions) -> None:
        self.anchor_labels += other.anchor_labels
        self.missing_tokens.update(other.missing_tokens)
        self.missing_codes += other.missing_codes

    def as_dict(self) -> dict[str, object]:
        return {
            "anchor_labels": self.anchor_labels,
            "missing_tokens": dict(self.missing_tokens),
            "missing_codes": self.missing_codes,
        }


def label_value(text: str, labels: dict[str, float]) -> float | None:
    """The scale value of a response written as text: an anchor label ("agree"), or a number
    with its label ("5 - strongly agree", "strongly agree (5)") when the two agree with the
    scale (the label is that number's anchor, or the number has no anchor and the label names
    no other value). `text` is lower-case and stripped."""
    if text in labels:
        return labels[text]
    match = NUMBER_FIRST.match(text)
    number, label = (match.group(1), match.group(2)) if match else (None, None)
    if match is None:
        match = NUMBER_LAST.match(text)
        if match is None:
            return None
        label, number = match.group(1), match.group(2)
    value, label = float(number), label.strip()
    if labels.get(label) == value:
        return value
    if label not in labels and value not in labels.values():
        return value
    return None


def to_numbers(
    column: pd.Series,
    name: str,
    where: str,
    labels: dict[str, float],
    missing_codes: list[float],
    first_row: int = 2,
) -> tuple[pd.Series, Conversions]:
    """Convert one column to float: missing tokens -> NaN, anchor labels -> their values.

    `name` is how messages name the column; `first_row` the file row of the frame's first row.
    Non-numeric values that are neither raise `InputError` listing each distinct value with
    its own rows.
    """
    counts = Conversions()
    text = column.astype(object).where(column.notna(), "")
    text = text.map(lambda v: str(v).strip())
    lowered = text.str.lower()
    is_missing = lowered.isin(MISSING_TOKENS)
    counts.missing_tokens.update(t for t in text[is_missing] if t)
    numbers = pd.to_numeric(text.where(~is_missing), errors="coerce")
    unparsed = numbers.isna() & ~is_missing
    if unparsed.any():
        mapped = lowered[unparsed].map(lambda v: label_value(v, labels)).astype(float)
        numbers[unparsed] = mapped
        counts.anchor_labels = int(mapped.notna().sum())
        unparsed = numbers.isna() & ~is_missing
    if unparsed.any():
        raise InputError(
            f"Data file {where}, column {name}: non-numeric "
            f"{distinct_values(text[unparsed], first_row)}; expected numbers"
            + (" or the scale's anchor labels" if labels else ""),
            source=where,
        )
    numbers = numbers.astype(float)
    if missing_codes:
        coded = numbers.isin(missing_codes)
        counts.missing_codes = int(coded.sum())
        numbers[coded] = np.nan
    return numbers, counts


def distinct_values(bad: pd.Series, first_row: int = 2) -> str:
    """'value 'x' in rows 3, 4' or 'values 'x' in row 3; 'y' in row 9', each value with its own
    rows (file rows; `first_row` is the row of the frame's first row, the header is row 1)."""
    groups = bad.groupby(bad, sort=False).groups
    parts = [
        f"{value!r} in {file_rows(index, first_row)}"
        for value, index in list(groups.items())[:SHOW]
    ]
    more = f"; and {len(groups) - SHOW} more values" if len(groups) > SHOW else ""
    noun = "value" if len(groups) == 1 else "values"
    return f"{noun} " + "; ".join(parts) + more + " (the header is row 1)"


def file_rows(index: pd.Index, first_row: int = 2) -> str:
    """'rows 3, 4' (file row numbers of the first offending entries, the header is row 1)."""
    shown = [str(int(i) + first_row) for i in list(index)[:SHOW]]
    more = f" and {len(index) - SHOW} more" if len(index) > SHOW else ""
    noun = "row" if len(index) == 1 else "rows"
    return f"{noun} " + ", ".join(shown) + more
