"""A short Markdown report of a run: fit, measurement quality, paths, effects."""

from __future__ import annotations

import numpy as np
import pandas as pd

FIT_LABELS = [
    ("chisq", "chi-square"),
    ("df", "df"),
    ("pvalue", "p"),
    ("cfi", "CFI"),
    ("tli", "TLI"),
    ("rmsea", "RMSEA"),
    ("srmr", "SRMR"),
    ("aic", "AIC"),
    ("bic", "BIC"),
    ("ppp", "PPP"),
    ("elpd_loo", "elpd (LOO)"),
]


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table with numbers rounded to `digits`."""
    if frame.empty:
        return "_(none)_\n"
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join(" --- " for _ in frame.columns) + "|"
    lines = [header, rule]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def markdown_report(inputs, result) -> str:
    """The run's `report.md`."""
    config, spec = inputs.config, inputs.spec
    lines = [f"# {config.name}", ""]
    if config.description:
        lines += [config.description, ""]
    info = result.info
    lines += [
        f"Engine: **{result.engine}**, estimator {info.get('estimator', '')}; "
        f"N = {info.get('n', inputs.data.n if inputs.data else '')}; "
        f"missing data: {info.get('missing', 'n/a')}; standard errors: {info.get('se', 'n/a')}.",
        "",
    ]
    problems = [p for p in result.problems]
    if problems:
        lines += ["## Problems", ""] + [f"- **{p.severity}** {p}" for p in problems] + [""]
    fit = [(label, result.fit[key]) for key, label in FIT_LABELS if key in result.fit]
    if fit:
        lines += ["## Fit", "", markdown_table(pd.DataFrame(fit, columns=["measure", "value"]))]
    if result.reliability is not None:
        lines += ["## Measurement quality", "", markdown_table(result.reliability)]
    if result.htmt is not None:
        lines += ["### HTMT", "", markdown_table(result.htmt)]
    est = result.estimates
    cols = [
        c for c in ["lhs", "op", "rhs", "est", "se", "ci_lower", "ci_upper", "std_est"] if c in est
    ]
    lines += ["## Loadings", "", markdown_table(est.loc[est.op == "=~", cols])]
    lines += ["## Structural paths", "", markdown_table(est.loc[est.op == "~", cols])]
    if len(result.effects):
        eff_cols = [
            c
            for c in [
                "effect",
                "kind",
                "level",
                "path",
                "est",
                "ci_lower",
                "ci_upper",
                "ci_method",
                "std_est",
            ]
            if c in result.effects
        ]
        lines += ["## Effects", "", markdown_table(result.effects[eff_cols])]
    lines += ["## Model (lavaan syntax)", "", "```", spec.to_lavaan().rstrip(), "```", ""]
    return "\n".join(lines)
