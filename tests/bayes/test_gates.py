"""Convergence gates of Bayesian fits."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayeslead.bayes.gates import check_gates
from bayeslead.config import DiagnosticsConfig


def test_gates_flag_disagreeing_chains():
    """Four chains, one shifted by 1 SD: rank-normalised R-hat far above 1.01 for that
    parameter only; well-mixed draws pass every gate."""
    from bayeslead.bayes.posterior import convergence

    rng = np.random.default_rng(0)
    draws = rng.standard_normal((4, 1000, 2))
    draws[0, :, 1] += 1.0
    conv = convergence(draws)
    conv.index = ["good", "bad"]
    stats_ = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((4, 1000), bool)),
            "energy": (("chain", "draw"), rng.standard_normal((4, 1000))),
        }
    )
    report = check_gates(conv, stats_, DiagnosticsConfig())
    assert not report["gates"]["rhat"]["pass"] and report["gates"]["rhat"]["failed"] == ["bad"]
    assert report["gates"]["divergences"]["pass"] and report["gates"]["bfmi"]["pass"]
    assert any("chains disagree" in a for a in report["advice"])
    good = check_gates(conv.loc[["good"]], stats_, DiagnosticsConfig())
    assert good["passed"] and good["max_rhat"] < 1.01
