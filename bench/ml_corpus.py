"""Benchmark: the ML engine side by side with lavaan on two corpus models (issue 14, point 6).

    (a) FIML CFA of psych::bfi (2,800 x 25 items, native missing responses, 5 factors):
        converged to the gradient criterion in at most 2 x lavaan's time (cfa(missing = "ml"));
    (b) Bollen's political-democracy SEM (lavaan tutorial, all six residual covariances):
        under 0.5 s.

Both are timed in CPU seconds (user + sys of the process: less sensitive to a busy machine than
wall time) and wall seconds, median of `--repeats` fits after one warm-up fit; lavaan is run
with the same data and syntax (tests/reference/ml_corpus) by Rscript, timed the same way with
system.time(). Needs R with lavaan (Debian: r-cran-lavaan). Run on a quiet machine:

    .venv/bin/python bench/ml_corpus.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bayeslead.config import RunConfig, SemConfig  # noqa: E402
from bayeslead.core.from_config import build_spec  # noqa: E402
from bayeslead.data import ResponseData  # noqa: E402
from bayeslead.sem.engine import fit_sem  # noqa: E402

CORPUS = ROOT / "tests" / "reference" / "ml_corpus"
CASES = {
    "bfi_fiml_native": ('cfa(model, data = data, missing = "ml")', "fiml"),
    "political_democracy_full": ("sem(model, data = data)", "auto"),
}
R_TIMER = """
suppressPackageStartupMessages(library(lavaan))
data <- read.csv("{data}"); model <- paste(readLines("{model}"), collapse = "\\n")
fit <- {call}
cpu <- c(); wall <- c()
for (i in seq_len({repeats})) {{
  t <- system.time(fit <- {call}); cpu <- c(cpu, t[["user.self"]] + t[["sys.self"]])
  wall <- c(wall, t[["elapsed"]])
}}
cat(jsonlite::toJSON(list(cpu = median(cpu), wall = median(wall),
    converged = lavInspect(fit, "converged")), auto_unbox = TRUE))
"""


def bayeslead_times(folder: str, missing: str, repeats: int) -> dict:
    spec = build_spec(RunConfig(name=folder, model=(CORPUS / folder / "model.lav").read_text()))
    frame = pd.read_csv(CORPUS / folder / "data.csv")[list(spec.manifest)].astype(float)
    data = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    settings = SemConfig(bootstrap=0, missing=missing)
    cpu, wall = [], []
    for k in range(repeats + 1):
        c0, w0 = time.process_time(), time.perf_counter()
        result = fit_sem(spec, data, settings, progress=False)
        if k:  # the first fit warms imports and caches
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    return {
        "cpu": statistics.median(cpu),
        "wall": statistics.median(wall),
        "converged": result.info["converged"],
        "max_gradient": result.info["max_gradient"],
        "iterations": result.info["iterations"],
    }


def lavaan_times(folder: str, call: str, repeats: int) -> dict:
    script = R_TIMER.format(
        data=CORPUS / folder / "data.csv",
        model=CORPUS / folder / "model.lav",
        call=call,
        repeats=repeats,
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"load average {' '.join(load)} (timings need a quiet machine)")
    for folder, (call, missing) in CASES.items():
        ours = bayeslead_times(folder, missing, args.repeats)
        theirs = lavaan_times(folder, call, args.repeats)
        print(
            f"{folder}: bayeslead {ours['cpu']:.3f} s CPU / {ours['wall']:.3f} s wall "
            f"(converged {ours['converged']}, max |gradient| {ours['max_gradient']:.1e}, "
            f"{ours['iterations']} iterations); lavaan {theirs['cpu']:.3f} s CPU / "
            f"{theirs['wall']:.3f} s wall (converged {theirs['converged']}); "
            f"ratio (CPU) {ours['cpu'] / theirs['cpu']:.2f}"
        )
    print("targets: bfi_fiml_native at most 2 x lavaan; political_democracy_full under 0.5 s")


if __name__ == "__main__":
    main()
