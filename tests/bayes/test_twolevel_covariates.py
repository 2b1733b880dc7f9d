"""Observed covariates in two-level models (lavaan's Demo.twolevel, tests/reference/ml_corpus/
demo_twolevel_covariates) are refused with a statement, never an internal error; the Bayesian
two-level model with observed covariates is not built yet (issue 14, point 4: open)."""

from __future__ import annotations

import pandas as pd
import pytest

from bayeslead.bayes.models.twolevel.fit import TwoLevel
from bayeslead.config import BayesConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from tests.conftest import REFERENCE

FOLDER = REFERENCE / "ml_corpus" / "demo_twolevel_covariates"


@pytest.mark.parametrize("engine", ["bayes", "sem"])
def test_lavaan_tutorial_model_is_refused_with_a_statement(engine):
    config = RunConfig(
        name="demo",
        engine=engine,
        data={"cluster": "cluster"},
        model=(FOLDER / "model.lav").read_text(),
    )
    with pytest.raises(InputError):
        build_spec(config)


def test_observed_covariates_in_the_bayesian_two_level_model_are_refused():
    spec = build_spec(
        RunConfig(
            name="demo",
            engine="bayes",
            data={"cluster": "cluster"},
            constructs={"fw": ["y1", "y2", "y3"]},
            observed=["x1", "x2", "x3"],
            paths={"fw": ["x1", "x2", "x3"]},
        )
    )
    frame = pd.read_csv(FOLDER / "data.csv")
    data = ResponseData(frame=frame, raw=frame, path=FOLDER / "data.csv", sha256="", ranges={})
    with pytest.raises(InputError, match=r"observed covariates in two-level models \(x1, x2, x3\)"):
        TwoLevel().prepare(spec, data, BayesConfig())
