"""Benchmark: two-level Bayesian SEM at survey scale (issue 6, point 7).

200 firms x 10 respondents, 5 constructs x 4 five-point items (the serial-mediation model),
random within-firm slopes on two paths; prints end-to-end seconds of `bayeslead fit`, compile
and sampling seconds, min bulk ESS per second, max R-hat, divergences and the gates. Target: under
5 minutes (continuous indicators). `--ordinal` fits the same design with ordinal indicators
(explicit latent scores; issue 22 target: gates pass in <= 600 s). `--small` fits the 150 firms
x 8 design with 3 constructs (TL -> SENS -> BI) and one random slope (issue 22 target with
`--ordinal`: <= 300 s). `--firms` fits the bundled firm study (`configs/tl_dc_bi_hierarchical.yaml`
with its data: 150 firms x 5, 9 constructs, 2 random slopes) with the config's settings (issue 22
target with `--ordinal`: gates pass in <= 600 s). Prints the CPU seconds of the fit process too
(stable on a busy machine).

    .venv/bin/python bench/hierarchical.py [--ordinal] [--small | --firms]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).parents[1]
FIRMS = ROOT / "configs" / "tl_dc_bi_hierarchical.yaml"

CONFIG = """\
name: hierarchical_bench
data: {path: data.csv, id: respondent_id, cluster: firm_id, scale: [1, 5]}
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
bayes:
  indicators: {indicators}
  random_slopes: [[TL, SENS], [SENS, SEIZ]]
truth:
  loadings: 0.75
  paths: {"SENS ~ TL": 0.5, "SEIZ ~ SENS": 0.45, "SEIZ ~ TL": 0.1, "RECO ~ SEIZ": 0.55, "BI ~ RECO": 0.4, "BI ~ TL": 0.2}
  thresholds: [-1.6, -0.7, 0.25, 1.2]
  icc: 0.2
  cluster_size: 10
  random_slope_sd: {"SENS ~ TL": 0.15, "SEIZ ~ SENS": 0.15}
"""
SMALL = """\
name: hierarchical_bench_small
data: {path: data.csv, id: respondent_id, cluster: firm_id, scale: [1, 5]}
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  BI: [bi1, bi2, bi3, bi4]
paths: {SENS: [TL], BI: [SENS, TL]}
effects:
  ind: [TL, SENS, BI]
engine: bayes
bayes:
  indicators: {indicators}
  random_slopes: [[TL, SENS]]
truth:
  loadings: 0.75
  paths: {"SENS ~ TL": 0.4, "BI ~ SENS": 0.35, "BI ~ TL": 0.15}
  thresholds: [-1.6, -0.7, 0.25, 1.2]
  icc: 0.2
  cluster_size: 8
  random_slope_sd: {"SENS ~ TL": 0.15}
"""
DESIGNS = {  # name: (config, respondents, label, ordinal target seconds)
    "bench": (CONFIG, 2000, "200 firms x 10, 5 constructs x 4 items, 2 random slopes", 600),
    "small": (SMALL, 1200, "150 firms x 8, 3 constructs x 4 items, 1 random slope", 300),
    "firms": (None, 0, "bundled firm study, 150 firms x 5, 9 constructs, 2 random slopes", 600),
}


def firm_study_config(indicators: str) -> str:
    """The bundled firm study's config with absolute paths and the given indicators."""
    config = yaml.safe_load(FIRMS.read_text())
    for key, parent in (("path", config["data"]), ("instrument", config)):
        parent[key] = str((FIRMS.parent / parent[key]).resolve())
    config.pop("output", None)
    config["bayes"]["indicators"] = indicators
    return yaml.safe_dump(config, sort_keys=False)


def simulate(cli: list[str], config: Path, n: int, output: Path) -> None:
    """Simulate `n` responses from the config's truth (seed 7) into `output`."""
    command = [*cli, "simulate", str(config), "--n", str(n), "--seed", "7", "-o", str(output)]
    subprocess.run(command, check=True, capture_output=True)


def _worst(folder: Path, k: int = 5) -> str:
    """The `k` reported parameters with the lowest bulk ESS (with their R-hat)."""
    rows = pd.read_csv(folder / "estimates.csv").dropna(subset=["ess_bulk"])
    rows = rows.nsmallest(k, "ess_bulk")
    level = rows["level"].fillna("").astype(str) if "level" in rows else [""] * len(rows)
    return "; ".join(
        f"{r.lhs} {r.op} {r.rhs}{f' ({lv})' if lv else ''} {r.ess_bulk:.0f} (R-hat {r.rhat:.3f})"
        for r, lv in zip(rows.itertuples(), level, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ordinal", action="store_true", help="ordinal indicators")
    designs = parser.add_mutually_exclusive_group()
    designs.add_argument("--small", action="store_true", help="the 150 x 8 three-construct design")
    designs.add_argument("--firms", action="store_true", help="the bundled firm study")
    args = parser.parse_args()
    indicators = "ordinal" if args.ordinal else "continuous"
    design = "small" if args.small else "firms" if args.firms else "bench"
    template, n, label, target = DESIGNS[design]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        config = tmp / "bench.yaml"
        cli = [sys.executable, "-m", "bayeslead.cli"]
        if args.firms:
            config.write_text(firm_study_config(indicators))
        else:
            config.write_text(template.replace("{indicators}", indicators))
            simulate(cli, config, n, tmp / "data.csv")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [*cli, "fit", str(config), "--out", str(tmp / "out"), "--quiet"],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if result.returncode not in (0, 1) or not result.stdout.strip():
            raise SystemExit(result.stderr[-3000:])
        folder = Path(result.stdout.strip().splitlines()[-1])
        manifest = json.loads((folder / "manifest.json").read_text())
        diagnostics = json.loads((folder / "diagnostics.json").read_text())
        t = manifest["timings"]
        print(
            f"two-level ({indicators}), {label}: wall {wall:.1f} s, cpu {cpu:.1f} s "
            f"(fit_s {t['fit_s']:.1f}, compile {t['compile_s']:.1f}, sampling {t['sampling_s']:.1f}); "
            f"min ESS/s {diagnostics['min_ess_bulk'] / t['sampling_s']:.1f}; max R-hat {diagnostics['max_rhat']:.4f}; "
            f"divergences {diagnostics['divergences']}; gates {'pass' if diagnostics['passed'] else 'FAIL'}"
        )
        print(
            f"  min bulk ESS {diagnostics['min_ess_bulk']:.0f}; lowest bulk ESS: {_worst(folder)}"
        )
        print(f"  draws: {manifest['info'].get('draws_rule', '')}")
        for name, gate in diagnostics["gates"].items():
            if not gate["pass"]:
                print(
                    f"  gate {name} failed: {gate['value']:.4g} ({', '.join(gate['failed'][:8])})"
                )
        if indicators == "continuous" and not args.firms:
            print("target: under 300 s (continuous indicators)")
        elif indicators == "continuous":
            print("target: none (continuous indicators)")
        else:
            print(f"target: gates pass in <= {target} s (ordinal indicators)")


if __name__ == "__main__":
    main()
