"""Benchmark: the 4-level invariance ladder on Holzinger-Swineford by school, side by side with
lavaan (issue 17, point 6: at most 2 x lavaan's time for the same four fits).

lavaan: ``cfa(model, data, group = "school", group.equal = ...)`` for configural, metric, scalar
and strict, one after the other (tests/reference/hs_invariance); bayeslead: the same four fits
(`bayeslead.sem.invariance.fit_ladder` without a failing level's score tests: cut-offs that let
every level hold), and the whole ladder as `bayeslead invariance` runs it (with the score tests
of the failed scalar level). CPU seconds (user + sys; less sensitive to a busy machine than wall
time) and wall seconds, median of `--repeats` after one warm-up. Needs R with lavaan. Run on a
quiet machine:

    .venv/bin/python bench/invariance_ladder.py --repeats 11
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bayeslead.config import InvarianceConfig, RunConfig, SemConfig  # noqa: E402
from bayeslead.core.from_config import build_spec  # noqa: E402
from bayeslead.data import ResponseData  # noqa: E402
from bayeslead.sem.invariance import fit_ladder  # noqa: E402

FOLDER = ROOT / "tests" / "reference" / "hs_invariance"
R_TIMER = """
suppressPackageStartupMessages(library(lavaan))
data <- read.csv("{data}"); model <- paste(readLines("{model}"), collapse = "\\n")
ladder <- function() {{
  list(cfa(model, data, group = "school"),
       cfa(model, data, group = "school", group.equal = "loadings"),
       cfa(model, data, group = "school", group.equal = c("loadings", "intercepts")),
       cfa(model, data, group = "school", group.equal = c("loadings", "intercepts", "residuals")))
}}
fits <- ladder()
cpu <- c(); wall <- c()
for (i in seq_len({repeats})) {{
  t <- system.time(fits <- ladder()); cpu <- c(cpu, t[["user.self"]] + t[["sys.self"]])
  wall <- c(wall, t[["elapsed"]])
}}
cat(jsonlite::toJSON(list(cpu = median(cpu), wall = median(wall),
    chisq = sapply(fits, function(f) fitMeasures(f, "chisq"))), auto_unbox = TRUE))
"""


def bayeslead_times(repeats: int, settings: InvarianceConfig) -> dict:
    frame = pd.read_csv(FOLDER / "data.csv")
    config = RunConfig(
        name="hs", model=(FOLDER / "model.lav").read_text(), data={"group": "school"}
    )
    spec = build_spec(config, columns=list(frame.columns))
    values = frame[list(spec.manifest)].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[["school"]]
    )
    ladder = fit_ladder(spec, data, SemConfig(), settings)  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        ladder = fit_ladder(spec, data, SemConfig(), settings)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return {
        "cpu": statistics.median(cpu),
        "wall": statistics.median(wall),
        "chisq": [round(x, 3) for x in ladder.table.chisq],
        "failed": list(ladder.table.level[ladder.table.decision == "fails"]),
    }


def lavaan_times(repeats: int) -> dict:
    script = R_TIMER.format(data=FOLDER / "data.csv", model=FOLDER / "model.lav", repeats=repeats)
    out = subprocess.run(
        ["Rscript", "-e", script], capture_output=True, text=True, check=True, timeout=900
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    args = parser.parse_args()
    lenient = InvarianceConfig(delta_cfi=-1.0, delta_rmsea=1.0, delta_srmr=1.0)
    fits = bayeslead_times(args.repeats, lenient)
    whole = bayeslead_times(args.repeats, InvarianceConfig())
    lavaan = lavaan_times(args.repeats)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(
        f"lavaan, 4 fits:                   {lavaan['cpu']:.3f} s CPU, {lavaan['wall']:.3f} s wall"
    )
    print(f"bayeslead, the same 4 fits:       {fits['cpu']:.3f} s CPU, {fits['wall']:.3f} s wall")
    print(
        f"bayeslead, ladder + score tests:  {whole['cpu']:.3f} s CPU, {whole['wall']:.3f} s wall "
        f"(failed: {', '.join(whole['failed']) or 'none'})"
    )
    print(f"ratio (CPU, 4 fits): {fits['cpu'] / lavaan['cpu']:.2f} x lavaan (target <= 2)")
    print(
        f"chi-squares: bayeslead {fits['chisq']}, lavaan {[round(x, 3) for x in lavaan['chisq']]}"
    )


if __name__ == "__main__":
    main()
