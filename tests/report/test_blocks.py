"""Two-level and multi-group fits in the summary and the paper tables: every level and group
is shown, labelled (lavaan prints one block per group and level), never the first alone."""

from __future__ import annotations

import pandas as pd

from bayeslead.report.blocks import estimate_blocks
from bayeslead.report.journal import effects_table as journal_effects
from bayeslead.report.journal import paths_table
from bayeslead.report.summary import RunView, render_summary


def _rows(rows: list[tuple]) -> pd.DataFrame:
    columns = ["lhs", "op", "rhs", "level", "group", "est", "se", "ci_lower", "ci_upper"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["label"] = ""
    frame["std_est"] = frame.est / 2
    frame["p_direction"] = 0.99
    frame["rhat"] = 1.001
    return frame


TWO_LEVEL = _rows(
    [
        ("SENS", "=~", "s1", "", "", 1.0, 0.0, 1.0, 1.0),
        ("SENS", "=~", "s2", "", "", 0.9, 0.05, 0.8, 1.0),
        ("SENS", "~", "TL", "within", "", 0.445, 0.058, 0.337, 0.563),
        ("SENS", "~", "TL", "between", "", 0.842, 0.296, 0.359, 1.542),
        ("SENS", "r2", "SENS", "within", "", 0.235, 0.05, 0.149, 0.329),
        ("SENS", "r2", "SENS", "between", "", 0.434, 0.2, 0.099, 0.845),
    ]
)
GROUPS = _rows(
    [
        ("SEIZ", "~", "SENS", "", "private", 0.61, 0.05, 0.51, 0.71),
        ("SEIZ", "~", "SENS", "", "state", 0.21, 0.05, 0.11, 0.31),
        ("SEIZ", "~", "SENS", "", "(pooled)", 0.40, 0.1, 0.2, 0.6),
    ]
)
EFFECTS = pd.DataFrame(
    {
        "effect": ["serial", "serial"],
        "kind": ["indirect", "indirect"],
        "level": ["within", "between"],
        "path": ["TL -> SENS -> BI"] * 2,
        "est": [0.050, 0.030],
        "se": [0.012, 0.077],
        "ci_lower": [0.029, -0.108],
        "ci_upper": [0.078, 0.203],
        "ci_method": ["posterior-eti"] * 2,
        "std_est": [0.055, 0.026],
        "p_direction": [1.0, 0.744],
    }
)


def _view(estimates: pd.DataFrame, effects: pd.DataFrame | None = None) -> RunView:
    return RunView("firms", "bayes", {}, {}, estimates, effects if effects is not None else EFFECTS)


def test_blocks_follow_levels_and_groups_in_table_order():
    blocks = estimate_blocks(TWO_LEVEL)
    assert [where for where, _ in blocks] == ["both levels", "within level", "between level"]
    assert [len(rows) for _, rows in blocks] == [2, 2, 2]
    # the population rows of a hierarchical multi-group fit are not a group of respondents
    assert [where for where, _ in estimate_blocks(GROUPS)] == ["group private", "group state"]
    single = TWO_LEVEL.drop(columns=["level", "group"])
    assert [where for where, _ in estimate_blocks(single)] == [""]


def test_summary_shows_every_level_and_labels_effects():
    text = render_summary(_view(TWO_LEVEL), compact=True)
    within = text.index("Regressions (within level):")
    between = text.index("Regressions (between level):")
    assert within < between
    assert "0.445" in text[within:between] and "0.842" in text[between:]
    assert "R-Square (constructs, between level):" in text
    assert "serial [within]" in text and "serial [between]" in text
    full = render_summary(_view(TWO_LEVEL))
    assert "Latent variables (both levels):" in full
    groups = render_summary(_view(GROUPS, EFFECTS.iloc[:0]))
    assert "Regressions (group private):" in groups and "Regressions (group state):" in groups
    assert "0.400" not in groups  # the pooled row


def test_paper_paths_table_has_a_level_column_and_effects_say_where():
    table = paths_table(_view(TWO_LEVEL)).frame
    assert list(table.Level) == ["within", "between"]
    assert list(table.B) == ["0.45", "0.84"]
    groups = paths_table(_view(GROUPS)).frame
    assert list(groups.Group) == ["private", "state"]
    single = paths_table(_view(TWO_LEVEL[TWO_LEVEL.level == "within"])).frame
    assert "Level" not in single and len(single) == 1
    effects = journal_effects(_view(TWO_LEVEL)).frame
    assert list(effects.Effect) == ["serial [within]", "serial [between]"]
