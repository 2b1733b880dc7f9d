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


def test_more_draws_only_where_longer_chains_can_mend_the_gates():
    """Draws until the gates pass extend the chains for R-hat and ESS only: an AR(1) chain of
    1,000 draws (rho .9: R-hat 1.03, bulk ESS about 150 of 4,000 draws, under the gate of 400)
    gets more draws, as does a near-miss R-hat; chains in different modes (R-hat above 1.1), an ESS that
    would stay under the gate at DRAWS_MAX and divergences do not."""
    from bayeslead.bayes.gates import more_draws
    from bayeslead.bayes.posterior import convergence

    rng = np.random.default_rng(1)
    noise = rng.standard_normal((4, 1000))
    slow = np.zeros((4, 1000))
    for t in range(1000):
        slow[:, t] = 0.9 * slow[:, t - 1] + np.sqrt(1 - 0.81) * noise[:, t] if t else noise[:, 0]
    stats_ = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((4, 1000), bool)),
            "energy": (("chain", "draw"), rng.standard_normal((4, 1000))),
        }
    )

    def verdict(draws, **gates):
        conv = convergence(draws[..., None]).set_axis(["x"])
        return more_draws(check_gates(conv, stats_, DiagnosticsConfig(**gates)), 1000)

    assert verdict(rng.standard_normal((4, 1000))) == (None, True)
    reason, extend = verdict(slow)
    assert reason.startswith("R-hat 1.0") and " (x), bulk ESS " in reason and extend
    assert 100 < float(reason.split("bulk ESS ")[1].split()[0]) < 200  # 400 from 4 x more draws
    assert verdict(slow, ess_min=1000)[1] is False  # about 600 at 4,000 draws: not reachable
    shifted = rng.standard_normal((4, 1000)) + np.array([0.0, 0.0, 0.0, 0.05])[:, None]
    reason, extend = verdict(shifted, rhat_max=1.0001)
    assert reason.startswith("R-hat 1.0") and extend
    apart = rng.standard_normal((4, 1000)) + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    reason, extend = verdict(apart)
    assert reason.startswith("R-hat ") and not extend
    diverging = stats_.assign(diverging=(("chain", "draw"), np.ones((4, 1000), bool)))
    conv = convergence(rng.standard_normal((4, 1000, 1))).set_axis(["x"])
    assert more_draws(check_gates(conv, diverging, DiagnosticsConfig()), 1000) == (None, True)
