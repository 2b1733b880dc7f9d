"""`bayeslead study ...`: simulation studies on Dask (power, recovery, SBC)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayeslead.cli.common import ConfigArg, say, warn
from bayeslead.errors import InputError

study_app = typer.Typer(
    no_args_is_help=True,
    help="Simulation studies on Dask: power analysis, parameter recovery, calibration (SBC).",
)

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
    say(markdown_table(summary.counts))
    say(markdown_table(summary.display_table))
    t = summary.timing
    say(
        f"time: {t['replicate_s']:.1f} s in replicates, compiling {t['compile_s']:.1f} s "
        f"({100 * t['compile_share']:.1f}%), fitting {t['fit_s']:.1f} s"
    )
    for warning in summary.warnings:
        warn(f"warning: {warning}")
    if summary.failed:
        warn(f"warning: {summary.failed} replicates failed (see failures.csv)")
    say(str(summary.folder))


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
