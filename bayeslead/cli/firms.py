"""Firm-level survey designs: `bayeslead aggregate` (several informants per firm) and
`bayeslead cmv` (common-method variance checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayeslead.cli.common import ConfigArg, say

SHOWN = {
    "construct": "construct",
    "n_firms": "firms",
    "informants_mean": "informants/firm",
    "rwg_j_uniform_mean": "rwg(j) mean",
    "rwg_j_uniform_median": "rwg(j) median",
    "rwg_j_uniform_share_gt_70": "rwg(j) > .70",
    "rwg_j_slight_skew_mean": "rwg(j) slight skew",
    "awg_mean": "awg mean",
    "ICC1": "ICC(1)",
    "ICC2": "ICC(2)",
}


def aggregate(
    config: ConfigArg,
    data: Annotated[Path | None, typer.Option(help="Response file overriding data.path.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the firm-level means to this CSV.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option(help="Output root overriding the config's output.")
    ] = None,
) -> None:
    """Within-firm agreement (rwg(j), awg), ICC(1) and ICC(2) per construct, firm means and
    (with data.role) informant-role differences; prints the run folder as the last line.

    Example: bayeslead aggregate configs/tl_dc_bi_hierarchical.yaml --out firms.csv
    """
    from bayeslead.aggregation import aggregate_to_run_folder
    from bayeslead.report.markdown import markdown_table

    path, tables = aggregate_to_run_folder(config, data, root, out)
    summary = tables.summary
    say(markdown_table(summary[list(SHOWN)].rename(columns=SHOWN)))
    first = summary.iloc[0]
    say(
        "rwg(j) against the uniform null (variance (A^2 - 1)/12 = "
        f"{first.null_variance_uniform:g} for the first construct) and the slightly skewed null "
        "(LeBreton & Senter 2008: 1.34 for 5 points, 2.90 for 7); ICC(1) and ICC(2) from the "
        "one-way ANOVA of the informants' construct means (Bliese 2000), negative values kept."
    )
    if tables.roles is not None:
        say(
            "informant roles (mean differences from the reference role, 95% intervals; "
            "informants treated as independent):"
        )
        roles = tables.roles[
            ["construct", "term", "role_n", "est", "ci_lower", "ci_upper", "pvalue"]
        ]
        say(markdown_table(roles))
    if out is not None:
        say(f"wrote firm means to {out}")
    say(str(path))


def cmv(
    config: ConfigArg,
    data: Annotated[Path | None, typer.Option(help="Response file overriding data.path.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output root overriding the config's output.")
    ] = None,
) -> None:
    """Common-method variance checks: Harman's single factor, the CFA marker technique (with
    chi-square difference tests) and the unmeasured latent method construct, with how much the
    key indirect effect moves; prints the run folder as the last line.

    Example: bayeslead cmv configs/tl_dc_bi_cmv.yaml
    """
    from bayeslead.method_variance import cmv_to_run_folder
    from bayeslead.report.markdown import markdown_table

    path, result = cmv_to_run_folder(config, data, out)
    columns = ["comparison", "chisq_diff", "df_diff", "pvalue"]
    say(markdown_table(result.tests[columns]))
    harman = result.summary[result.summary.section == "harman"]
    say(markdown_table(harman[["name", "statistic", "value"]]))
    if result.sentence:
        say(result.sentence)
    say(str(path))
