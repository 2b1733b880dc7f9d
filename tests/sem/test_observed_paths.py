"""Path models on observed scores (Hayes' PROCESS models 4 and 6 on psych::Tal_Or, N = 123):
ML equals lavaan (tests/sem/test_corpus.py) and the percentile bootstrap interval of the indirect
effect is within 0.01 of an exact 200,000-replicate reference (tests/reference/ml_corpus/
tal_or_*/exact_bootstrap.csv, computed in R by make_all.R: each replicate is OLS regressions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.engine import fit_sem
from tests.conftest import REFERENCE

CORPUS = REFERENCE / "ml_corpus"
MODELS = {
    "tal_or_mediation": {
        "observed": ["cond", "pmi", "reaction"],
        "paths": {"pmi": ["cond"], "reaction": ["pmi", "cond"]},
        "effects": {"ind": ["cond", "pmi", "reaction"]},
    },
    "tal_or_serial_mediation": {
        "observed": ["cond", "import", "pmi", "reaction"],
        "paths": {
            "import": ["cond"],
            "pmi": ["cond", "import"],
            "reaction": ["cond", "import", "pmi"],
        },
        "effects": {"ind_serial": ["cond", "import", "pmi", "reaction"]},
    },
}


def observed_fit(folder: str, bootstrap: int):
    spec = build_spec(RunConfig(name=folder, **MODELS[folder]))
    frame = pd.read_csv(CORPUS / folder / "data.csv")[list(spec.manifest)].astype(float)
    data = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    settings = SemConfig(bootstrap=bootstrap, seed=1, workers=1)
    return fit_sem(spec, data, settings, progress=False)


@pytest.mark.slow  # 2 x 10,000 refits: about 40 s of CPU
@pytest.mark.parametrize(
    ("folder", "effect"), [("tal_or_mediation", "ind"), ("tal_or_serial_mediation", "ind_serial")]
)
def test_bootstrap_interval_of_the_indirect_effect_is_exact(folder, effect):
    """10,000 replicates: the Monte Carlo SD of a bound is 0.003-0.004 (bootstrap_bound_mc_error.csv)."""
    result = observed_fit(folder, bootstrap=10_000)
    exact = pd.read_csv(CORPUS / folder / "exact_bootstrap.csv").set_index("quantity").loc[effect]
    row = result.effects.set_index(["effect", "kind"]).loc[(effect, "indirect")]
    assert row.ci_method == "bootstrap-percentile" and result.info["bootstrap"]["failed"] == 0
    np.testing.assert_allclose(row.est, exact.est_original, atol=1e-6)
    np.testing.assert_allclose(
        [row.ci_lower, row.ci_upper], [exact.ci_lower, exact.ci_upper], atol=0.01
    )
    assert result.reliability is None and result.htmt is None


def test_a_model_without_constructs_or_observed_variables_is_refused():
    with pytest.raises(InputError, match="no constructs and no observed variables"):
        build_spec(RunConfig(name="x", paths={"y": ["x"]}))
