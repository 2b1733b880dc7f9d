"""Benchmark: where the ordinal two-level posterior mixes slowly (issue 22, acceptance 4).

Builds the two-level ordinal model of a `bench/hierarchical.py` design exactly as `bayeslead fit`
does (same family steps, same start values), samples it with nutpie keeping every variable (the
latent scores, cluster parts and slopes too, which a run folder does not store), and prints per
sampled or derived variable its size, max R-hat, min bulk and tail ESS, and the sampler's
figures: seconds, leapfrog steps per draw, tree depth, final step sizes, divergences and the
milliseconds per gradient. `--low-rank` samples with nutpie's low-rank modified mass matrix
(`bayes.sampling`), the metric single-level ordinal interaction models use.

    .venv/bin/python bench/ordinal_twolevel_mixing.py [--design bench|small|firms] [--low-rank]
        [--chains 4 --tune 1000 --draws 1000 --cores 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from hierarchical import DESIGNS, firm_study_config  # noqa: E402

from bayeslead.bayes.models.twolevel.fit import TwoLevel  # noqa: E402
from bayeslead.bayes.nutpie_cache import compile_model  # noqa: E402
from bayeslead.bayes.recipe import make_setup  # noqa: E402
from bayeslead.pipeline import load_inputs, simulate_to_file  # noqa: E402


def build(config: Path):
    """The model and start values `bayeslead fit` would sample for `config`."""
    inputs = load_inputs(config)
    family, settings = TwoLevel(), inputs.config.bayes
    prepared = family.prepare(inputs.spec, inputs.data, settings)
    setup = make_setup(
        inputs.spec, settings, family.unit_residuals(settings), family.fixed_values(prepared)
    )
    graph = family.build(setup, prepared)
    return graph.model, family.start(setup, prepared, graph)


def report(idata, label: str) -> None:
    """Convergence of every variable of the posterior, worst first."""
    rows = []
    for name in idata.posterior.data_vars:
        rhat = np.atleast_1d(az.rhat(idata, var_names=[name])[name].values)
        bulk = np.atleast_1d(az.ess(idata, var_names=[name])[name].values)
        tail = np.atleast_1d(az.ess(idata, var_names=[name], method="tail")[name].values)
        if np.all(np.isnan(rhat)):
            continue
        rows.append((np.nanmax(rhat), name, rhat.size, np.nanmin(bulk), np.nanmin(tail), bulk))
    for rhat, name, size, bulk, tail, all_bulk in sorted(rows, reverse=True):
        print(
            f"[{label}] {name:22s} size {size:6d}  max R-hat {rhat:.4f}  min ESS bulk "
            f"{bulk:7.1f} tail {tail:7.1f}  median bulk {np.nanmedian(all_bulk):7.1f}"
        )
    post = idata.posterior
    if "theta" in post:
        rhat = az.rhat(idata, var_names=["theta"])["theta"].values
        bulk = az.ess(idata, var_names=["theta"])["theta"].values
        keys = list(post["theta"].coords[post["theta"].dims[-1]].values)
        worst = [f"{keys[i]} ({rhat[i]:.3f}, {bulk[i]:.0f})" for i in np.argsort(bulk)[:8]]
        print(f"[{label}] slowest theta (R-hat, ESS): {'; '.join(worst)}")


def main() -> None:
    import nutpie

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", choices=list(DESIGNS), default="small")
    parser.add_argument("--low-rank", action="store_true", help="nutpie's low-rank metric")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    template, n, description, _ = DESIGNS[args.design]
    label = f"{args.design}, {'low-rank' if args.low_rank else 'diagonal'}"
    with tempfile.TemporaryDirectory() as tmp_name:
        config = Path(tmp_name) / "bench.yaml"
        if template is None:
            config.write_text(firm_study_config("ordinal"))
        else:
            config.write_text(template.replace("{indicators}", "ordinal"))
            simulate_to_file(config, n, 7, Path(tmp_name) / "data.csv")
        started = time.perf_counter()
        model, initial = build(config)
        built = time.perf_counter()
        compiled, cache = compile_model(model, initial)
        compiled_at = time.perf_counter()
        idata = nutpie.sample(
            compiled,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            cores=min(args.cores, args.chains),
            seed=args.seed,
            progress_bar=False,
            save_warmup=False,
            low_rank_modified_mass_matrix=args.low_rank,
        )
        done = time.perf_counter()
    stats = idata.sample_stats
    steps = stats["n_steps"].values
    gradients = steps.sum() * (args.tune + args.draws) / args.draws  # warm-up taken as alike
    per_gradient = (done - compiled_at) * min(args.cores, args.chains) / gradients * 1e3
    print(f"{description} (ordinal), {args.chains} x ({args.tune} + {args.draws}), {label}")
    print(
        f"[{label}] build {built - started:.1f} s, compile {compiled_at - built:.1f} s "
        f"({cache.describe()}), sampling {done - compiled_at:.1f} s; steps per draw "
        f"{steps.mean():.1f} (chains {', '.join(f'{s:.0f}' for s in steps.mean(axis=1))}), "
        f"tree depth {stats['depth'].values.mean():.2f}, max-depth share "
        f"{stats['maxdepth_reached'].values.mean():.3f}, step sizes "
        f"{', '.join(f'{s:.3f}' for s in stats['step_size'].values[:, -1])}, divergences "
        f"{int(stats['diverging'].values.sum())}, about {per_gradient:.2f} ms per gradient; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    report(idata, label)


if __name__ == "__main__":
    main()
