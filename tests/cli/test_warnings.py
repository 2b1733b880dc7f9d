"""Warnings reach the user as one line in bayeslead's words; numpy floating-point noise does not."""

from __future__ import annotations

import warnings

import numpy as np

from bayeslead.cli.common import route_warnings
from bayeslead.errors import BayesleadWarning
from bayeslead.study.summary import power_table, sbc_table, too_few_replicates


def test_warnings_are_one_line_and_floating_point_noise_is_silenced(capsys):
    with warnings.catch_warnings():
        route_warnings()
        warnings.warn("run folder x was written by bayeslead 0.0.9", BayesleadWarning, stacklevel=1)
        with np.errstate(all="warn"):
            np.array([0.0]) / np.array([0.0])
        warnings.warn("something else", FutureWarning, stacklevel=1)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "warning: run folder x was written by bayeslead 0.0.9"
    assert err[1].startswith("warning from ") and err[1].endswith("(FutureWarning): something else")
    assert len(err) == 2


def test_too_few_replicates_mark_monte_carlo_errors_not_available():
    assert too_few_replicates("power", 200) is None
    assert "--reps 1 is below 20" in too_few_replicates("power", 1)
    assert "no parameter passes" in too_few_replicates("sbc", 10)
    records = [
        {"n": 100, "status": "ok", "effects": {"ind": (0.1, 0.02, 0.2, 0.05)}, "ranks": {"a": 3}}
    ]
    power = power_table(records)
    assert power.power.tolist() == [1.0] and np.isnan(power.mcse).all()
    enough = records * 20
    assert power_table(enough).mcse.tolist() == [0.0]
    sbc = sbc_table(records, 99)
    assert np.isnan(sbc.pvalue).all() and not sbc.passes.any()
