"""`bayeslead instrument ...` and `bayeslead data ...`: survey instruments and response data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayeslead.cli.common import say, warn
from bayeslead.errors import InputError

instrument_app = typer.Typer(
    no_args_is_help=True, help="Validate, show and export survey instruments."
)
data_app = typer.Typer(
    no_args_is_help=True, help="Check response data against a model or instrument."
)


@instrument_app.command("validate")
def instrument_validate(
    surveys: Annotated[list[Path], typer.Argument(help="Instrument files (surveys/*.yaml).")],
) -> None:
    """Validate instrument files; prints warnings; exit 2 on errors.

    Example: bayeslead instrument validate surveys/*.yaml
    """
    from bayeslead.instrument import load_instrument

    failed = False
    for survey in surveys:
        try:
            inst = load_instrument(survey)
        except InputError as exc:
            warn(str(exc))
            failed = True
            continue
        for warning in inst.warnings:
            warn(f"{survey}: warning: {warning}")
        say(f"{survey}: ok ({len(inst.items())} items, {len(inst.constructs)} constructs)")
    if failed:
        raise typer.Exit(2)


@instrument_app.command("show")
def instrument_show(
    survey: Annotated[Path, typer.Argument(help="Instrument file.")],
    lang: Annotated[str, typer.Option(help="Language: en or zh.")] = "en",
) -> None:
    """Print an instrument's constructs, dimensions and items.

    Example: bayeslead instrument show surveys/dynamic_capabilities.yaml --lang zh
    """
    from bayeslead.instrument import load_instrument
    from bayeslead.report.console import print_instrument

    print_instrument(load_instrument(survey), lang)


@instrument_app.command("export")
def instrument_export(
    survey: Annotated[Path, typer.Argument(help="Instrument file.")],
    format: Annotated[
        str, typer.Option("--format", help="markdown, html, codebook, xlsform or redcap.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    lang: Annotated[str, typer.Option(help="Language: en or zh.")] = "en",
) -> None:
    """Export an instrument for a new survey (questionnaire, codebook, XLSForm, REDCap).

    Example: bayeslead instrument export surveys/tl_dc_bi.yaml --format xlsform -o tl_dc_bi.xlsx
    """
    from bayeslead.instrument import load_instrument
    from bayeslead.instrument.export import export_instrument

    path = export_instrument(load_instrument(survey), format, output, lang=lang)
    say(f"wrote {path}")


@data_app.command("check")
def data_check(
    target: Annotated[Path, typer.Argument(help="Run config, or a data file with --instrument.")],
    data: Annotated[Path | None, typer.Argument(help="Data file (with --instrument).")] = None,
    instrument: Annotated[
        Path | None, typer.Option(help="Instrument to check DATA against.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the per-respondent flags CSV.")
    ] = None,
) -> None:
    """Validate responses and summarise data quality (missingness, straightlining, outliers).

    Examples: bayeslead data check configs/tl_dc_bi_sem.yaml
              bayeslead data check --instrument surveys/tl_dc_bi.yaml responses.csv
    """
    from bayeslead.commands import check_data
    from bayeslead.report.console import print_quality

    if instrument is not None:
        if data is None:
            data, target = target, None
        summary, table = check_data(None, data, instrument)
    else:
        summary, table = check_data(target, data, None)
    print_quality(summary)
    if output is not None:
        from bayeslead.atomic import atomic_write_text

        atomic_write_text(output, table.to_csv(index=False, lineterminator="\n"))
        say(f"wrote {output}")
