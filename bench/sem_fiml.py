"""Benchmark: FIML at survey scale (issue 4).

Simulates a survey shaped like the real one in the issue (2,800 respondents, 25 six-point items,
5 correlated factors, about 3% of responses missing completely at random), fits the 5-factor CFA
by FIML and prints seconds. Target: at most 5 x lavaan's 2.2 s (missing = "ml") = 11 s.

    .venv/bin/python bench/sem_fiml.py
"""

from __future__ import annotations

import time

import numpy as np

from bayeslead.config import RunConfig, SemConfig, TruthConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.sem.engine import fit_sem
from bayeslead.simulate import ItemScale, simulate_responses


def complete_survey(seed: int = 1):
    """The survey's spec and its responses before the blanks."""
    constructs = {f"F{k}": [f"f{k}_{i}" for i in range(1, 6)] for k in range(1, 6)}
    spec = build_spec(RunConfig(name="fiml", constructs=constructs))
    truth = TruthConfig(
        loadings=0.7,
        correlations={
            "F1 ~~ F2": 0.3,
            "F2 ~~ F3": 0.4,
            "F3 ~~ F4": 0.3,
            "F4 ~~ F5": 0.2,
            "F1 ~~ F5": 0.3,
        },
    )
    frame = simulate_responses(spec, truth, {i: ItemScale(1, 6) for i in spec.items}, 2800, seed)
    return spec, frame[list(spec.items)].astype(float)


def survey(seed: int = 1):
    """The survey with about 3% of the answers blank completely at random."""
    spec, data = complete_survey(seed)
    mask = np.random.default_rng(seed + 1).random(data.shape) < 0.03
    return spec, data.mask(mask)


def main() -> None:
    spec, data = survey()
    start = time.perf_counter()
    result = fit_sem(
        spec, ResponseData(data, data, None, "", {}), SemConfig(bootstrap=0), progress=False
    )
    seconds = time.perf_counter() - start
    missing = float(data.isna().to_numpy().mean())
    print(
        f"FIML CFA, 2800 x 25 items, 5 factors, {100 * missing:.1f}% missing, "
        f"{result.info['patterns']} patterns: {seconds:.2f} s (converged: {result.info['converged']})"
    )
    print("lavaan reference (missing = 'ml'): 2.2 s; target <= 11 s")


if __name__ == "__main__":
    main()
