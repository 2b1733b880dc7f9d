"""The hypotheses table of a run as Markdown and as a booktabs LaTeX table."""

from __future__ import annotations

import pandas as pd

from bayeslead.hypotheses import ALPHA, PROBABILITY
from bayeslead.report.markdown import markdown_table


def hypotheses_markdown(table: pd.DataFrame, bayesian: bool) -> str:
    """The table as Markdown, with the decision rule under it."""
    shown = _display(table, bayesian)
    rule = (
        f"Supported when the posterior probability is at least {PROBABILITY}."
        if bayesian
        else f"Supported when the one-sided p-value is below {ALPHA}."
    )
    return markdown_table(shown) + "\n" + rule + "\n"


def hypotheses_latex(table: pd.DataFrame, bayesian: bool) -> str:
    """A booktabs LaTeX table of the hypotheses."""
    shown = _display(table, bayesian)
    header = " & ".join(_latex(c) for c in shown.columns) + r" \\"
    lines = [
        r"\begin{tabular}{" + "l" * 2 + "r" * (shown.shape[1] - 3) + "l}",
        r"\toprule",
        header,
        r"\midrule",
    ]
    for _, row in shown.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else _latex(str(v)) for v in row]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def _display(table: pd.DataFrame, bayesian: bool) -> pd.DataFrame:
    shown = table.rename(columns={"ci_lower": "95% lower", "ci_upper": "95% upper"})
    drop = ["ci_method", "pvalue"] if bayesian else ["ci_method", "probability"]
    return shown.drop(columns=drop)


def _latex(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("~", r"\textasciitilde{}"),
        ("<", r"$<$"),
        (">", r"$>$"),
        ("#", r"\#"),
    ):
        text = text.replace(a, b)
    return text
