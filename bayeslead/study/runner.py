"""Running a study on Dask: one task per replicate, on a `LocalCluster` by default or an existing
cluster (`scheduler="tcp://host:port"`), each record appended to `replicates.jsonl` as soon as
its replicate finishes, so an interrupted study resumes without redoing finished replicates.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from bayeslead.atomic import atomic_write_text
from bayeslead.errors import InputError, StudyInterrupted
from bayeslead.study.design import Replicate, StudyDesign, StudyModel, replicates
from bayeslead.study.replicate import run_replicate

RECORDS = "replicates.jsonl"
DESIGN = "study.json"


def study_folder(design: StudyDesign, out: Path | str | None, resume: bool, root: Path) -> Path:
    """The study's folder: `out`, or a new `root/studies/<config>-<kind>-<time>`.

    A folder that already holds a study is only re-entered with `resume` and the same design
    (sizes and replicates may grow); `resume` needs `out`.
    """
    if out is None:
        if resume:
            raise InputError("--resume needs --out DIR: the folder of the study to continue")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = root / "studies" / f"{Path(design.config).stem}-{design.kind}-{stamp}"
        folder.mkdir(parents=True, exist_ok=False)
        return folder
    folder = Path(out)
    saved_path = folder / DESIGN
    if saved_path.is_file():
        if not resume:
            raise InputError(
                f"{folder}: already holds a study; pass --resume to continue it, or choose "
                "another --out"
            )
        saved = StudyDesign.from_dict(json.loads(saved_path.read_text()))
        conflicts = design.resume_conflicts(saved)
        if conflicts:
            raise InputError(
                f"{saved_path}: cannot resume, the study settings differ: " + "; ".join(conflicts)
            )
    elif resume:
        raise InputError(f"--resume: {folder} holds no study ({DESIGN} not found)")
    elif folder.exists() and any(folder.iterdir()):
        raise InputError(f"--out {folder}: the folder exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_records(folder: Path) -> list[dict]:
    """Every complete record in the folder; a line cut short by an interruption is skipped."""
    path = Path(folder) / RECORDS
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def design_records(records: list[dict], design: StudyDesign) -> list[dict]:
    """The records of the design's replicates, the latest one per (n, rep)."""
    wanted = {r.key for r in replicates(design)}
    latest = {(r["n"], r["rep"]): r for r in records if (r["n"], r["rep"]) in wanted}
    return list(latest.values())


def _finished(record: dict) -> bool:
    """Whether a record is final: a replicate that ran (ok, or failed inside the replicate,
    which would fail again with the same seed); a lost worker ("worker" unknown) is retried."""
    return record["status"] == "ok" or "worker" in record


def run_study(
    design: StudyDesign,
    model: StudyModel,
    folder: Path,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> list[dict]:
    """Run every replicate of `design` not yet in `folder` and return all records."""
    atomic_write_text(folder / DESIGN, json.dumps(design.to_dict(), indent=2) + "\n")
    records = read_records(folder)
    if records:  # drop a line cut short by an interruption before appending after it
        lines = "".join(json.dumps(r) + "\n" for r in records)
        atomic_write_text(folder / RECORDS, lines)
    done = {(r["n"], r["rep"]) for r in records if _finished(r)}
    pending = [r for r in replicates(design) if r.key not in done]
    if pending:
        try:
            with (
                _client(scheduler, workers) as client,
                _progress(progress, len(pending)) as advance,
            ):
                _run(client, model, pending, folder / RECORDS, advance)
        except KeyboardInterrupt:
            done = len(read_records(folder))
            raise StudyInterrupted(
                f"interrupted: {done} finished replicates are saved in {folder}; continue with "
                f"--resume --out {folder}"
            ) from None
    return design_records(read_records(folder), design)


def _run(client, model: StudyModel, pending: list[Replicate], path: Path, advance) -> None:
    from dask.distributed import as_completed

    shared = client.scatter(model, broadcast=True)
    futures = {client.submit(run_replicate, shared, r, pure=False): r for r in pending}
    with open(path, "a", encoding="utf-8") as sink:
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001  (a lost worker fails one replicate)
                replicate = futures[future]
                record = {
                    "n": replicate.n,
                    "rep": replicate.rep,
                    "seed": replicate.seed,
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            advance()


@contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator:
    """A Dask client of an existing cluster, or of a LocalCluster with single-threaded
    worker processes (one per core by default)."""
    from dask.distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=workers or len(os.sched_getaffinity(0)),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: several studies may run at once
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def _progress(show: bool, total: int) -> Iterator:
    """Yield a function that marks one replicate done (a rich progress bar when `show`)."""
    if not show:
        yield lambda: None
        return
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("replicates", total=total)
        yield lambda: progress.advance(task)
