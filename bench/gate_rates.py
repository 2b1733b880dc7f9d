"""Benchmark: convergence-gate pass rates over many seeds, for one or more code versions (issue 22,
acceptance 1: "convergence unchanged, gate pass rates over at least 20 seeds no worse than today").

For every config and seed it runs `bayeslead fit <config> --seed <seed>` in a fresh process of each
source checkout (`--source DIR`, repeatable; default this checkout: the package is imported from
DIR via PYTHONPATH, the Python interpreter is this one), seeds interleaved across the sources so a
changing machine load hits every version alike. A config is a path or a stem looked up in each
source's `configs/` and then `tests/fixtures/configs/` (each source fits its own copy; the script
says when the copies differ). Prints one line per fit, then per config and source: seeds run, gate
pass rate, the largest R-hat, the smallest bulk ESS, divergences (total and fits with any), the
failed gates, and the median `fit_s` and CPU seconds of the fit process (user + system, all
threads: the figure that is stable on a busy machine). `--log FILE` appends every fit as a JSON
line, `--resume` skips fits already in it and `--summary` prints the table of the fits in it.

    .venv/bin/python bench/gate_rates.py holzinger_bayes serial_bayes --seeds 20 \\
        --source /path/to/old-checkout --source .
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def config_path(source: Path, name: str) -> Path:
    """The config `name` (a path, or a stem under the source's configs/ or test fixtures)."""
    if name.endswith(".yaml"):
        return Path(name).resolve()
    for folder in ("configs", "tests/fixtures/configs"):
        path = source / folder / f"{name}.yaml"
        if path.exists():
            return path
    raise SystemExit(
        f"config {name!r}: no {name}.yaml in {source}/configs or tests/fixtures/configs"
    )


def fit(source: Path, config: Path, seed: int) -> dict:
    """One `bayeslead fit` of `config` with `seed` by the package in `source`."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "bayeslead.cli", "fit", str(config)]
        command += ["--seed", str(seed), "--out", out, "--quiet"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=source, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if result.returncode not in (0, 1) or not result.stdout.strip():
            return {"error": (result.stderr.strip().splitlines() or ["no output"])[-1]}
        folder = Path(result.stdout.strip().splitlines()[-1])
        manifest = json.loads((folder / "manifest.json").read_text())
        diagnostics = json.loads((folder / "diagnostics.json").read_text())
    return {
        "passed": bool(diagnostics["passed"]),
        "failed_gates": [k for k, g in diagnostics["gates"].items() if not g["pass"]],
        "max_rhat": diagnostics["max_rhat"],
        "min_ess_bulk": diagnostics["min_ess_bulk"],
        "min_ess_tail": diagnostics["min_ess_tail"],
        "divergences": diagnostics["divergences"],
        "fit_s": manifest["timings"]["fit_s"],
        "cpu_s": cpu,
        "wall_s": wall,
    }


def summary_line(config: str, source: str, rows: list[dict]) -> str:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return f"{config:<24} {source:<28} {len(rows):>5} errors only"
    passed = sum(r["passed"] for r in ok)
    failed = sorted({g for r in ok for g in r["failed_gates"]})
    return (
        f"{config:<24} {source:<28} {len(ok):>5} {passed:>3}/{len(ok):<3} {passed / len(ok):6.0%} "
        f"{max(r['max_rhat'] for r in ok):8.4f} {min(r['min_ess_bulk'] for r in ok):8.0f} "
        f"{sum(r['divergences'] for r in ok):5d} {sum(r['divergences'] > 0 for r in ok):5d} "
        f"{statistics.median(r['fit_s'] for r in ok):7.1f} {statistics.median(r['cpu_s'] for r in ok):7.1f}"
        f"  {','.join(failed) or '-'}{f'  ({len(rows) - len(ok)} errors)' if len(ok) < len(rows) else ''}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+", help="config stems or paths")
    parser.add_argument("--seeds", type=int, default=20, help="number of seeds (default 20)")
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--source", action="append", type=Path, help="a checkout (repeatable)")
    parser.add_argument("--log", type=Path, help="append every fit as a JSON line")
    parser.add_argument("--resume", action="store_true", help="skip fits already in --log")
    parser.add_argument("--summary", action="store_true", help="only summarise the fits in --log")
    args = parser.parse_args()
    sources = [s.resolve() for s in (args.source or [ROOT])]
    labels = {s: f"{s.name}@{git_head(s)}" for s in sources}
    done: dict[tuple, dict] = {}
    if (args.resume or args.summary) and args.log and args.log.exists():
        for line in args.log.read_text().splitlines():
            row = json.loads(line)
            done[(row["config"], row["source"], row["seed"])] = row
    with open("/proc/loadavg") as handle:
        print(f"load average before: {' '.join(handle.read().split()[:3])}", flush=True)
    rows: dict[tuple, list[dict]] = {}
    for name in args.configs:
        paths = {s: config_path(s, name) for s in sources}
        if len({p.read_text() for p in paths.values()}) > 1:
            print(f"note: the sources' copies of {name} differ", flush=True)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for source in sources:
                key = (name, labels[source], seed)
                if args.summary and key not in done:
                    continue
                row = done.get(key) or {
                    "config": name,
                    "source": labels[source],
                    "seed": seed,
                    **fit(source, paths[source], seed),
                }
                rows.setdefault((name, labels[source]), []).append(row)
                if key not in done and args.log:
                    with open(args.log, "a") as handle:
                        handle.write(json.dumps(row) + "\n")
                print(fit_line(row), flush=True)
    print(
        f"\n{'config':<24} {'source':<28} {'seeds':>5} {'pass':>7} {'rate':>6} {'max R-hat':>8} "
        f"{'min ESS':>8} {'div':>5} {'w/div':>5} {'fit_s':>7} {'cpu_s':>7}  failed gates"
    )
    for (name, label), group in rows.items():
        print(summary_line(name, label, group))
    for name in args.configs:
        for source in sources[1:]:
            print(same_draws(name, rows, labels[sources[0]], labels[source]))


def same_draws(name: str, rows: dict, first: str, other: str) -> str:
    """How many seeds gave `other` exactly the diagnostics of `first` (the same draws, in effect)."""
    keys = ("max_rhat", "min_ess_bulk", "min_ess_tail", "divergences")
    a = {r["seed"]: [r.get(k) for k in keys] for r in rows.get((name, first), [])}
    b = {r["seed"]: [r.get(k) for k in keys] for r in rows.get((name, other), [])}
    both = sorted(set(a) & set(b))
    same = sum(a[s] == b[s] for s in both)
    return f"{name}: {other} has exactly the diagnostics of {first} on {same} of {len(both)} seeds"


def fit_line(row: dict) -> str:
    head = f"{row['config']:<24} {row['source']:<28} seed {row['seed']:>3}"
    if "error" in row:
        return f"{head} error: {row['error']}"
    return (
        f"{head} {'pass' if row['passed'] else 'FAIL':<4} R-hat {row['max_rhat']:.4f} "
        f"ESS {row['min_ess_bulk']:6.0f} (tail {row['min_ess_tail']:6.0f}) div {row['divergences']:3d} "
        f"fit_s {row['fit_s']:6.1f} cpu {row['cpu_s']:6.1f} {','.join(row['failed_gates'])}"
    )


def git_head(source: Path) -> str:
    """The short commit of the source checkout ('?' outside git)."""
    result = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "?"


if __name__ == "__main__":
    main()
