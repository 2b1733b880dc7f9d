"""Compile time of the multi-group ordinal model (issue 17, acceptance 3).

The design of the slow recovery test (`tests/bayes/test_multigroup_ordinal.py`): two groups of
500, two constructs of five 5-point items, F2 ~ F1. For each invariance setting it builds the
PyMC model and prints the size of the compiled log-density + gradient graph (PyTensor's rewritten
apply nodes, likelihood Ops among them) and nutpie's compile seconds with the per-machine cache
of its entry points switched off (what a first fit of a new data set pays; PyTensor's own numba
cache of the single Ops stays on, so run the script twice for the warm figure). Target: well
under a minute.

    .venv/bin/python bench/multigroup_ordinal_compile.py [full approximate partial] [--n 500]
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import numpy as np
import pandas as pd
import pytensor
from pytensor.compile.mode import Mode, get_mode

from bayeslead.bayes.models.multigroup.invariance import deviation_plan
from bayeslead.bayes.models.multigroup.ordinal import (
    build_ordinal_multigroup_model,
    ordinal_groups,
)
from bayeslead.bayes.nutpie_cache import ENV, compile_model
from bayeslead.bayes.priors import prior_set
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable

CONSTRUCTS = {f: [f"{f.lower()}_{k}" for k in range(1, 6)] for f in ("F1", "F2")}
ITEMS = [item for items in CONSTRUCTS.values() for item in items]
CUTS = np.array([-1.5, -0.5, 0.4, 1.3])


def simulate(n: int, seed: int = 3) -> pd.DataFrame:
    """The slow test's data: group B's latent means .4 / -.2, f1_3's thresholds 1.0 lower."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, mean in {"A": [0.0, 0.0], "B": [0.4, -0.2]}.items():
        eta = rng.multivariate_normal(mean, [[1.0, 0.3], [0.3, 1.0]], size=n)
        columns = {}
        for f, items in enumerate(CONSTRUCTS.values()):
            for item in items:
                cuts = CUTS - (1.0 if (name, item) == ("B", "f1_3") else 0.0)
                columns[item] = 1 + np.searchsorted(cuts, eta[:, f] + rng.standard_normal(n))
        frames.append(pd.DataFrame(columns).assign(g=name))
    return pd.concat(frames, ignore_index=True)


def model_of(invariance: str, frame: pd.DataFrame):
    partial = [f"f1_3 | t{k}" for k in range(1, 5)] if invariance == "partial" else []
    config = RunConfig(
        name="bench",
        constructs=CONSTRUCTS,
        paths={"F2": ["F1"]},
        data={"group": "g"},
        engine="bayes",
        bayes={"indicators": "ordinal", "invariance": invariance},
        group_partial=partial,
    )
    spec = build_spec(config)
    table = build_partable(spec, "std.lv", unit_residuals=True)
    priors = prior_set({}, {q.key for q in table.free_params})
    data, _ = ordinal_groups(frame[ITEMS].to_numpy(dtype=float), frame.g, "bench")
    plan = deviation_plan(spec, table, priors, invariance, data.threshold_keys(ITEMS))
    return build_ordinal_multigroup_model(spec, table, data, priors, plan)


def graph_size(model) -> collections.Counter:
    """Op counts of the rewritten log-density + gradient graph (NUMBA rewrites, Python linker)."""
    logp = model.logp()
    grads = pytensor.grad(logp, model.value_vars)
    mode = Mode(linker="py", optimizer=get_mode("NUMBA").optimizer)
    function = pytensor.function(
        model.value_vars, [logp, *grads], mode=mode, on_unused_input="ignore"
    )
    return collections.Counter(type(a.op).__name__ for a in function.maker.fgraph.apply_nodes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("settings", nargs="*", default=["full", "approximate"])
    parser.add_argument("--n", type=int, default=500, help="respondents per group")
    args = parser.parse_args()
    os.environ[ENV] = "off"
    frame = simulate(args.n)
    print(f"os.getloadavg: {os.getloadavg()}")
    for invariance in args.settings:
        started = time.perf_counter()
        model = model_of(invariance, frame)
        built = time.perf_counter() - started
        ops = graph_size(model)
        started = time.perf_counter()
        compile_model(model)
        compiled = time.perf_counter() - started
        print(
            f"{invariance:12s} n = 2 x {args.n}: build {built:.1f} s, "
            f"{sum(ops.values())} rewritten nodes ({ops['IntervalLogProb']} likelihood Op), "
            f"nutpie compile {compiled:.1f} s (cache off)",
            flush=True,
        )


if __name__ == "__main__":
    main()
