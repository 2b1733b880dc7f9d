"""Benchmark: the WLSMV threshold-invariance ladder (configural, thresholds, metric, scalar),
side by side with lavaan fitting semTools' measEq.syntax models (tests/reference/ordinal_invariance).

Data sets: the simulated two groups of 400 (8 five-point items) and psych's bfi by gender (2,800
rows, 10 six-point items, blanks pairwise). lavaan: ``cfa(syntax_<level>.lav, ordered = items,
group = , estimator = "WLSMV")`` for the four levels plus ``lavTestLRT``; bayeslead:
`bayeslead.sem.ordinal_ladder.fit_ordinal_ladder` (polychorics per group once, four fits, the
difference tests). CPU seconds (user + sys) and wall seconds, median of `--repeats` after one
warm-up (numba's compiled polychoric kernels are cached on disk). Needs R with lavaan. Run on a
quiet machine:

    .venv/bin/python bench/ordinal_ladder.py --repeats 5
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
from bayeslead.sem.ordinal_ladder import fit_ordinal_ladder  # noqa: E402

FOLDER = ROOT / "tests" / "reference" / "ordinal_invariance"
CASES = {  # name: (data file, model file, group column, syntax prefix, lavaan missing)
    "simulated": ("data.csv", "model.lav", "g", "", "listwise"),
    "bfi": ("bfi_gender.csv", "bfi_model.lav", "gender", "bfi_", "pairwise"),
}
R_TIMER = """
suppressPackageStartupMessages(library(lavaan))
data <- read.csv("{data}")
items <- setdiff(names(data), "{group}")
levels <- c("configural", "thresholds", "metric", "scalar")
syntax <- lapply(levels, function(l) paste(readLines(file.path("{folder}",
                 paste0("{prefix}syntax_", l, ".lav"))), collapse = "\\n"))
ladder <- function() {{
  fits <- lapply(syntax, function(s) cfa(s, data = data, ordered = items, group = "{group}",
                                         estimator = "WLSMV", missing = "{missing}"))
  lrt <- lavTestLRT(fits[[1]], fits[[2]], fits[[3]], fits[[4]])
  list(fits = fits, lrt = lrt)
}}
out <- ladder()
cpu <- c(); wall <- c()
for (i in seq_len({repeats})) {{
  t <- system.time(out <- ladder()); cpu <- c(cpu, t[["user.self"]] + t[["sys.self"]])
  wall <- c(wall, t[["elapsed"]])
}}
cat(jsonlite::toJSON(list(cpu = median(cpu), wall = median(wall),
    chisq = sapply(out$fits, function(f) fitMeasures(f, "chisq.scaled"))), auto_unbox = TRUE))
"""


def bayeslead_times(name: str, repeats: int) -> dict:
    data_file, model_file, group, _, _ = CASES[name]
    frame = pd.read_csv(FOLDER / data_file)
    config = RunConfig(name=name, model=(FOLDER / model_file).read_text(), data={"group": group})
    spec = build_spec(config, columns=list(frame.columns))
    values = frame[list(spec.items)].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[[group]]
    )
    settings = SemConfig(estimator="WLSMV")
    ladder = fit_ordinal_ladder(spec, data, settings, InvarianceConfig())  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        ladder = fit_ordinal_ladder(spec, data, settings, InvarianceConfig())
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return {
        "cpu": statistics.median(cpu),
        "wall": statistics.median(wall),
        "chisq": [round(x, 3) for x in ladder.table.chisq],
    }


def lavaan_times(name: str, repeats: int) -> dict:
    data_file, _, group, prefix, missing = CASES[name]
    script = R_TIMER.format(
        data=FOLDER / data_file,
        group=group,
        folder=FOLDER,
        prefix=prefix,
        missing=missing,
        repeats=repeats,
    )
    out = subprocess.run(
        ["Rscript", "-e", script], capture_output=True, text=True, check=True, timeout=1800
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=list(CASES), default=None)
    args = parser.parse_args()
    for name in [args.only] if args.only else list(CASES):
        ours = bayeslead_times(name, args.repeats)
        lavaan = lavaan_times(name, args.repeats)
        print(f"{name}: load average {os.getloadavg()[0]:.1f}")
        print(
            f"  lavaan, 4 fits + lavTestLRT:  {lavaan['cpu']:.3f} s CPU, {lavaan['wall']:.3f} s wall"
        )
        print(f"  bayeslead ladder:             {ours['cpu']:.3f} s CPU, {ours['wall']:.3f} s wall")
        print(f"  ratio (CPU): {ours['cpu'] / lavaan['cpu']:.2f} x lavaan")
        print(
            f"  scaled chi-squares: bayeslead {ours['chisq']}, "
            f"lavaan {[round(x, 3) for x in lavaan['chisq']]}"
        )


if __name__ == "__main__":
    main()
