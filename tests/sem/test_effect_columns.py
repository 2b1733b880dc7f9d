"""effects.csv says how each column was made, and its p-value comes from the SE beside it."""

from __future__ import annotations

import numpy as np
from scipy import stats

from tests.sem.test_engine import SERIAL, SERIAL_EFFECTS, SERIAL_PATHS, fit


def _check(effects, method):
    assert set(effects.se_method) == {method}
    assert effects.pvalue_method.str.contains(f"{method}").all()
    z = effects.est / effects.se
    np.testing.assert_allclose(effects.pvalue, 2 * stats.norm.sf(np.abs(z)), rtol=1e-10)


def test_bootstrap_effects_p_from_bootstrap_se():
    result = fit(
        SERIAL, "serial_mediation", bootstrap=40, paths=SERIAL_PATHS, effects=SERIAL_EFFECTS
    )
    _check(result.effects, "bootstrap")
    assert set(result.effects.ci_method) == {"bootstrap-percentile"}


def test_delta_method_effects():
    result = fit(SERIAL, "serial_mediation", paths=SERIAL_PATHS, effects=SERIAL_EFFECTS)
    _check(result.effects, "delta")
    defined = result.estimates[result.estimates.op == ":="]
    np.testing.assert_allclose(defined.pvalue.to_numpy(), result.effects.pvalue.to_numpy())
