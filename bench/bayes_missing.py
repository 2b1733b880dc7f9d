"""Benchmark: Bayesian fits with blank answers vs the same model on complete data (issue 21).

Each fit runs `bayeslead fit` in a fresh process (default sampler settings, 4 chains x 1000
draws after 1000 tuning steps) and the script prints, side by side with the complete-data fit
of the same size: the process CPU seconds (all threads; the steady measure on a shared
machine), the wall seconds, the manifest's `fit_s`, compile and sampling seconds, the minimum
bulk ESS, ESS per CPU second and CPU per effective draw relative to complete data, the largest
R-hat, the chains' mean final step size and leapfrog steps per draw. Designs:

  serial   continuous serial-mediation SEM, N = 500, 20 seven-point items (simulated):
           complete vs 5% and 20% of the answers blank completely at random
  cfa2800  five-factor CFA, 2,800 x 25 six-point items (`bench/sem_fiml.py`'s survey):
           complete vs 3% blank
  ordinal  the serial SEM with ordinal indicators: complete vs 5% and 20% blank (cost per
           observed answer; blanks leave the likelihood)
  groups   multi-group serial SEM (2 x 250): complete vs 5% blank
  levels   two-level serial SEM (50 clusters x 10): complete vs 5% and 20% blank (the blank
           answers integrated out per cluster: exact likelihood, no row dropped)

Target (issue 21): serial, cfa2800 and levels with blanks at most 1.5 x the complete-data cost.
Numba caches compiled kernels on disk: run once to warm the caches, then measure.

    .venv/bin/python bench/bayes_missing.py [--only serial,cfa2800] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from sem_fiml import complete_survey, survey  # noqa: E402  (the 2,800 x 25 survey)

SERIAL = {
    "name": "serial7",
    "data": {"scale": [1, 7]},
    "constructs": {
        k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]
    },
    "paths": {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]},
    "effects": {"ind_serial": ["TL", "SENS", "SEIZ", "RECO", "BI"]},
    "engine": "bayes",
    "truth": {
        "loadings": 0.75,
        "paths": {
            "SENS ~ TL": 0.5,
            "SEIZ ~ SENS": 0.45,
            "SEIZ ~ TL": 0.10,
            "RECO ~ SEIZ": 0.55,
            "BI ~ RECO": 0.40,
            "BI ~ TL": 0.20,
        },
        "thresholds": [-1.8, -1.1, -0.4, 0.3, 1.0, 1.7],
    },
}


def blank(frame: pd.DataFrame, items: list[str], rate: float, seed: int) -> pd.DataFrame:
    """`rate` of the item cells blanked at random; rows left with no answer keep one."""
    rng = np.random.default_rng(seed)
    mask = rng.random((len(frame), len(items))) < rate
    empty = mask.all(axis=1)
    mask[empty, rng.integers(0, len(items), empty.sum())] = False
    out = frame.copy()
    out[items] = frame[items].astype(float).mask(mask)
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", *args], capture_output=True, text=True
    )


def fit(config: Path, data: Path, out: Path) -> dict:
    """One `bayeslead fit` in a fresh process: CPU and wall seconds, timings, diagnostics."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = cli("fit", str(config), "--data", str(data), "--out", str(out), "--quiet")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(f"{data.name}: exit {result.returncode}\n{result.stderr[-3000:]}")
    folder = Path(result.stdout.strip().splitlines()[-1])
    timings = json.loads((folder / "manifest.json").read_text())["timings"]
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    stats = az.from_netcdf(folder / "idata.nc").sample_stats
    return {
        "step_size": float(stats["step_size"].values[:, -1].mean()),
        "leapfrog": float(stats["n_steps"].values.mean()),
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "wall_s": wall,
        **timings,
        "min_ess_bulk": diagnostics["min_ess_bulk"],
        "max_rhat": diagnostics["max_rhat"],
    }


def designs(tmp: Path, only: set[str]) -> list[tuple[str, Path, dict[str, Path]]]:
    """(design, config, {label: data file}) with the complete data first."""
    out = []
    serial_config = tmp / "serial7.yaml"
    serial_config.write_text(yaml.safe_dump(SERIAL))
    complete = tmp / "serial7_complete.csv"
    result = cli("simulate", str(serial_config), "--n", "500", "--seed", "21", "-o", str(complete))
    if result.returncode:
        raise SystemExit(result.stderr)
    frame = pd.read_csv(complete)
    items = [c for c in frame.columns if c != "respondent_id"]
    files = {"complete": complete}
    for rate, seed in ((0.05, 105), (0.20, 120)):
        files[f"{rate:.0%} blank"] = tmp / f"serial7_mcar{int(rate * 100):02d}.csv"
        blank(frame, items, rate, seed).to_csv(files[f"{rate:.0%} blank"], index=False)
    if "serial" in only:
        out.append(("serial", serial_config, files))
    if "ordinal" in only:
        config = tmp / "serial7_ordinal.yaml"
        config.write_text(yaml.safe_dump(SERIAL | {"bayes": {"indicators": "ordinal"}}))
        out.append(("ordinal", config, files))
    if "cfa2800" in only:
        _, data = survey()
        _, full_data = complete_survey()
        config = tmp / "cfa2800.yaml"
        constructs = {f"F{k}": [f"f{k}_{i}" for i in range(1, 6)] for k in range(1, 6)}
        config.write_text(
            yaml.safe_dump(
                {
                    "name": "cfa2800",
                    "data": {"scale": [1, 6]},
                    "constructs": constructs,
                    "engine": "bayes",
                }
            )
        )
        full, missing = tmp / "cfa2800_complete.csv", tmp / "cfa2800_mcar03.csv"
        full_data.to_csv(full, index=False)
        data.to_csv(missing, index=False)
        out.append(("cfa2800", config, {"complete": full, "3% blank": missing}))
    for design, column in (("groups", "group"), ("levels", "cluster")):
        if design not in only:
            continue
        labelled = frame.assign(
            **{
                column: np.repeat(
                    np.arange(2 if design == "groups" else 50),
                    500 // (2 if design == "groups" else 50),
                )
            }
        )
        paths = {"complete": tmp / f"{design}_complete.csv"}
        labelled.to_csv(paths["complete"], index=False)
        for rate, seed in ((0.05, 105), (0.20, 120))[: 2 if design == "levels" else 1]:
            paths[f"{rate:.0%} blank"] = tmp / f"{design}_mcar{int(rate * 100):02d}.csv"
            blank(labelled, items, rate, seed).to_csv(paths[f"{rate:.0%} blank"], index=False)
        config = tmp / f"{design}.yaml"
        config.write_text(
            yaml.safe_dump(SERIAL | {"name": design, "data": {"scale": [1, 7], column: column}})
        )
        out.append((design, config, paths))
    return out


def show(design: str, label: str, r: dict, base: dict) -> None:
    print(
        f"{design:<8} {label:<10} CPU {r['cpu_s']:6.1f} s ({r['cpu_s'] / base['cpu_s']:4.2f} x) | "
        f"wall {r['wall_s']:6.1f} s | fit_s {r['fit_s']:6.1f} ({r['fit_s'] / base['fit_s']:4.2f} x) | "
        f"compile {r['compile_s']:5.1f} | sampling {r['sampling_s']:6.1f} "
        f"({r['sampling_s'] / base['sampling_s']:4.2f} x) | min ESS {r['min_ess_bulk']:6.0f} | "
        f"ESS per CPU s {r['min_ess_bulk'] / r['cpu_s']:5.1f} (CPU per effective draw "
        f"{r['cpu_s'] / r['min_ess_bulk'] / (base['cpu_s'] / base['min_ess_bulk']):4.2f} x) | "
        f"max R-hat {r['max_rhat']:.4f} | step {r['step_size']:.3f} | leapfrog {r['leapfrog']:.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="serial,cfa2800", help="designs, comma-separated")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also append every fit's figures to this file")
    args = parser.parse_args()
    print(os.popen("uptime").read().strip(), flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for design, config, files in designs(tmp, set(args.only.split(","))):
            for _ in range(args.repeat):
                base = None
                for label, data in files.items():
                    r = fit(config, data, tmp / "runs")
                    base = base or r
                    show(design, label, r, base)
                    if args.json:
                        with args.json.open("a") as out:
                            out.write(json.dumps({"design": design, "data": label, **r}) + "\n")
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
