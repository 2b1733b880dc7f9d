"""Benchmark: a simulation study on Dask (issue 8, point 5).

100 replicates of the continuous serial-mediation model (5 constructs x 4 items, n = 400 per
replicate, 4 chains x 1000 draws after 1000 tuning steps, nutpie) as a power study on a
2-worker LocalCluster; prints replicates per minute (wall clock, cluster start included) and
the share of replicate time spent compiling. Target: at least 10 replicates per minute.

    .venv/bin/python bench/study.py [--reps 100]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bayeslead.study import simulation_study

CONFIG = """\
name: study_bench
data: {scale: [1, 5]}
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  SEIZ: [seiz1, seiz2, seiz3, seiz4]
  RECO: [reco1, reco2, reco3, reco4]
  BI: [bi1, bi2, bi3, bi4]
paths: {SENS: [TL], SEIZ: [SENS, TL], RECO: [SEIZ], BI: [RECO, TL]}
effects:
  serial: [TL, SENS, SEIZ, RECO, BI]
engine: bayes
bayes: {indicators: continuous, chains: 4, draws: 1000, tune: 1000}
truth:
  loadings: 0.75
  paths: {"SENS ~ TL": 0.5, "SEIZ ~ SENS": 0.45, "SEIZ ~ TL": 0.1, "RECO ~ SEIZ": 0.55, "BI ~ RECO": 0.4, "BI ~ TL": 0.2}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "bench.yaml"
        config.write_text(CONFIG)
        started = time.perf_counter()
        summary = simulation_study(
            "power", config, [400], args.reps, seed=1, out=tmp / "study", workers=2
        )
        wall = time.perf_counter() - started
        records = [json.loads(line) for line in (summary.folder / "replicates.jsonl").open()]
    t = summary.timing
    rate = args.reps / wall * 60
    sampling = [r["fit_s"] for r in records if r["status"] == "ok"]
    print(
        f"study: {args.reps} replicates on a 2-worker LocalCluster in {wall:.1f} s wall = "
        f"{rate:.1f} replicates/min; compiling {t['compile_s']:.1f} s of {t['replicate_s']:.1f} s "
        f"replicate time ({100 * t['compile_share']:.1f}%, {t['compilations']} compilations); "
        f"median sampling {sorted(sampling)[len(sampling) // 2]:.2f} s per replicate; "
        f"failed {summary.failed}"
    )
    print("target: at least 10 replicates per minute")


if __name__ == "__main__":
    main()
