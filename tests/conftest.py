"""Shared fixtures: paths to the R reference files copied into tests/reference/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

TESTS = Path(__file__).parent
REFERENCE = TESTS / "reference"
ROOT = TESTS.parent
LAVAAN_FIT_TOLERANCES = {  # ours: (lavaan's fitMeasures name, absolute tolerance)
    "npar": ("npar", 0),
    "chisq": ("chisq", 0.01),
    "df": ("df", 0),
    "cfi": ("cfi", 0.002),
    "tli": ("tli", 0.002),
    "rmsea": ("rmsea", 0.002),
    "rmsea_ci_lower": ("rmsea.ci.lower", 0.002),
    "rmsea_ci_upper": ("rmsea.ci.upper", 0.002),
    "srmr": ("srmr", 0.002),
    "aic": ("aic", 0.01),
    "bic": ("bic", 0.01),
}


@pytest.fixture(scope="session")
def reference() -> Path:
    return REFERENCE


def reference_table(folder: str, name: str) -> pd.DataFrame:
    """A CSV from tests/reference/<folder>/<name>."""
    return pd.read_csv(REFERENCE / folder / name)


def reference_row(table: pd.DataFrame, lhs: str, op: str, rhs: str) -> pd.Series:
    """The single row of a lavaan parameter table with this lhs/op/rhs."""
    rows = table[(table.lhs == lhs) & (table.op == op) & (table.rhs == rhs)]
    assert len(rows) == 1, f"{lhs} {op} {rhs}: {len(rows)} rows in the reference"
    return rows.iloc[0]
