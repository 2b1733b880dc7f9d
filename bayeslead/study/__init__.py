"""Simulation studies (power, parameter recovery, simulation-based calibration) run as
independent replicates on Dask; `simulation_study` is what `bayeslead study` calls."""

from __future__ import annotations

from pathlib import Path

from bayeslead.config import load_config
from bayeslead.study.design import Kind, prepare_study
from bayeslead.study.report import StudySummary, write_study_outputs
from bayeslead.study.runner import run_study, study_folder


def simulation_study(
    kind: Kind,
    config_path: Path | str,
    sizes: list[int],
    reps: int,
    seed: int = 1,
    engine: str | None = None,
    responses: str | None = None,
    bootstrap: int = 0,
    cluster_size: int | None = None,
    out: Path | str | None = None,
    resume: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> StudySummary:
    """Run (or resume) a study and write its folder; see `bayeslead study --help`."""
    design, model = prepare_study(
        config_path, kind, sizes, reps, seed, engine, responses, bootstrap, cluster_size
    )
    root = load_config(config_path).output or Path.cwd() / "outputs"
    folder = study_folder(design, out, resume, root)
    records = run_study(design, model, folder, scheduler, workers, progress)
    return write_study_outputs(folder, design, model, records)
