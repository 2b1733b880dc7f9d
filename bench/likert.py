"""Benchmark: Likert data at survey scale (issue 22, acceptance 2).

psych's bfi (2,800 respondents x 25 six-point items, 508 blanks, seven reverse-keyed items left
unreversed) as an ordinal Bayesian CFA with default settings (`tests/fixtures/configs/
bfi_ordinal.yaml`): `bayes.ordinal: auto` takes the limited-information (polychoric) route.
Each repeat runs `bayeslead fit` in a fresh process and prints `fit_s` (process start to results),
compile and sampling seconds, the CPU seconds of the process, min bulk ESS per sampling second,
max R-hat, the gates, the largest distance of the standardised loadings from lavaan's WLSMV
(`tests/reference/polychoric/`) and whether every sign is right. Target: fit_s <= 180 s, gates
pass, signs right.

    .venv/bin/python bench/likert.py [repeats]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "tests" / "reference"
FIXTURE = ROOT / "tests" / "fixtures" / "configs" / "bfi_ordinal.yaml"
REVERSED = {"A1", "C4", "C5", "E1", "E2", "O2", "O5"}


def fit_once(tmp: Path) -> dict:
    config = tmp / "bfi_ordinal.yaml"
    config.write_text(FIXTURE.read_text().replace("../../reference", str(REFERENCE)))
    command = [sys.executable, "-m", "bayeslead.cli", "fit", str(config), "--out", str(tmp)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command + ["--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr)
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    estimates = pd.read_csv(folder / "estimates.csv")
    loadings = estimates[estimates.op == "=~"]
    lavaan = pd.read_csv(REFERENCE / "polychoric" / "bfi_wlsmv_std.csv")
    lavaan = lavaan.set_index(lavaan.lhs + " =~ " + lavaan.rhs)["est.std"].abs()
    keys = loadings.lhs + " =~ " + loadings.rhs
    timings = manifest["timings"]
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "fit_s": timings["fit_s"],
        "compile_s": timings["compile_s"],
        "sampling_s": timings["sampling_s"],
        "min_ess_per_s": diagnostics["min_ess_bulk"] / timings["sampling_s"],
        "max_rhat": diagnostics["max_rhat"],
        "gates": "pass" if diagnostics["passed"] else "FAIL",
        "estimator": manifest["info"].get("ordinal_estimator"),
        "max_diff_wlsmv": float(
            abs(loadings.std_est.abs().to_numpy() - lavaan[keys.to_numpy()].to_numpy()).max()
        ),
        "signs_right": bool(((loadings.std_est < 0) == loadings.rhs.isin(REVERSED)).all()),
    }


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with open("/proc/loadavg") as handle:
        print(f"load average before: {handle.read().split()[:3]}")
    for k in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            r = fit_once(Path(tmp))
        print(
            f"bfi ordinal CFA ({r['estimator']}) run {k + 1}: wall {r['wall_s']:.1f} s | "
            f"fit_s {r['fit_s']:.1f} (target <= 180) | cpu {r['cpu_s']:.1f} s | "
            f"compile {r['compile_s']:.1f} | sampling {r['sampling_s']:.1f} | "
            f"min ESS/s {r['min_ess_per_s']:.1f} | max R-hat {r['max_rhat']:.4f} | "
            f"gates {r['gates']} | max |std loading - WLSMV| {r['max_diff_wlsmv']:.4f} | "
            f"signs {'right' if r['signs_right'] else 'WRONG'}"
        )


if __name__ == "__main__":
    main()
