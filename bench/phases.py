"""Benchmark: wall and CPU seconds of every phase of one `bayeslead fit` (issue 22: the manifest's
timings account for every second; where the non-sampling seconds go).

Runs the fit in this process, as `bayeslead fit CONFIG --out TMP` does, with the phases timed
both ways: wall seconds (the manifest's `timings`) and CPU seconds of the process (user +
system, all threads; `startup_s` is the CPU spent before the first phase, the interpreter and
imports). CPU seconds change little when other jobs share the machine, so compare them across
versions on a busy machine; wall seconds need a quiet one. The first fit of a model structure
also compiles the sampler's entry points: run twice and read the second (warm) run.

`--cold` measures the first fit on a new machine (issue 22: at most 5 s slower than a warm one):
two fresh processes share empty caches in a new temporary directory (numba's kernels,
NUMBA_CACHE_DIR; PyTensor's compiled functions and nutpie's entry points, PYTENSOR_FLAGS
base_compiledir), the first compiles everything (cold), the second loads it (warm).

    .venv/bin/python bench/phases.py CONFIG [--data DATA] [--cold]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bayeslead.phases import Phases
from bayeslead.pipeline import fit_to_run_folder
from bayeslead.runs import process_start_time


class TimedPhases(Phases):
    """`Phases` that also record each phase's CPU seconds."""

    def __init__(self) -> None:
        super().__init__(show=False, since=process_start_time(), first="startup_s")
        self.cpu = {"startup_s": time.process_time()}
        self.cpu_last = self.cpu["startup_s"]

    @contextmanager
    def step(self, key: str, label: str, spinner: bool = True) -> Iterator[Callable[[str], None]]:
        try:
            with super().step(key, label, spinner) as update:
                yield update
        finally:
            now = time.process_time()
            self.cpu[key] = self.cpu.get(key, 0.0) + now - self.cpu_last
            self.cpu_last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--data", default=None)
    parser.add_argument("--cold", action="store_true", help="first fit with empty caches vs warm")
    args = parser.parse_args()
    if args.cold:
        cold_and_warm(args.config, args.data)
        return
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    phases = TimedPhases()
    with tempfile.TemporaryDirectory() as tmp:
        _, result = fit_to_run_folder(args.config, args.data, tmp, phases=phases)
    wall = result.timings
    print(
        f"{args.config}: load average before {load}; compile cache {result.info.get('compile_cache', '-')}"
    )
    print(f"{'phase':<16} {'wall s':>8} {'CPU s':>8}")
    for key, cpu in phases.cpu.items():
        print(f"{key:<16} {wall.get(key, 0.0):8.2f} {cpu:8.2f}")
    fit_keys = [k for k in phases.cpu if k not in ("write_s", "figures_s", "report_s")]
    print(f"{'fit_s':<16} {wall['fit_s']:8.2f} {sum(phases.cpu[k] for k in fit_keys):8.2f}")
    print(f"{'total_s':<16} {wall['total_s']:8.2f} {sum(phases.cpu.values()):8.2f}")


def cold_and_warm(config: str, data: str | None) -> None:
    """This benchmark twice in new processes sharing empty caches: cold, then warm."""
    fit_s = {}
    with tempfile.TemporaryDirectory() as caches:
        env = os.environ | {"NUMBA_CACHE_DIR": os.path.join(caches, "numba")}
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        env["PYTENSOR_FLAGS"] = ",".join(
            [f for f in flags.split(",") if f and not f.startswith("base_compiledir=")]
            + [f"base_compiledir={os.path.join(caches, 'pytensor')}"]
        )
        env.pop("BAYESLEAD_NUTPIE_CACHE", None)  # nutpie's entry points under base_compiledir
        for label in ("cold", "warm"):
            command = [sys.executable, __file__, config] + (["--data", data] if data else [])
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            print(f"--- {label} (empty caches in {caches})" if label == "cold" else "--- warm")
            print(done.stdout, end="")
            line = next(x for x in done.stdout.splitlines() if x.startswith("fit_s"))
            fit_s[label] = float(line.split()[1])
    slower = fit_s["cold"] - fit_s["warm"]
    print(f"first fit on a new machine: {slower:.1f} s slower than warm (target <= 5 s)")


if __name__ == "__main__":
    main()
