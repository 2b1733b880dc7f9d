"""Importing the Bayesian engine compiles nothing ArviZ does not need (`import_arviz_lazily`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

SCRIPT = """
import json
import numba
eager = numba.vectorize
import bayeslead.bayes
from arviz.stats import ecdf_utils
from scipy.stats import binom
compiled_at_import = list(ecdf_utils._binom_pmf.types)
print(json.dumps({
    "restored": numba.vectorize is eager,
    "compiled_at_import": compiled_at_import,
    "pmf": float(ecdf_utils._binom_pmf(3, 10, 0.4, 0)),
    "scipy": float(binom.pmf(3, 10, 0.4)),
}))
"""


def test_arviz_ufunc_is_compiled_on_first_call_and_numba_is_restored():
    """In a new process: ArviZ's binomial ufunc is not compiled by the import, gives scipy's
    value when called, and `numba.vectorize` is numba's own again."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["restored"] and out["compiled_at_import"] == []
    assert abs(out["pmf"] - out["scipy"]) < 1e-14
