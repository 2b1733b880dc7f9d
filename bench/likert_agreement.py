"""Benchmark: full-information vs limited-information (polychoric) ordinal fits on data simulated
from a true model of psych's bfi shape (issue 22, acceptance 2).

2,800 respondents x 25 six-point items, five constructs (O -> C -> E -> A -> N with two more paths),
loadings 0.45-0.80, seven reverse-keyed items written reverse-coded, 3% blanks completely at
random. Both estimators are fitted with default settings (`bayes.ordinal: full` and
`polychoric`); the script prints each fit's seconds and gates, the largest difference between
the two on standardised loadings and indirect effects (target <= 0.03) and how many of the true
values each one's 95% intervals cover. The full-information fit takes several minutes on a quiet
2-core machine (run it there: on a busy one it takes hours).

    .venv/bin/python bench/likert_agreement.py [seed]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from bayeslead.core.partable import build_partable
from bayeslead.pipeline import load_inputs

CONSTRUCTS = {
    "A": ["A2", "A1", "A3", "A4", "A5"],
    "C": ["C1", "C2", "C3", "C4", "C5"],
    "E": ["E3", "E1", "E2", "E4", "E5"],
    "N": ["N1", "N2", "N3", "N4", "N5"],
    "O": ["O1", "O2", "O3", "O4", "O5"],
}
REVERSED = ("A1", "C4", "C5", "E1", "E2", "O2", "O5")
LOADINGS = dict(
    zip(
        [i for items in CONSTRUCTS.values() for i in items],
        np.tile([0.75, 0.45, 0.80, 0.55, 0.65], 5),
        strict=True,
    )
)
PATHS = {"C ~ O": 0.35, "E ~ C": 0.30, "E ~ O": 0.25, "A ~ E": 0.50, "N ~ A": -0.30, "N ~ C": -0.20}
EFFECTS = {"serial": ["O", "C", "E", "A"], "neuro": ["E", "A", "N"]}


def config_text(estimator: str) -> str:
    paths: dict[str, list[str]] = {}
    for key in PATHS:
        outcome, predictor = (s.strip() for s in key.split("~"))
        paths.setdefault(outcome, []).append(predictor)
    return json.dumps(
        {
            "name": f"likert_{estimator}",
            "data": {"path": "data.csv", "scale": [1, 6]},
            "constructs": CONSTRUCTS,
            "paths": paths,
            "effects": EFFECTS,
            "engine": "bayes",
            "bayes": {"indicators": "ordinal", "ordinal": estimator},
            "truth": {
                "loadings": {k: float(v) for k, v in LOADINGS.items()},
                "paths": PATHS,
                "thresholds": [-1.8, -1.0, -0.3, 0.4, 1.2],
            },
        }
    )  # JSON is YAML


def run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", *command], capture_output=True, text=True
    )


def fit(tmp: Path, estimator: str) -> dict:
    """Fit in a fresh process; standardised loadings and indirect effects with 95% intervals."""
    config = tmp / f"{estimator}.yaml"
    config.write_text(config_text(estimator))
    start = time.perf_counter()
    result = run(["fit", str(config), "--out", str(tmp / "out"), "--quiet"])
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(result.stderr[-3000:])
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    table = build_partable(load_inputs(config, need_data=False).spec)
    theta = az.from_netcdf(folder / "idata.nc").posterior["estimate"].values
    std = table.standardized(theta).reshape(-1, len(table.params))
    rows = [k for k, q in enumerate(table.params) if q.kind == "loading"]
    keys = [f"{table.params[k].lhs} =~ {table.params[k].rhs}" for k in rows]
    lower, upper = np.quantile(std[:, rows], [0.025, 0.975], axis=0)
    out = pd.DataFrame(
        {"est": std[:, rows].mean(axis=0), "lower": lower, "upper": upper}, index=keys
    )
    effects = pd.read_csv(folder / "effects.csv")
    effects = effects[effects.kind == "indirect"]
    out = pd.concat(
        [
            out,
            pd.DataFrame(
                {
                    "est": effects.std_est.to_numpy(),
                    "lower": effects.std_ci_lower.to_numpy(),
                    "upper": effects.std_ci_upper.to_numpy(),
                },
                index=effects.effect + " (indirect)",
            ),
        ]
    )
    return {
        "wall_s": wall,
        "fit_s": manifest["timings"]["fit_s"],
        "gates": "pass" if diagnostics["passed"] else "FAIL",
        "max_rhat": diagnostics["max_rhat"],
        "std": out,
    }


def truth() -> pd.Series:
    """True standardised loadings (reverse-keyed items negative) and indirect effects."""
    out = {}
    for factor, items in CONSTRUCTS.items():
        for item in items:
            out[f"{factor} =~ {item}"] = LOADINGS[item] * (-1 if item in REVERSED else 1)
    for name, chain in EFFECTS.items():
        value = 1.0
        for a, b in zip(chain, chain[1:], strict=False):
            value *= PATHS[f"{b} ~ {a}"]
        out[f"{name} (indirect)"] = value
    return pd.Series(out)


def main() -> None:
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config = tmp / "full.yaml"
        config.write_text(config_text("full"))
        made = run(
            [
                "simulate",
                str(config),
                "--n",
                "2800",
                "--seed",
                str(seed),
                "-o",
                str(tmp / "raw.csv"),
            ]
        )
        if made.returncode:
            raise SystemExit(made.stderr[-3000:])
        data = pd.read_csv(tmp / "raw.csv")
        rng = np.random.default_rng(seed)
        for item in REVERSED:
            data[item] = 7 - data[item]
        items = [i for group in CONSTRUCTS.values() for i in group]
        blanks = rng.random((len(data), len(items))) < 0.03
        data[items] = data[items].astype(float).mask(blanks)
        data.to_csv(tmp / "data.csv", index=False)
        fits = {e: fit(tmp, e) for e in ("polychoric", "full")}
        for estimator, r in fits.items():
            print(
                f"{estimator}: wall {r['wall_s']:.1f} s, fit_s {r['fit_s']:.1f}, max R-hat {r['max_rhat']:.4f}, gates {r['gates']}"
            )
        a, b = fits["polychoric"]["std"], fits["full"]["std"]
        true = truth().loc[a.index]
        loading = a.index.str.contains("=~")
        diff = (a.est - b.est.loc[a.index]).abs()
        print(
            f"max |polychoric - full|: loadings {diff[loading].max():.4f}, "
            f"indirect {diff[~loading].max():.4f} (target <= 0.03)"
        )
        for estimator, r in fits.items():
            std = r["std"].loc[a.index]
            err = (std.est - true).abs()
            covered = (std.lower <= true) & (true <= std.upper)
            print(
                f"{estimator}: max |estimate - truth| loadings {err[loading].max():.4f}, "
                f"indirect {err[~loading].max():.4f}; 95% intervals cover "
                f"{covered[loading].sum()}/{loading.sum()} loadings, "
                f"{covered[~loading].sum()}/{(~loading).sum()} indirect effects"
            )


if __name__ == "__main__":
    main()
