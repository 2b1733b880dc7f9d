"""Benchmark the Bayesian engine end to end (issue 5, point 10).

For each fit it runs `bayeslead fit` in a fresh process with the default sampler settings
(4 chains x 1000 draws after 1000 tuning steps) and prints the wall seconds, the manifest's
`timings.fit_s` (process start to results in hand), compile and sampling seconds, the minimum
bulk ESS per sampling second and the largest R-hat:

  (a) Holzinger-Swineford CFA                   target fit_s <= 6 s warm (issue 22; 10 s in issue 5)
  (b) shared serial-mediation SEM, continuous   target fit_s <= 15 s
  (c) the same, ordinal (ordered probit)        target fit_s <= 125 s
  (d) continuous serial SEM at N = 500 vs N = 100,000 (simulated): N = 100,000 at most 1.5 x

Numba caches compiled kernels on disk, and nutpie's entry points are cached per model structure
(`bayes/nutpie_cache.py`; the last column shows hit / miss): the first run after installing
compiles them (the "cold" figure); run the script twice to see warm figures. A new machine's
first fit: point every cache at an empty directory, twice with the same one (cold, then warm):

    D=$(mktemp -d); export PYTENSOR_FLAGS=base_compiledir=$D NUMBA_CACHE_DIR=$D/numba
    .venv/bin/python bench/bayes_sem.py; .venv/bin/python bench/bayes_sem.py

    .venv/bin/python bench/bayes_sem.py [a b c d]     # the parts to run (default all)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "configs"
REFERENCE = ROOT / "tests" / "reference"


def fit(config: Path, out: Path, data: Path | None = None) -> dict:
    command = [
        sys.executable,
        "-m",
        "bayeslead.cli",
        "fit",
        str(config),
        "--out",
        str(out),
        "--quiet",
    ]
    if data is not None:
        command += ["--data", str(data)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr)
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    timings = manifest["timings"]
    return {
        "wall_s": wall,
        "fit_s": timings["fit_s"],
        "compile_s": timings["compile_s"],
        "sampling_s": timings["sampling_s"],
        "min_ess_per_s": diagnostics["min_ess_bulk"] / timings["sampling_s"],
        "max_rhat": diagnostics["max_rhat"],
        "gates": "pass" if diagnostics["passed"] else "FAIL",
        "cache": manifest["info"].get("compile_cache", "-"),
    }


def local_config(name: str, tmp: Path) -> Path:
    """A copy of a test fixture config with its data path made absolute."""
    text = (FIXTURES / f"{name}.yaml").read_text().replace("../../reference", str(REFERENCE))
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return path


def show(label: str, r: dict) -> None:
    print(
        f"{label:<44} wall {r['wall_s']:6.1f} s | fit_s {r['fit_s']:6.1f} | compile {r['compile_s']:5.1f} | "
        f"sampling {r['sampling_s']:6.1f} | min ESS/s {r['min_ess_per_s']:7.1f} | "
        f"max R-hat {r['max_rhat']:.4f} | gates {r['gates']} | compile cache {r['cache']}"
    )


def main() -> None:
    parts = sys.argv[1:] or ["a", "b", "c", "d"]  # e.g. `bayes_sem.py a b`: only (a) and (b)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if "a" in parts:
            show("(a) Holzinger-Swineford CFA", fit(local_config("holzinger_bayes", tmp), tmp))
        if "b" in parts:
            show("(b) serial mediation, continuous", fit(local_config("serial_bayes", tmp), tmp))
        if "c" in parts:
            show("(c) serial mediation, ordinal", fit(local_config("serial_ordinal", tmp), tmp))
        if "d" not in parts:
            return
        config = local_config("serial_bayes", tmp)
        small, large = tmp / "n500.csv", tmp / "n100000.csv"
        for path, n in ((small, 500), (large, 100_000)):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bayeslead.cli",
                    "simulate",
                    str(config),
                    "--n",
                    str(n),
                    "--seed",
                    "1",
                    "-o",
                    str(path),
                ],
                check=True,
                capture_output=True,
            )
        a = fit(config, tmp, small)
        b = fit(config, tmp, large)
        show("(d) continuous, N = 500", a)
        show("(d) continuous, N = 100,000", b)
        print(f"(d) fit_s ratio N=100,000 / N=500: {b['fit_s'] / a['fit_s']:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
