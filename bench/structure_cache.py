"""Benchmark: compile seconds of a fit on other data of a structure fitted before, per model
family (issue 22, acceptance 1: such a fit compiles nothing).

For each family a design is simulated twice (data A and B: same structure, other draws); two
new processes share a fresh nutpie entry-point cache (`BAYESLEAD_NUTPIE_CACHE`, a temporary
directory) and run `bench/phases.py` on A, then on B. The table gives each run's compile cache
status and the CPU seconds of its compile phase (`compile_s`): B's is what a user pays for a
new data set. Run it on this checkout (data in `pm.Data` containers: B hits the cache) and with
`--code DIR` on a checkout from before (data as graph constants: B compiles again) to get the
seconds saved. Seeds are new on every run (printed) unless `--seed` is given, so the earlier
code's PyTensor cache cannot already hold B's graph.

    .venv/bin/python bench/structure_cache.py [FAMILY ...] [--code DIR] [--seed S]

Families: ordinal (single-level, full information), multigroup, multigroup_ordinal, twolevel
(continuous, one random slope), twolevel_ordinal. Short sampling runs (2 chains x 50 + 50):
the fits' estimates are not the point.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
CONSTRUCTS = {f"F{k}": [f"f{k}_{j}" for j in range(1, 5)] for k in (1, 2, 3)}
PATHS = {"F2": ["F1"], "F3": ["F2", "F1"]}
CUTS = np.array([-1.2, -0.3, 0.5, 1.3])  # five categories on the y* scale
# family -> (data keys, bayes settings, groups, respondents per group, cluster size)
FAMILIES = {
    "ordinal": ({}, {"indicators": "ordinal", "ordinal": "full"}, 1, 300, 0),
    "multigroup": ({"group": "g"}, {}, 2, 200, 0),
    "multigroup_ordinal": ({"group": "g"}, {"indicators": "ordinal"}, 2, 200, 0),
    "twolevel": ({"cluster": "c"}, {"random_slopes": [["F1", "F2"]]}, 1, 300, 5),
    "twolevel_ordinal": ({"cluster": "c"}, {"indicators": "ordinal"}, 1, 300, 5),
}


def simulate(family: str, seed: int) -> pd.DataFrame:
    """The family's design: F2 ~ F1, F3 ~ F2 + F1, four items per construct (y* = eta + e)."""
    _, bayes, groups, n, size = FAMILIES[family]
    rng = np.random.default_rng(seed)
    paths = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.2, 0.4, 0.0]])  # B (row ~ column)
    total = np.linalg.inv(np.eye(3) - paths)
    loadings = np.kron(np.eye(3), np.ones((1, 4)))
    names = [item for items in CONSTRUCTS.values() for item in items]
    cluster = np.arange(groups * n) // size if size else np.zeros(groups * n, dtype=int)
    zeta = rng.standard_normal((groups * n, 3))
    zeta[:, 0] += 0.3 * np.repeat(np.arange(groups), n)  # group means of F1
    if size:
        zeta[:, 0] += 0.6 * rng.standard_normal(cluster.max() + 1)[cluster]  # cluster parts
    y = zeta @ total.T @ loadings + rng.standard_normal((groups * n, len(names)))
    if bayes.get("indicators") == "ordinal":
        y = 1 + np.searchsorted(CUTS, y)
    frame = pd.DataFrame(y, columns=names)
    return frame.assign(g=[f"g{g}" for g in np.repeat(np.arange(groups), n)], c=cluster)


def config(family: str) -> dict:
    data, bayes, *_ = FAMILIES[family]
    settings = {"chains": 2, "draws": 50, "tune": 50, "seed": 1, "cores": 1} | bayes
    ordinal = {"scale": [1, 5]} if bayes.get("indicators") == "ordinal" else {}
    return {
        "name": family,
        "data": data | ordinal,
        "constructs": CONSTRUCTS,
        "paths": PATHS,
        "engine": "bayes",
        "bayes": settings,
    }


def run_phases(config_path: Path, data: Path, env: dict) -> tuple[str, float]:
    """bench/phases.py in a new process: the compile cache status and compile CPU seconds."""
    command = [sys.executable, str(HERE / "phases.py"), str(config_path), "--data", str(data)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    status = next(x for x in done.stdout.splitlines() if "compile cache" in x)
    compile_cpu = next(x for x in done.stdout.splitlines() if x.startswith("compile_s"))
    return status.split("compile cache ")[1], float(compile_cpu.split()[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--code", default=str(HERE.parent), help="the checkout to import")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    print(f"code {args.code}; seeds {seed} (A) and {seed + 1} (B); load average {load}")
    print(
        f"{'family':<20} {'A cache':<8} {'A compile CPU s':>16} {'B cache':<8} {'B compile CPU s':>16}"
    )
    for family in args.families:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config_path = folder / "config.yaml"
            config_path.write_text(yaml.safe_dump(config(family)))
            env = os.environ | {
                "PYTHONPATH": args.code,
                "BAYESLEAD_NUTPIE_CACHE": str(folder / "nutpie"),
            }
            runs = []
            for label, s in (("a", seed), ("b", seed + 1)):
                data = folder / f"{label}.csv"
                simulate(family, s).to_csv(data, index=False)
                runs.append(run_phases(config_path, data, env))
        (a_cache, a_cpu), (b_cache, b_cpu) = runs
        print(f"{family:<20} {a_cache:<8} {a_cpu:16.1f} {b_cache:<8} {b_cpu:16.1f}", flush=True)


if __name__ == "__main__":
    main()
