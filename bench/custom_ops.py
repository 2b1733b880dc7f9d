"""Benchmark: how many times each custom Op is computed per log-density + gradient in the
function nutpie compiles, and that function's thread CPU per call, per model family (issues 21,
22: PyTensor's late inlining of a diagonal's gradient, `AllocDiag`, copied the likelihood Op;
the model graphs now build diagonals with `blocks/ram.py`'s `diagonal` and `diagonal_matrix`).

Each family's model is built as a fit builds it (`bayeslead.fit`, stopped at the compile step),
compiled through `nutpie_cache.compile_model` into a temporary cache, and its compiled
log-density + gradient is called at the start point: thread CPU microseconds per call (the best
of `--repeats` runs of `--calls` calls: on a loaded virtual machine the time stolen by the host
counts as the thread's), the custom Op nodes of the compiled graph and the value. Run
it with PYTHONPATH on this checkout and on an earlier one to compare (the same data: fixed
seeds). Two-level blanks: complete vs 5% and 20% of the answers blank (issue 21).

    PYTHONPATH=. .venv/bin/python bench/custom_ops.py [FAMILY ...] [--calls N] [--repeats R]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import bayes_missing  # noqa: E402
import structure_cache  # noqa: E402

import bayeslead.bayes.sampling as sampling  # noqa: E402
from bayeslead.api import fit  # noqa: E402
from bayeslead.bayes.nutpie_cache import compile_model  # noqa: E402
from bayeslead.pipeline import simulate_to_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Compiled(Exception):
    """Raised in place of sampling, carrying nutpie's compiled model."""

    def __init__(self, compiled):
        self.compiled = compiled


def compiled_model(config, data, directory: Path):
    """nutpie's compiled model of a fit of `config` on `data` (the fit stops before sampling)."""

    def stop(model, initial_points=None, var_names=None, on_miss=None, directory_=None):
        compiled, _ = compile_model(model, initial_points, var_names, directory=directory)
        raise Compiled(compiled)

    original, sampling.compile_model = sampling.compile_model, stop
    try:
        fit(config, data)
    except Compiled as done:
        return done.compiled
    finally:
        sampling.compile_model = original
    raise RuntimeError("the fit did not reach the compile step")


def serial(tmp: Path, rate: float, cluster: bool) -> tuple[dict, Path]:
    """bench/bayes_missing.py's serial SEM (N = 500), optionally in 50 clusters of 10, with
    `rate` of the answers blank. The responses are always simulated from the unclustered design
    and the clusters assigned afterwards: the bench times the likelihood, it does not recover
    a truth."""
    config = dict(bayes_missing.SERIAL)
    if cluster:
        config |= {"name": "levels", "data": {"scale": [1, 7], "cluster": "cluster"}}
    path = tmp / "serial.yaml"
    path.write_text(yaml.safe_dump(bayes_missing.SERIAL))
    complete = tmp / "serial.csv"
    if not complete.exists():
        simulate_to_file(path, 500, 21, complete)
    frame = pd.read_csv(complete)
    items = [c for c in frame.columns if c != "respondent_id"]
    if cluster:
        frame = frame.assign(cluster=np.repeat(np.arange(50), 10))
    if rate:
        frame = bayes_missing.blank(frame, items, rate, 105 if rate < 0.1 else 120)
    out = tmp / f"serial_{cluster}_{rate}.csv"
    frame.to_csv(out, index=False)
    return config, out


def generated(tmp: Path, family: str) -> tuple[dict, Path]:
    data = tmp / f"{family}.csv"
    structure_cache.simulate(family, 1).to_csv(data, index=False)
    return structure_cache.config(family), data


def interaction(tmp: Path) -> tuple[Path, Path]:
    config = ROOT / "bench" / "configs" / "moderated_first_stage_5pt.yaml"
    data = tmp / "interaction.csv"
    simulate_to_file(config, 300, 1, data)
    return config, data


FAMILIES = {
    "single": lambda tmp: (ROOT / "configs" / "tl_dc_bi_bayes.yaml", None),
    "single_blanks_05": lambda tmp: serial(tmp, 0.05, False),
    "single_ordinal": lambda tmp: generated(tmp, "ordinal"),
    "interaction_likert": interaction,
    "twolevel": lambda tmp: generated(tmp, "twolevel"),
    "twolevel_complete": lambda tmp: serial(tmp, 0.0, True),
    "twolevel_blanks_05": lambda tmp: serial(tmp, 0.05, True),
    "twolevel_blanks_20": lambda tmp: serial(tmp, 0.20, True),
    "twolevel_ordinal": lambda tmp: generated(tmp, "twolevel_ordinal"),
    "multigroup": lambda tmp: generated(tmp, "multigroup"),
    "multigroup_ordinal": lambda tmp: generated(tmp, "multigroup_ordinal"),
}


def per_call(compiled, calls: int, repeats: int) -> tuple[float, float]:
    """Thread CPU microseconds per log-density + gradient call (best of `repeats` runs) and the
    value."""
    function = compiled.logp_func
    jit = function.vm.jit_fn
    shared = [v.get_value(borrow=True) for v in function.get_shared()]
    x = compiled.initial_point_func(0)
    value = float(jit(x, *shared)[0])
    best = np.inf
    for _ in range(repeats):
        started = time.thread_time()
        for _ in range(calls):
            jit(x, *shared)
        best = min(best, (time.thread_time() - started) / calls * 1e6)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", metavar="FAMILY", help=", ".join(FAMILIES))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families: {', '.join(unknown)}")
    with open("/proc/loadavg") as handle:
        load = " ".join(handle.read().split()[:3])
    print(f"code {sampling.__file__}; load average {load}")
    print(f"{'family':<20} {'us/call':>9} {'logp':>16}  custom Op nodes")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for family in args.families or list(FAMILIES):
            config, data = FAMILIES[family](tmp)
            compiled = compiled_model(config, data, tmp / "nutpie")
            ops = [type(node.op) for node in compiled.logp_func.maker.fgraph.apply_nodes]
            nodes = Counter(op.__name__ for op in ops if op.__module__.startswith("bayeslead."))
            ops = ", ".join(f"{op} {count}" for op, count in sorted(nodes.items()))
            cost, value = per_call(compiled, args.calls, args.repeats)
            print(f"{family:<20} {cost:9.1f} {value:16.6f}  {ops}", flush=True)


if __name__ == "__main__":
    main()
