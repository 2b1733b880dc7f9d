"""Benchmark: every bundled Bayesian config, side by side (issue 22, acceptance 5: no fit gets
slower).

Runs `bayeslead fit` on each `configs/*.yaml` with `engine: bayes` in a fresh process (the
configs' own settings and data) and prints, per config: wall seconds, `fit_s` (process start to
results in hand), setup, compile and sampling seconds from the manifest, the CPU seconds of the
process (user + system, all threads: the figure that is stable on a busy machine), the seconds
the manifest's timings do not account for, the draws kept per chain (the gates decide, issue
22), min bulk ESS per sampling second, max R-hat and the
gates. Run it twice: the first run after installing also compiles the numba kernels.

    .venv/bin/python bench/bundled.py [config-name-substring | config-file-name ...]

A file name selects that config only (`tl_dc_bi_bayes.yaml`: the bundled study; the substring
`tl_dc_bi_bayes` also matches its ordinal, parallel and full-mediation variants).

`--record` runs the whole set twice (the first pass warms every cache), keeps the second pass in
`bench/results/bundled.json` with the date, the commit, the machine and its load, and regenerates
the README's table of bundled configs from it (between its `bench/bundled.py` markers; never
edited by hand; `tests/test_readme_tables.py` checks they agree). `--readme` only regenerates
the README's table from the recorded file.

    .venv/bin/python bench/bundled.py --record
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bayeslead.atomic import atomic_write_text

ROOT = Path(__file__).parents[1]
RECORD = ROOT / "bench" / "results" / "bundled.json"
README = ROOT / "README.md"
START = "<!-- bench/bundled.py --record: start (generated; do not edit) -->"
END = "<!-- bench/bundled.py --record: end -->"
COLUMNS = (  # (heading, key, digits)
    ("`fit_s`", "fit_s", 1),
    ("compile", "compile_s", 1),
    ("sampling", "sampling_s", 1),
    ("other", "other_s", 1),
    ("CPU s", "cpu_s", 1),
    ("wall s", "wall_s", 1),
    ("draws kept", "draws", 0),
    ("min ESS/s", "min_ess_per_s", 1),
    ("max R-hat", "max_rhat", 4),
)


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
        "draws": manifest["info"]["draws"],
        "gates": "pass" if diagnostics["passed"] else "FAIL",
        "cache": manifest["info"].get("compile_cache", "-"),
    }


def load_average() -> list[float]:
    with open("/proc/loadavg") as handle:
        return [float(v) for v in handle.read().split()[:3]]


def run_set(patterns: list[str]) -> dict[str, dict]:
    """Fit every selected config once, printing a line per config; config stem -> figures."""
    print(f"load average before: {' '.join(f'{v:.2f}' for v in load_average())}")
    header = (
        f"{'config':<40} {'wall':>7} {'fit_s':>7} {'cpu':>7} {'setup':>6} {'compile':>8} "
        f"{'sampling':>9} {'other':>6} {'draws':>6} {'ESS/s':>7} {'R-hat':>7} gates cache"
    )
    print(header)
    results = {}
    for config in bayesian_configs(patterns):
        with tempfile.TemporaryDirectory() as tmp:
            r = fit(config, Path(tmp))
        results[config.stem] = r
        if "error" in r:
            print(f"{config.stem:<40} error: {r['error'][0]}")
            continue
        print(
            f"{config.stem:<40} {r['wall_s']:7.1f} {r['fit_s']:7.1f} {r['cpu_s']:7.1f} "
            f"{r['setup_s']:6.1f} {r['compile_s']:8.1f} {r['sampling_s']:9.1f} {r['other_s']:6.1f} "
            f"{r['draws']:6d} {r['min_ess_per_s']:7.1f} {r['max_rhat']:7.4f} "
            f"{r['gates']:<5} {r['cache']}"
        )
    return results


def machine() -> str:
    """CPU model and count, OS and Python: where a recorded run was measured."""
    model = platform.processor() or platform.machine()
    with open("/proc/cpuinfo") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")]
    model = names[0] if names else model
    return (
        f"{model}, {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"
    )


def record(results: dict[str, dict], load_before: list[float]) -> dict:
    """The recorded run: when, where and on which commit it was measured, and its figures."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "measured": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "unknown",
        "machine": machine(),
        "nice": os.nice(0),
        "load_before": load_before,
        "load_after": load_average(),
        "configs": results,
    }


def readme_table(recorded: dict) -> str:
    """The README's table of bundled configs (Markdown) from a recorded run."""
    load = recorded["load_before"] + recorded["load_after"]
    lines = [
        f"Measured {recorded['measured']} on commit `{recorded['commit']}` ({recorded['machine']};"
        f" nice {recorded['nice']}, load average {min(load):.1f}-{max(load):.1f}), the second of"
        " two passes (warm caches); seconds, `fit_s` from process start to results in hand:",
        "",
        "| config | " + " | ".join(h for h, _, _ in COLUMNS) + " | gates | compile cache |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for name, r in recorded["configs"].items():
        if "error" in r:
            lines.append(f"| `{name}` | error: {r['error'][0]} |" + " |" * (len(COLUMNS) + 1))
            continue
        cells = [f"{r[key]:,.{digits}f}" for _, key, digits in COLUMNS]
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {r['gates']} | {r['cache']} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the markers replaced by `table`."""
    if START not in readme or END not in readme:
        raise SystemExit(f"README.md has no {START!r} ... {END!r} markers")
    head, rest = readme.split(START, 1)
    return head + START + "\n" + table + END + rest.split(END, 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="config names or stem substrings")
    parser.add_argument("--record", action="store_true", help="two passes; record the second")
    parser.add_argument("--readme", action="store_true", help="regenerate the README's table")
    args = parser.parse_args()
    if args.readme:
        recorded = json.loads(RECORD.read_text())
        atomic_write_text(README, with_table(README.read_text(), readme_table(recorded)))
        return
    if not args.record:
        run_set(args.configs)
        return
    if args.configs:
        raise SystemExit("--record measures every bundled Bayesian config: name none")
    run_set([])
    load_before = load_average()
    recorded = record(run_set([]), load_before)
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RECORD, json.dumps(recorded, indent=1) + "\n")
    atomic_write_text(README, with_table(README.read_text(), readme_table(recorded)))
    print(f"recorded in {RECORD.relative_to(ROOT)}; README.md's table regenerated")


if __name__ == "__main__":
    main()
