"""Columns no covariance model can use: constant items and duplicated items.

Checked on the observed cells of each column (and on the rows where both of a pair are
observed), so blanks never hide the problem from the missing-data path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.errors import InputError, Problem

MIN_SHARED = 3  # rows both columns of a pair must share before they count as duplicates


def check_usable_columns(frame: pd.DataFrame, where: str) -> None:
    """Raise `InputError` (exit 2) naming every constant column and every pair of columns
    that are duplicates of each other (correlation +-1 on the rows where both are observed)."""
    problems = []
    values = frame.astype(float)
    observed = values.notna().sum()
    spread = values.max() - values.min()
    for column in frame.columns:
        if observed[column] == 0:
            problems.append(Problem(column, "no responses (every cell is missing)"))
        elif not spread[column] > 0:
            answer = values[column].dropna().iloc[0]
            problems.append(
                Problem(
                    column,
                    f"no variance: every respondent who answered gave {answer:g} "
                    f"({observed[column]} answers); drop the item from the model",
                )
            )
    varying = [c for c in frame.columns if spread[c] > 0]
    corr = values[varying].corr(min_periods=MIN_SHARED).to_numpy()
    rows, cols = np.nonzero(np.triu(np.abs(corr) > 1 - 1e-10, k=1))
    for i, j in zip(rows, cols, strict=True):
        a, b = varying[i], varying[j]
        kind = "the same answers" if corr[i, j] > 0 else "mirror-image answers"
        problems.append(
            Problem(
                f"{a}, {b}",
                f"duplicated items: {kind} in every row where both are answered (correlation "
                f"{corr[i, j]:+.0f}); the covariance matrix is singular. Check data.columns "
                "(two items mapped to one column?) and drop one of them",
            )
        )
    if problems:
        noun = "column" if len(problems) == 1 else "columns"
        raise InputError(f"Data file {where}: {noun} the model cannot use:", problems, source=where)
