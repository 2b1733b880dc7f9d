"""The `bayeslead` command line: parses arguments, calls the library, prints.

Exit codes: 0 success; 1 a fit ran but has problems (results are still written); 2 bad input.
Errors are printed without a traceback; pass `--debug` (anywhere) to see one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bayeslead.cli.common import ConfigArg, route_warnings, say, warn
from bayeslead.cli.firms import aggregate, cmv
from bayeslead.cli.inputs import data_app, instrument_app
from bayeslead.cli.invariance import invariance
from bayeslead.cli.study import study_app
from bayeslead.errors import BayesleadError

INTERRUPTED = 130  # the exit code after Ctrl-C (128 + SIGINT), as typer and shells use it

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Bayesian and ML structural equation models of survey data, from config files.",
)


def _version(value: bool) -> None:
    if value:
        from bayeslead.version import __version__

        say(f"bayeslead {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Bayesian and ML structural equation models of survey data, from config files."""


app.add_typer(instrument_app, name="instrument")
app.add_typer(data_app, name="data")
app.add_typer(study_app, name="study")
app.command()(aggregate)
app.command()(cmv)
app.command()(invariance)


@app.command()
def fit(
    config: ConfigArg,
    data: Annotated[Path | None, typer.Option(help="Response file overriding data.path.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output root overriding the config's output.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed overriding the config's engine seed.")
    ] = None,
    quiet: Annotated[
        bool, typer.Option(help="No progress display (also off when stderr is not a terminal).")
    ] = False,
) -> None:
    """Fit a model and write a new run folder; prints the folder as the last line.

    Example: bayeslead fit configs/tl_dc_bi_sem.yaml --seed 7
    """
    from bayeslead.phases import Phases
    from bayeslead.runs import process_start_time

    phases = Phases(show=not quiet, since=process_start_time())
    with phases.step("startup_s", "Starting: loading bayeslead"):
        from bayeslead.pipeline import fit_to_run_folder
        from bayeslead.report.summary import summary_of_run

    path, result = fit_to_run_folder(config, data, out, seed, phases=phases)
    say(summary_of_run(path, compact=True))
    for problem in result.problems:
        warn(f"{problem.severity}: {problem}")
    say(str(path))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def simulate(
    config: ConfigArg,
    n: Annotated[int, typer.Option("--n", min=2, help="Number of respondents.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.")],
) -> None:
    """Simulate Likert responses from the config's model and its truth: block.

    Example: bayeslead simulate configs/tl_dc_bi_sem.yaml --n 400 --seed 1 -o data/example.csv
    """
    from bayeslead.pipeline import simulate_to_file

    path = simulate_to_file(config, n, seed, output)
    say(f"wrote {n} simulated respondents to {path}")


@app.command("prior-check")
def prior_check(
    config: ConfigArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="PNG file to write.")
    ] = None,
    draws: Annotated[int, typer.Option(min=50, help="Prior draws.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Prior predictive check of a Bayesian config: implied correlations, paths, effects.

    Example: bayeslead prior-check configs/tl_dc_bi_bayes.yaml -o prior_check.png
    """
    from bayeslead.commands import prior_check_to_file
    from bayeslead.report.markdown import markdown_table

    path, summary = prior_check_to_file(config, output, draws, seed)
    say("prior medians and 95% intervals (standardised):")
    say(markdown_table(summary))
    say(str(path))


@app.command()
def diagnose(run: Annotated[Path, typer.Argument(help="A Bayesian run folder.")]) -> None:
    """Re-check a saved Bayesian run against its diagnostics gates; exit 1 if one fails.

    Example: bayeslead diagnose outputs/tl_dc_bi_bayes/20261124T091716Z-e3b27af2
    """
    from bayeslead.bayes.gates import gate_messages
    from bayeslead.diagnose import diagnose_run
    from bayeslead.report.console import print_diagnostics

    report, table = diagnose_run(run)
    print_diagnostics(report, table)
    for message in gate_messages(report):
        warn(message)
    if not report["passed"]:
        raise typer.Exit(1)


@app.command()
def report(run: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Rebuild a run's report.html from its saved files (replacing it atomically).

    Example: bayeslead report outputs/tl_dc_bi_sem/20261124T095856Z-7ba112ba
    """
    from bayeslead.report.html import write_report

    say(str(write_report(run).resolve()))


@app.command()
def summary(
    run: Annotated[Path, typer.Argument(help="A run folder.")],
    format: Annotated[
        str, typer.Option("--format", help="text (aligned, as lavaan prints) or markdown.")
    ] = "text",
) -> None:
    """Print a saved run as lavaan's summary(fit, standardized, fit.measures, rsquare) does.

    Example: bayeslead summary outputs/tl_dc_bi_sem/20261124T095856Z-7ba112ba --format markdown
    """
    from bayeslead.report.summary import summary_of_run

    if format not in ("text", "markdown"):
        raise typer.BadParameter("use text or markdown", param_hint="--format")
    say(summary_of_run(run, format))


@app.command()
def compare(
    runs: Annotated[
        list[Path], typer.Argument(help="Two or more run folders fitted to the same data.")
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the table as CSV.")
    ] = None,
) -> None:
    """Compare runs: PSIS-LOO and WAIC (Bayesian) or chi-square difference tests, AIC, BIC (ML).

    Example: bayeslead compare outputs/tl_dc_bi_bayes/RUN outputs/tl_dc_bi_bayes_parallel/RUN
    """
    from bayeslead.atomic import atomic_write_text
    from bayeslead.compare import compare_runs
    from bayeslead.report.markdown import markdown_table

    comparison = compare_runs(runs)
    say(markdown_table(comparison.table))
    for note in comparison.notes:
        warn(f"note: {note}")
    if output is not None:
        atomic_write_text(output, comparison.table.to_csv(index=False, lineterminator="\n"))
        say(f"wrote {output}")


def main() -> None:
    """Entry point: run the app, turning bayeslead errors into messages and exit codes."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    route_warnings()
    try:
        app()  # standalone: usage errors exit 2, typer.Exit codes pass through as SystemExit
    except SystemExit as exc:
        if exc.code == INTERRUPTED:  # typer turns Ctrl-C into exit 130 without a word
            warn("interrupted")
        raise
    except BayesleadError as exc:
        if debug:
            raise
        warn(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        warn("interrupted")
        sys.exit(INTERRUPTED)
    except Exception as exc:  # a bug: say so briefly; --debug shows the traceback
        if debug:
            raise
        warn(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(1)
