"""Benchmark: `bayeslead fit` with 1000 bootstrap replicates of the shared serial-mediation model.

Target (issue 4): no slower than lavaan on the same job here: lavaan's ML + 1000 bootstrap took
11.75 s on this data (N = 400, one process; tests/reference/serial_mediation/meta.json).
Prints the wall seconds of the whole command (process start to run folder written).

    .venv/bin/python bench/sem_bootstrap.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
CONFIG = """\
name: serial_bootstrap
data: {{path: {data}, scale: [1, 5]}}
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  SEIZ: [seiz1, seiz2, seiz3, seiz4]
  RECO: [reco1, reco2, reco3, reco4]
  BI: [bi1, bi2, bi3, bi4]
paths: {{SENS: [TL], SEIZ: [SENS, TL], RECO: [SEIZ], BI: [RECO, TL]}}
effects:
  ind_serial: [TL, SENS, SEIZ, RECO, BI]
  ind_tl_seiz: [TL, SEIZ, RECO, BI]
sem: {{bootstrap: 1000, seed: 1}}
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "serial.yaml"
        config.write_text(
            CONFIG.format(data=ROOT / "tests" / "reference" / "serial_mediation" / "data.csv")
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
    print(f"bayeslead fit, ML + 1000 bootstrap replicates, serial mediation N=400: {seconds:.2f} s")
    print("lavaan reference (same job, one process): 11.75 s")


if __name__ == "__main__":
    main()
