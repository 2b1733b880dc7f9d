"""Benchmark: `bayeslead fit` with a 1000-replicate bootstrap refitted by FIML (missing data).

Data: tests/reference/bootstrap_fiml (latent X -> M -> Y, N = 300, 5% MCAR blanks). lavaan's
`sem(..., missing = "ml", se = "bootstrap")` spent about 0.12 s of CPU per FIML refit there
(600 s for 5000 replicates, meta.json), so 1000 replicates cost lavaan about 120 s of CPU.
Prints the wall seconds of the whole command (process start to run folder written) and the
bootstrap's own seconds from the manifest.

    .venv/bin/python bench/sem_bootstrap_fiml.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
CONFIG = """\
name: bootstrap_fiml
data: {{path: {data}}}
constructs: {{X: [x1, x2, x3], M: [m1, m2, m3], Y: [y1, y2, y3]}}
paths: {{M: [X], Y: [M, X]}}
effects: {{ind: [X, M, Y]}}
sem: {{bootstrap: 1000, seed: 1}}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bootstrap_fiml.yaml"
        config.write_text(
            CONFIG.format(data=ROOT / "tests" / "reference" / "bootstrap_fiml" / "data.csv")
        )
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "bayeslead.cli", "fit", str(config), "--out", tmp, "--quiet"],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        run = Path(result.stdout.strip().splitlines()[-1])
        boot = json.loads((run / "manifest.json").read_text())["info"]["bootstrap"]
    print(
        f"bayeslead fit, FIML + 1000 FIML bootstrap replicates, N=300 with 5% blanks: "
        f"{seconds:.2f} s wall (bootstrap {boot['seconds']:.2f} s, {boot['failed']} failed)"
    )
    print("lavaan reference: about 120 s of CPU for 1000 FIML refits (0.12 s each)")


if __name__ == "__main__":
    main()
