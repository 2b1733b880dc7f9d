"""Benchmark and recovery study of latent moderated mediation (issue 18, points 4 and 5).

(a) speed: `bayeslead fit configs/tl_dc_bi_moderated_bayes.yaml` (the bundled study with ENV
    moderating RECO -> BI: N = 500, 31 items, one interaction; 4 chains x 1000 draws after
    1000 tuning steps, nutpie low-rank metric) in a fresh process; prints the wall seconds,
    compile and sampling seconds, whether every gate passed and the index of moderated
    mediation. Target: at most 60 s end to end with the gates passing. Run it twice: the first
    run after installing also compiles numba's kernels (cold).
(b) recovery (`--recovery`): `study recovery` of the first-stage and second-stage designs in
    bench/configs/ (N = 500, 100 replicates, continuous responses) with the ML engine
    (double-mean-centred product indicators; percentile intervals of 5,000 Monte Carlo draws,
    or of `--bootstrap B` resamples) and the Bayesian engine; prints the index of moderated
    mediation's truth, mean estimate, bias and 95% interval coverage. Targets: |bias| <= 0.02
    and coverage in [0.93, 0.97]. `--out DIR` keeps the study folders (DIR/<design>_<engine>)
    and `--resume` continues them. `--responses likert` runs the 5-point versions
    (bench/configs/<design>_5pt.yaml: the simulated responses cut into five categories, the
    Bayesian ordered-probit model, whose y* are the continuous responses, so the truth is the
    same); the ML engine has no true values on category codes and is skipped.
    The 5-point Bayesian studies take about 140 CPU s per replicate, more than one session: their
    folders in progress are committed under bench/studies/ (`--out bench/studies --resume`
    continues them; each replicate's seed comes from the study seed, so the code version that ran
    a replicate does not change which data it saw).

(c) paired (`--paired DIR`): for every replicate of a 5-point Bayesian study folder, the ML
    engine refits the continuous responses y* that replicate's answers were cut from (same seed,
    same draws), so the Bayesian estimator's own error is told apart from the luck of the data
    draws: prints, for the index of moderated mediation and the interaction coefficient, the mean
    of both estimators over the same data sets, their paired difference with its Monte Carlo SE,
    and each one's 95% interval coverage and mean interval width on those data sets. ML on y*
    is a benchmark with more information than the categories hold (about 0.5 s per replicate).

    .venv/bin/python bench/interaction.py [--recovery] [--reps 100] [--engines sem,bayes]
        [--designs moderated_first_stage,moderated_second_stage] [--bootstrap 0] [--out DIR]
        [--responses continuous|likert] [--paired bench/studies/<design>_5pt_bayes]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bayeslead.errors import BayesleadError, InputError

ROOT = Path(__file__).parents[1]
DESIGNS = ("moderated_first_stage", "moderated_second_stage")


def speed() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        command = [sys.executable, "-m", "bayeslead.cli", "fit"]
        command += [str(ROOT / "configs" / "tl_dc_bi_moderated_bayes.yaml"), "--out", tmp]
        subprocess.run([*command, "--quiet"], check=False, capture_output=True)
        wall = time.perf_counter() - started
        (run,) = Path(tmp).glob("*/*/manifest.json")
        manifest = json.loads(run.read_text())
        diagnostics = json.loads((run.parent / "diagnostics.json").read_text())
        effects = pd.read_csv(run.parent / "effects.csv").set_index("effect")
    t = manifest["timings"]
    print(
        f"bundled moderated study (bayes): {wall:.1f} s wall, fit_s {t['fit_s']:.1f}, compile "
        f"{t['compile_s']:.1f} s, sampling {t['sampling_s']:.1f} s; gates "
        f"{'passed' if diagnostics['passed'] else 'FAILED'} (max R-hat "
        f"{diagnostics['max_rhat']:.4f}, min bulk ESS {diagnostics['min_ess_bulk']:.0f}, "
        f"divergences {diagnostics['divergences']}); imm_serial "
        f"{effects.loc['imm_serial', 'est']:.4f} [{effects.loc['imm_serial', 'ci_lower']:.4f}, "
        f"{effects.loc['imm_serial', 'ci_upper']:.4f}]"
    )
    print("target: at most 60 s end to end with every gate passing")


def recovery(
    reps: int,
    engines: list[str],
    designs: list[str],
    bootstrap: int,
    out: Path | None,
    resume: bool,
    responses: str = "continuous",
) -> None:
    from bayeslead.study import simulation_study

    likert = responses == "likert"
    for design in designs:
        for engine in engines:
            if likert and engine == "sem":
                print(f"{design} (sem): skipped, ML has no true values on 5-point codes")
                continue
            name = f"{design}_5pt" if likert else design
            with tempfile.TemporaryDirectory() as tmp:
                folder = (out or Path(tmp)) / f"{name}_{engine}"
                config = ROOT / "bench" / "configs" / f"{name}.yaml"
                summary = simulation_study(
                    "recovery",
                    config,
                    [500],
                    reps,
                    1,
                    engine,
                    responses=responses,
                    bootstrap=bootstrap if engine == "sem" else 0,
                    out=folder,
                    resume=resume,
                    workers=2,
                )
                table = pd.read_csv(summary.folder / "recovery.csv")
            row = table.set_index("parameter").loc["imm_ind"]
            print(
                f"{name} ({engine}, {reps} replicates, {summary.failed} failed): imm truth "
                f"{row.true:.4f}, mean {row.mean_est:.4f}, bias {row.bias:+.4f}, coverage "
                f"{row.coverage:.3f} (MC SE {row.coverage_mcse:.3f})"
            )
    print("targets: |bias| <= 0.02, coverage of the 95% intervals in [0.93, 0.97]")


def paired(folder: Path) -> None:
    """ML on the continuous responses of each replicate of a 5-point Bayesian study, paired with
    the Bayesian estimates of that replicate (see the module docstring, (c))."""
    import numpy as np

    from bayeslead.study.design import Replicate, StudyDesign, prepare_study
    from bayeslead.study.replicate import fit_replicate
    from bayeslead.study.runner import DESIGN, design_records, read_records
    from bayeslead.study.summary import ok_records

    if not (folder / DESIGN).is_file():
        raise InputError(f"--paired: {folder} holds no study ({DESIGN} not found)")
    design = StudyDesign.from_dict(json.loads((folder / DESIGN).read_text()))
    name = Path(design.config).stem.removesuffix("_5pt")
    config = ROOT / "bench" / "configs" / f"{name}.yaml"
    _, model = prepare_study(
        config, "recovery", list(design.sizes), design.reps, design.seed, "sem", "continuous"
    )
    records = ok_records(design_records(read_records(folder), design))
    interaction = next(k for k in records[0]["parameters"] if ":" in k)
    rows = {"imm_ind": [], interaction: []}
    for record in records:
        ml = fit_replicate(model, Replicate(record["n"], record["rep"], record["seed"]))[
            "parameters"
        ]
        for key, pairs in rows.items():
            pairs.append((record["parameters"][key], ml[key]))
    print(f"{folder.name}: {len(records)} replicates, ML refitted on the same continuous y*")
    for key, pairs in rows.items():
        bayes, ml = (np.array([pair[i] for pair in pairs]) for i in (0, 1))
        truth = model.true_values[key]
        difference = bayes[:, 0] - ml[:, 0]
        covers = [np.mean((r[:, 1] <= truth) & (truth <= r[:, 2])) for r in (bayes, ml)]
        widths = [np.mean(r[:, 2] - r[:, 1]) for r in (bayes, ml)]
        print(
            f"  {key}: truth {truth:.4f}; mean Bayes (5-point) {bayes[:, 0].mean():.4f}, ML (y*) "
            f"{ml[:, 0].mean():.4f}; paired difference {difference.mean():+.4f} (MC SE "
            f"{difference.std(ddof=1) / np.sqrt(len(difference)):.4f}); coverage Bayes "
            f"{covers[0]:.3f}, ML {covers[1]:.3f}; mean interval width Bayes {widths[0]:.4f}, ML "
            f"{widths[1]:.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recovery", action="store_true")
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--engines", default="sem,bayes")
    parser.add_argument("--designs", default=",".join(DESIGNS))
    parser.add_argument("--bootstrap", type=int, default=0, help="ML bootstrap resamples")
    parser.add_argument("--out", type=Path, default=None, help="keep the study folders here")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--responses", choices=("continuous", "likert"), default="continuous")
    parser.add_argument("--paired", type=Path, default=None, help="a 5-point Bayesian study folder")
    args = parser.parse_args()
    try:
        run(args)
    except BayesleadError as exc:  # bad input (e.g. --resume on a folder without a study)
        print(f"bench/interaction.py: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


def run(args: argparse.Namespace) -> None:
    """The part of the bench the arguments ask for."""
    if args.paired:
        paired(args.paired)
    elif args.recovery:
        recovery(
            args.reps,
            args.engines.split(","),
            args.designs.split(","),
            args.bootstrap,
            args.out,
            args.resume,
            args.responses,
        )
    else:
        speed()


if __name__ == "__main__":
    main()
