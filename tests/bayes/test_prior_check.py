"""The prior predictive check command."""

from __future__ import annotations

import numpy as np

from tests.conftest import REFERENCE

FIXTURES = REFERENCE.parent / "fixtures" / "configs"


def test_prior_check_command(tmp_path):
    """The prior predictive check runs from the CLI; the default path and effect priors are
    symmetric around zero (the normal(0, 1) loading/path priors are sign-symmetric)."""
    import subprocess
    import sys

    from bayeslead.bayes.prior_check import prior_check
    from bayeslead.pipeline import load_inputs

    config = tmp_path / "c.yaml"
    config.write_text(
        (FIXTURES / "serial_ordinal.yaml").read_text().replace("../../reference", str(REFERENCE))
    )
    inputs = load_inputs(config)
    check = prior_check(inputs.spec, inputs.config.bayes, inputs.data, draws=400, seed=3)
    summary = check.summary().set_index("quantity")
    assert set(check.paths.columns) == {
        "SENS ~ TL",
        "SEIZ ~ SENS",
        "SEIZ ~ TL",
        "RECO ~ SEIZ",
        "BI ~ RECO",
        "BI ~ TL",
    }
    assert (summary["median"].abs() < 0.15).all()
    assert (summary.lower < 0).all() and (summary.upper > 0).all()
    np.testing.assert_allclose(check.category_shares.sum(axis=1), 1.0)
    assert check.correlations.shape == (400, 190)
    out = tmp_path / "prior.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bayeslead.cli",
            "prior-check",
            str(config),
            "-o",
            str(out),
            "--draws",
            "100",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out.resolve())
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
