"""`bayeslead invariance`: the measurement-invariance ladder across the groups of a config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayeslead.cli.common import ConfigArg, say

SHOWN = {
    "level": "level",
    "chisq": "chisq",
    "df": "df",
    "cfi": "CFI",
    "rmsea": "RMSEA",
    "srmr": "SRMR",
    "chisq_diff": "d chisq",
    "df_diff": "d df",
    "p_diff": "p",
    "delta_cfi": "d CFI",
    "delta_rmsea": "d RMSEA",
    "delta_srmr": "d SRMR",
    "decision": "decision",
}


def invariance(
    config: ConfigArg,
    group: Annotated[
        str | None, typer.Option(help="Group column overriding the config's data.group.")
    ] = None,
    levels: Annotated[
        str | None,
        typer.Option(help="Comma-separated levels (default: configural,metric,scalar,strict)."),
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Response file overriding data.path.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output root overriding the config's output.")
    ] = None,
) -> None:
    """Fit the invariance ladder (configural, metric, scalar, strict) by multi-group ML:
    chi-square difference tests, changes in CFI / RMSEA / SRMR and a decision per level, and
    the parameters to free (score tests) when a level fails; prints the run folder last.

    Example: bayeslead invariance configs/hs_invariance.yaml --group school
    """
    from bayeslead.invariance import invariance_to_run_folder
    from bayeslead.report.markdown import markdown_table

    chosen = [x.strip() for x in levels.split(",") if x.strip()] if levels else None
    path, ladder, rule = invariance_to_run_folder(config, data, group, chosen, out)
    say(markdown_table(ladder.table[list(SHOWN)].rename(columns=SHOWN)))
    say(rule)
    for level, block in ladder.scores.groupby("level", sort=False):
        top = block[block.new_at_level].head(5)
        listing = ", ".join(
            f"{r.parameter} (X2 {r.x2:.2f}, p {r.pvalue:.3g})" for r in top.itertuples()
        )
        say(
            f"{level} fails: parameters to free, by score test: {listing}. Add the first to "
            "group_partial and rerun."
        )
    say(str(path))
