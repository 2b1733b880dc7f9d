"""The `bayeslead` command line: parses arguments, calls the library, prints.

Exit codes: 0 success; 1 a fit ran but has problems (results are still written); 2 bad input.
Errors are printed without a traceback; pass `--debug` (anywhere) to see one.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bayeslead.errors import BayesleadError, InputError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="Bayesian and ML structural equation models of survey data, from config files.",
)
instrument_app = typer.Typer(
    no_args_is_help=True, help="Validate, show and export survey instruments."
)
data_app = typer.Typer(
    no_args_is_help=True, help="Check response data against a model or instrument."
)
app.add_typer(instrument_app, name="instrument")
study_app = typer.Typer(
    no_args_is_help=True,
    help="Simulation studies on Dask: power analysis, parameter recovery, calibration (SBC).",
)
app.add_typer(data_app, name="data")
app.add_typer(study_app, name="study")

ConfigArg = Annotated[Path, typer.Argument(help="Run config (configs/*.yaml).")]


def _say(text: str = "") -> None:
    typer.echo(text)


def _warn(text: str) -> None:
    typer.echo(text, err=True)


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
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Fit a model and write a new run folder; prints the folder as the last line.

    Example: bayeslead fit configs/tl_dc_bi_sem.yaml --seed 7
    """
    from bayeslead.pipeline import fit_to_run_folder
    from bayeslead.report.console import print_summary

    path, result = fit_to_run_folder(config, data, out, seed, progress=not quiet)
    print_summary(result)
    for problem in result.problems:
        _warn(f"{problem.severity}: {problem}")
    _say(str(path))
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
    _say(f"wrote {n} simulated respondents to {path}")


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
    from bayeslead.pipeline import prior_check_to_file
    from bayeslead.report.markdown import markdown_table

    path, summary = prior_check_to_file(config, output, draws, seed)
    _say("prior medians and 95% intervals (standardised):")
    _say(markdown_table(summary))
    _say(str(path))


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
        _warn(message)
    if not report["passed"]:
        raise typer.Exit(1)


@app.command()
def report(run: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Rebuild a run's report.html from its saved files (replacing it atomically).

    Example: bayeslead report outputs/tl_dc_bi_sem/20261124T095856Z-7ba112ba
    """
    from bayeslead.report.html import write_report

    _say(str(write_report(run).resolve()))


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
    _say(markdown_table(comparison.table))
    for note in comparison.notes:
        _warn(f"note: {note}")
    if output is not None:
        atomic_write_text(output, comparison.table.to_csv(index=False, lineterminator="\n"))
        _say(f"wrote {output}")


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
            _warn(str(exc))
            failed = True
            continue
        for warning in inst.warnings:
            _warn(f"{survey}: warning: {warning}")
        _say(f"{survey}: ok ({len(inst.items())} items, {len(inst.constructs)} constructs)")
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
    _say(f"wrote {path}")


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
    from bayeslead.pipeline import check_data
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
        _say(f"wrote {output}")


RepsOpt = Annotated[int, typer.Option(min=1, help="Replicates per sample size.")]
StudySeedOpt = Annotated[
    int, typer.Option(min=0, help="Study seed; replicate seeds derive from it.")
]
StudyOutOpt = Annotated[
    Path | None, typer.Option(help="Study folder (default: a new one under outputs/studies/).")
]
ResumeOpt = Annotated[
    bool, typer.Option(help="Continue the study in --out, skipping finished replicates.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Worker processes of the local cluster (default: one per core)."),
]
QuietOpt = Annotated[bool, typer.Option(help="No progress bar.")]


def _sizes(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"--n: expected comma-separated integers such as 100,200,400; got {text!r}"
        ) from None


def _run_study(kind: str, config: Path, sizes: str, **options) -> None:
    from bayeslead.report.markdown import markdown_table
    from bayeslead.study import simulation_study

    summary = simulation_study(kind, config, _sizes(sizes), **options)
    _say(markdown_table(summary.counts))
    _say(markdown_table(summary.display_table))
    t = summary.timing
    _say(
        f"time: {t['replicate_s']:.1f} s in replicates, compiling {t['compile_s']:.1f} s "
        f"({100 * t['compile_share']:.1f}%), fitting {t['fit_s']:.1f} s"
    )
    for warning in summary.warnings:
        _warn(f"warning: {warning}")
    if summary.failed:
        _warn(f"warning: {summary.failed} replicates failed (see failures.csv)")
    _say(str(summary.folder))


@study_app.command("power")
def study_power(
    config: ConfigArg,
    n: Annotated[str, typer.Option("--n", help="Sample sizes, e.g. 100,200,400,800.")],
    reps: RepsOpt = 200,
    engine: Annotated[
        str | None, typer.Option(help="sem (fast, ML) or bayes; default: the config's engine.")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(min=0, help="ML bootstrap resamples (0: Wald/delta intervals).")
    ] = 0,
    responses: Annotated[
        str, typer.Option(help="Simulate 'likert' answers or 'continuous' latent responses.")
    ] = "likert",
    cluster_size: Annotated[
        int | None, typer.Option(help="Respondents per cluster (two-level configs).")
    ] = None,
    seed: StudySeedOpt = 1,
    out: StudyOutOpt = None,
    resume: ResumeOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Power per sample size: how often each named effect's interval (95% by default) excludes zero and
    each hypothesis is supported, with Monte Carlo error and a power curve.

    Example: bayeslead study power configs/tl_dc_bi_sem.yaml --n 100,200,400,800 --reps 200
    """
    _run_study(
        "power",
        config,
        n,
        reps=reps,
        seed=seed,
        engine=engine,
        responses=responses,
        bootstrap=bootstrap,
        cluster_size=cluster_size,
        out=out,
        resume=resume,
        scheduler=scheduler,
        workers=workers,
        progress=not quiet,
    )


@study_app.command("recovery")
def study_recovery(
    config: ConfigArg,
    n: Annotated[str, typer.Option("--n", help="Sample sizes, e.g. 200,500.")] = "500",
    reps: RepsOpt = 200,
    engine: Annotated[
        str | None, typer.Option(help="sem or bayes; default: the config's engine.")
    ] = None,
    seed: StudySeedOpt = 1,
    out: StudyOutOpt = None,
    resume: ResumeOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Parameter recovery: bias, RMSE and interval coverage (95% by default) of the true parameters.

    Example: bayeslead study recovery configs/tl_dc_bi_bayes.yaml --n 300 --reps 100
    """
    _run_study(
        "recovery",
        config,
        n,
        reps=reps,
        seed=seed,
        engine=engine,
        out=out,
        resume=resume,
        scheduler=scheduler,
        workers=workers,
        progress=not quiet,
    )


@study_app.command("sbc")
def study_sbc(
    config: ConfigArg,
    n: Annotated[str, typer.Option("--n", help="Respondents per simulated data set.")] = "300",
    reps: RepsOpt = 200,
    seed: StudySeedOpt = 1,
    out: StudyOutOpt = None,
    resume: ResumeOpt = False,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Simulation-based calibration (Talts et al. 2018) of a Bayesian config with its priors:
    rank histograms and a uniformity test per parameter.

    Example: bayeslead study sbc tests/fixtures/configs/holzinger_bayes.yaml --reps 200
    """
    _run_study(
        "sbc",
        config,
        n,
        reps=reps,
        seed=seed,
        engine="bayes",
        out=out,
        resume=resume,
        scheduler=scheduler,
        workers=workers,
        progress=not quiet,
    )


def main() -> None:
    """Entry point: run the app, turning bayeslead errors into messages and exit codes."""
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        app()  # standalone: usage errors exit 2, typer.Exit codes pass through as SystemExit
    except BayesleadError as exc:
        if debug:
            raise
        _warn(f"error: {exc}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _warn("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug: say so briefly; --debug shows the traceback
        if debug:
            raise
        _warn(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
