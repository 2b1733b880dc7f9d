"""Which rows of a fit's tables belong to which group and level: the blocks lavaan prints one
after another (``Group 1 [de]:``, ``Level 1 [within]:``), shared by the summary and the paper
tables."""

from __future__ import annotations

import pandas as pd


def text_column(column: pd.Series) -> pd.Series:
    """A column read from CSV as strings, '' where it is empty."""
    return column.astype(object).where(column.notna(), "").astype(str)


def first_block(estimates: pd.DataFrame) -> pd.DataFrame:
    """Rows of the single-level parameters, the within level or the first group."""
    e = estimates
    if "level" in e:
        e = e[text_column(e["level"]).isin(["", "within"])]
    if "group" in e:
        groups = text_column(e["group"])
        first = next((g for g in groups if g and not g.startswith("(")), "")
        e = e[groups.isin(["", first])]
    return e


# the columns that split a fit's tables into blocks, and the label of their blank value
BLANKS = {"group": "all groups", "level": "both levels"}


def block_columns(estimates: pd.DataFrame) -> list[str]:
    """The columns of `BLANKS` ("group", "level") that carry values in `estimates`."""
    return [c for c in BLANKS if c in estimates and text_column(estimates[c]).ne("").any()]


def estimate_blocks(estimates: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The estimates in the blocks lavaan prints: one per group and level, in the table's order,
    each labelled (``"group de, between level"``); a single-level, single-group fit is one block
    labelled ``""``. Rows that belong to no level of a two-level fit (loadings equal across
    levels) form the block ``"both levels"``; rows of the population level of a hierarchical
    multi-group fit (group ``"(pooled)"``) are left out, as from every table of the summary."""
    used = block_columns(estimates)
    keys = [(c, text_column(estimates[c]), blank) for c, blank in BLANKS.items() if c in used]
    if not keys:
        return [("", estimates)]
    frame = pd.DataFrame({column: values for column, values, _ in keys}, index=estimates.index)
    blocks = []
    for where, rows in frame.groupby(list(frame.columns), sort=False):
        where = where if isinstance(where, tuple) else (where,)
        if any(w.startswith("(") for w in where):
            continue
        parts = [
            (f"group {w}" if column == "group" else f"{w} level") if w else blank
            for w, (column, _, blank) in zip(where, keys, strict=True)
        ]
        blocks.append((", ".join(parts), estimates.loc[rows.index]))
    return blocks


def block_heading(name: str, where: str) -> str:
    """A section's heading with the label of its block (`estimate_blocks`): "Regressions
    (between level)", "R-Square (constructs, group de)"; `name` alone for a single block."""
    if not where:
        return name
    return f"{name[:-1]}, {where})" if name.endswith(")") else f"{name} ({where})"


def block_values(row: object) -> list[str]:
    """The group and the level of a row of a fit's table (``["between"]``, ``["de"]``), as far
    as it has them (a fit has groups or levels, never both); ``[]`` in a single-level,
    single-group fit."""
    where = [str(getattr(row, c, "") or "") for c in ("group", "level")]
    return [w for w in where if w and w != "nan"]


def place_of(row: object) -> str:
    """`` [level]`` / `` [group]`` of an effects row (as in effects.csv); ``""`` in a
    single-level, single-group fit."""
    return "".join(f" [{w}]" for w in block_values(row))
