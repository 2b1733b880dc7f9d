"""Compile once per structure, every family: a fit on data A stores nutpie's entry points, and
a new process fitting data B of the same structure (a new simulation) loads them (a cache hit,
nothing compiled) and draws exactly what a fit of B with the cache off draws. The data enter as
`pm.Data` containers (`bayes/blocks/containers.py`); what is structure per family is listed in
ARCHITECTURE.md ("Compile once per structure")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeslead.bayes.nutpie_cache import ENV

ROOT = Path(__file__).parents[2]
CONSTRUCTS = {"F1": ["a1", "a2", "a3"], "F2": ["b1", "b2", "b3"]}
CUTS = np.array([-1.2, -0.3, 0.5, 1.3])  # five categories on the y* scale (SD about 1.4)
SETTINGS = {"chains": 2, "draws": 30, "tune": 30, "seed": 3, "cores": 1}
# family -> (extra config keys, bayes settings, groups, clusters)
FAMILIES = {
    "ordinal": ({}, {"indicators": "ordinal", "ordinal": "full"}, 1, 0),
    "multigroup": ({"data": {"group": "g"}}, {}, 2, 0),
    "multigroup_ordinal": ({"data": {"group": "g"}}, {"indicators": "ordinal"}, 2, 0),
    "twolevel": ({"data": {"cluster": "c"}}, {"random_slopes": [["F1", "F2"]]}, 1, 12),
    "twolevel_ordinal": ({"data": {"cluster": "c"}}, {"indicators": "ordinal"}, 1, 12),
}


def simulate(seed: int, family: str, n: int = 60) -> pd.DataFrame:
    """`n` respondents (per group; in clusters of 5 for two-level families) of F2 ~ F1 with
    three items each, y* = eta + e; five-point items for ordinal families."""
    _, bayes, groups, clusters = FAMILIES[family]
    rng = np.random.default_rng(seed)
    frames = []
    for g in range(groups):
        f1 = rng.standard_normal(n) + 0.3 * g
        cluster = np.arange(n) % clusters if clusters else np.zeros(n, dtype=int)
        if clusters:
            f1 = f1 + 0.6 * rng.standard_normal(clusters)[cluster]
        eta = {"F1": f1, "F2": 0.5 * f1 + rng.standard_normal(n)}
        columns = {}
        for construct, items in CONSTRUCTS.items():
            for item in items:
                y = eta[construct] + rng.standard_normal(n)
                ordinal = bayes.get("indicators") == "ordinal"
                columns[item] = 1 + np.searchsorted(CUTS, y) if ordinal else y
        frames.append(pd.DataFrame(columns).assign(g=f"g{g}", c=cluster))
    return pd.concat(frames, ignore_index=True)


def config(family: str) -> dict:
    extra, bayes, _, _ = FAMILIES[family]
    paths = {"F2": ["F1"]}
    settings = SETTINGS | bayes
    return {"name": family, "constructs": CONSTRUCTS, "paths": paths, "engine": "bayes"} | (
        extra | {"bayes": settings}
    )


FIT = textwrap.dedent(
    """
    import json, sys
    from bayeslead.api import fit
    from tests.bayes.test_nutpie_cache import draws_digest
    from tests.bayes.test_structure_cache import config, simulate

    family, seed = sys.argv[1], int(sys.argv[2])
    result = fit(config(family), simulate(seed, family)).fit_result
    print(json.dumps({"cache": result.info["compile_cache"], "draws": draws_digest(result.idata)}))
    """
)


def fit_in_new_process(directory: Path | str, family: str, seed: int) -> dict:
    """Fit `family` on simulation `seed` in a new process with the cache in `directory` (or
    "off")."""
    env = os.environ | {"PYTHONPATH": str(ROOT), ENV: str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", FIT, family, str(seed)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# ordinal families sample one score row per respondent: compiling them takes minutes on 2 cores
SLOW = pytest.mark.slow
CASES = [pytest.param(f, marks=SLOW) if "ordinal" in f else f for f in FAMILIES]


@pytest.mark.parametrize("family", CASES)
def test_a_fit_on_other_data_of_the_same_structure_compiles_nothing(family, tmp_path):
    """Data A (seed 1) in one process, data B (seed 2) in the next: a hit, one module, and B's
    draws equal those of a fit of B with the cache off (the same graph: bitwise), also in a new
    process (a pytest worker that ran other fits before may hold other machine code of shared
    numba helpers)."""
    first = fit_in_new_process(tmp_path, family, 1)
    second = fit_in_new_process(tmp_path, family, 2)
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert len(list(tmp_path.glob("nutpie_*.py"))) == 1  # one structure, one module
    uncached = fit_in_new_process("off", family, 2)
    assert uncached["cache"] == "off (BAYESLEAD_NUTPIE_CACHE=off)"
    assert uncached["draws"] == second["draws"]
    assert first["draws"] != second["draws"]
