"""Benchmark: every bundled Bayesian config, side by side (issue 22, acceptance 5: no fit gets
slower).

Runs `bayeslead fit` on each `configs/*.yaml` with `engine: bayes` in a fresh process (the
configs' own settings and data) and prints, per config: wall seconds, `fit_s` (process start to
results in hand), setup, compile and sampling seconds from the manifest, the CPU seconds of the
process (user + system, all threads: the figure that is stable on a busy machine), the seconds
the manifest's timings do not account for, min bulk ESS per sampling second, max R-hat and the
gates. Run it twice: the first run after installing also compiles the numba kernels.

    .venv/bin/python bench/bundled.py [config-name-substring | config-file-name ...]

A file name selects that config only (`tl_dc_bi_bayes.yaml`: the bundled study; the substring
`tl_dc_bi_bayes` also matches its ordinal, parallel and full-mediation variants).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def bayesian_configs(patterns: list[str]) -> list[Path]:
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    keep = [p for p in paths if "\nengine: bayes" in "\n" + p.read_text()]
    return [p for p in keep if not patterns or any(s == p.name or s in p.stem for s in patterns)]


def fit(config: Path, out: Path) -> dict:
    command = [sys.executable, "-m", "bayeslead.cli", "fit", str(config), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command + ["--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        return {"error": result.stderr.strip().splitlines()[-1:] or ["no output"]}
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    t = manifest["timings"]
    known = sum(t.get(k, 0.0) for k in ("setup_s", "compile_s", "sampling_s"))
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "fit_s": t["fit_s"],
        "setup_s": t.get("setup_s", 0.0),
        "compile_s": t["compile_s"],
        "sampling_s": t["sampling_s"],
        "other_s": t["fit_s"] - known,
        "min_ess_per_s": diagnostics["min_ess_bulk"] / max(t["sampling_s"], 1e-9),
        "max_rhat": diagnostics["max_rhat"],
        "gates": "pass" if diagnostics["passed"] else "FAIL",
        "cache": manifest["info"].get("compile_cache", "-"),
    }


def main() -> None:
    with open("/proc/loadavg") as handle:
        print(f"load average before: {' '.join(handle.read().split()[:3])}")
    header = (
        f"{'config':<40} {'wall':>7} {'fit_s':>7} {'cpu':>7} {'setup':>6} {'compile':>8} "
        f"{'sampling':>9} {'other':>6} {'ESS/s':>7} {'R-hat':>7} gates cache"
    )
    print(header)
    for config in bayesian_configs(sys.argv[1:]):
        with tempfile.TemporaryDirectory() as tmp:
            r = fit(config, Path(tmp))
        if "error" in r:
            print(f"{config.stem:<40} error: {r['error'][0]}")
            continue
        print(
            f"{config.stem:<40} {r['wall_s']:7.1f} {r['fit_s']:7.1f} {r['cpu_s']:7.1f} "
            f"{r['setup_s']:6.1f} {r['compile_s']:8.1f} {r['sampling_s']:9.1f} {r['other_s']:6.1f} "
            f"{r['min_ess_per_s']:7.1f} {r['max_rhat']:7.4f} {r['gates']:<5} {r['cache']}"
        )


if __name__ == "__main__":
    main()
