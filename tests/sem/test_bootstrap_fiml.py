"""The ML bootstrap with missing responses: rows resampled with their blank cells, each replicate
refitted by FIML, against lavaan's ``sem(..., missing = "ml", se = "bootstrap")``
(tests/reference/bootstrap_fiml: N = 300, 5% MCAR blanks, two 5000-draw runs).

Tolerance: the issue's 0.01 on the percentile bounds of the indirect effect. The reference's
Monte Carlo SD of a bound is 0.001-0.002 at B = 5000 and about 2.2x that at B = 1000."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslead.config import RunConfig
from bayeslead.core.partable import build_partable
from bayeslead.pipeline import fit, load_inputs
from bayeslead.sem.bootstrap import bootstrap
from tests.conftest import REFERENCE, reference_table

FOLDER = REFERENCE / "bootstrap_fiml"


def _fit(replicates: int, seed: int = 1):
    config = RunConfig.model_validate(
        {
            "name": "bootstrap_fiml",
            "data": {"path": str(FOLDER / "data.csv")},
            "constructs": {
                "X": ["x1", "x2", "x3"],
                "M": ["m1", "m2", "m3"],
                "Y": ["y1", "y2", "y3"],
            },
            "paths": {"M": ["X"], "Y": ["M", "X"]},
            "effects": {"ind": ["X", "M", "Y"]},
            "sem": {"bootstrap": replicates, "seed": seed},
        }
    )
    return fit(load_inputs(config), progress=False)


def _lavaan(label: str) -> list:
    summary = reference_table("bootstrap_fiml", "bootstrap_summary.csv")
    return [
        r
        for _, r in summary[
            (summary["boot.ci.type"] == "perc") & (summary.label == label)
        ].iterrows()
    ]


def _check(result) -> None:
    """The indirect effect within the issue's 0.01 of both lavaan runs; the total effect
    (boot SD 0.077) within the reference README's bootstrap tolerance max(0.005, 0.4 x SD)."""
    assert result.info["missing"].startswith("FIML")
    assert result.info["bootstrap"]["refit"] == "FIML (rows resampled with their missing cells)"
    assert result.info["bootstrap"]["failed"] == 0
    effects = result.effects.set_index("kind")
    for kind, label in (("indirect", "ind"), ("total", "total")):
        row = effects.loc[kind]
        assert row.ci_method == "bootstrap-percentile"
        for ref in _lavaan(label):
            tol = 0.01 if label == "ind" else max(0.005, 0.4 * ref.boot_sd)
            np.testing.assert_allclose(row.est, ref.est, atol=2e-4)
            np.testing.assert_allclose(
                [row.ci_lower, row.ci_upper], [ref["ci.lower"], ref["ci.upper"]], atol=tol
            )
            np.testing.assert_allclose(row.se, ref.boot_sd, rtol=0.10)
    assert not any("Wald" in str(p) for p in result.problems)


def test_fiml_bootstrap_matches_lavaan_1000():
    """B = 1000 (MC SD of a bound about 0.002-0.004): within 0.01 of both lavaan runs."""
    _check(_fit(1000))


@pytest.mark.slow
def test_fiml_bootstrap_matches_lavaan_5000():
    _check(_fit(5000, seed=2))


def test_replicates_keep_their_blank_cells_and_do_not_depend_on_workers():
    config = RunConfig.model_validate(
        {
            "name": "t",
            "data": {"path": str(FOLDER / "data.csv")},
            "constructs": {"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3"]},
            "paths": {"M": ["X"]},
            "sem": {"bootstrap": 0},
        }
    )
    inputs = load_inputs(config)
    result = fit(inputs, progress=False)
    table = build_partable(inputs.spec)
    x = inputs.data.frame[list(inputs.spec.manifest)].to_numpy(float)
    assert np.isnan(x).any()
    means = result.estimates[result.estimates.op == "~1"].est.to_numpy()
    theta = result.theta
    inverse_hessian = np.linalg.inv(
        np.eye(len(theta) + len(means))
    )  # a poor curvature still converges
    one = bootstrap(
        table,
        x,
        theta,
        60,
        5,
        workers=1,
        progress=False,
        means=means,
        inverse_hessian=inverse_hessian,
    )
    two = bootstrap(
        table,
        x,
        theta,
        60,
        5,
        workers=2,
        progress=False,
        means=means,
        inverse_hessian=inverse_hessian,
    )
    np.testing.assert_array_equal(one.theta, two.theta)
    assert one.n_failed == 0 and one.means.shape == (60, 6)
