"""Phases of a run: contiguous timings that add up, status lines only on a terminal."""

from __future__ import annotations

import io
import time

from rich.console import Console

from bayeslead.phases import Phases


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, color_system=None, width=100), out


def test_phases_are_contiguous_and_add_up_to_the_elapsed_time():
    since = time.time() - 1.0  # "the process started a second ago"
    phases = Phases(show=False, since=since)
    with phases.step("read_s", "Reading"):
        time.sleep(0.05)
    time.sleep(0.05)  # between phases: counted in the next one
    with phases.step("fit_s", "Fitting"):
        pass
    with phases.step("read_s", "Reading again"):  # a repeated name adds up
        pass
    elapsed = time.time() - since
    assert list(phases.timings()) == ["read_s", "fit_s"]
    assert phases.seconds["read_s"] >= 1.05 and phases.seconds["fit_s"] >= 0.05
    assert abs(phases.total() - elapsed) < 0.01
    assert phases.total(["fit_s"]) == phases.seconds["fit_s"]


def test_status_lines_on_a_terminal_only():
    console, out = _terminal()
    phases = Phases(show=True, console=console)
    with phases.step("compile_s", "Compiling the model"):
        pass
    with phases.step("sampling_s", "Sampling 4 chains", spinner=False):
        pass
    text = out.getvalue()
    assert "done" in text and "Compiling the model" in text and "Sampling 4 chains ..." in text
    for show, console in ((False, _terminal()[0]), (True, Console(file=io.StringIO()))):
        phases = Phases(show=show, console=console)  # --quiet, or not a terminal
        assert not phases.show
        with phases.step("read_s", "Reading"):
            pass
        assert console.file.getvalue() == ""


def test_a_failing_phase_is_timed_but_not_reported_done():
    console, out = _terminal()
    phases = Phases(show=True, console=console)
    try:
        with phases.step("read_s", "Reading"):
            raise ValueError("bad data")
    except ValueError:
        pass
    assert "read_s" in phases.seconds and "done" not in out.getvalue()


def test_the_first_phase_runs_from_the_process_start():
    phases = Phases(show=False, since=time.time() - 2.0, first="startup_s")
    assert (
        2.0 <= phases.seconds["startup_s"] < 2.1 and phases.total() == phases.seconds["startup_s"]
    )
