"""The Bayesian engine on lavaan-syntax models with equality constraints and `:=` definitions:
constrained models are sampled on lavaan's marker metric (one random variable per equality
class), and the posterior means agree with lavaan's ML within one lavaan SE
(tests/reference/lavaan_constraints, lavaan 0.6-14, written by its fit_constrained.R)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bayeslead.bayes.capabilities import (
    CAPABILITIES,
    needs_marker_metric,
    samples_marker_metric,
)
from bayeslead.bayes.engine import family_of
from bayeslead.bayes.recipe import make_setup
from bayeslead.config import BayesConfig, DiagnosticsConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from tests.conftest import REFERENCE, reference_row, reference_table

FOLDER = "lavaan_constraints"
DATA = {"hs_equal": "hs_data.csv", "poldem_labels": "poldem_data.csv"}
DATA["poldem_contrast"] = "poldem_data.csv"


def spec_and_data(name: str, **data_settings):
    frame = reference_table(FOLDER, DATA[name])
    text = (REFERENCE / FOLDER / f"{name}.lav").read_text()
    config = RunConfig(name="t", model=text, engine="bayes", **data_settings)
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.manifest)].astype(float)
    return spec, ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})


def test_constrained_models_sample_the_marker_metric():
    """Shared labels make the marker table the sampled one (20 free parameters for hs_equal,
    lavaan's npar). Labels naming one parameter and `:=` need no constraint, but a single-level
    continuous model that has them is sampled on the marker metric too (its priors on lavaan's
    scale, `bayes.capabilities`); ordinal items and unlabelled models keep the standardised
    sampler."""
    spec, _ = spec_and_data("hs_equal")
    assert needs_marker_metric(spec) and samples_marker_metric(spec, BayesConfig())
    setup = make_setup(spec, BayesConfig())
    assert setup.on_marker_metric and setup.table.n_free == 20
    assert str(setup.priors.classes["loadings"]) == "normal(0, 2)"
    contrast, _ = spec_and_data("poldem_contrast")
    assert not needs_marker_metric(contrast)
    assert samples_marker_metric(contrast, BayesConfig())
    assert make_setup(contrast, BayesConfig()).on_marker_metric
    ordinal = BayesConfig(indicators="ordinal")
    assert not samples_marker_metric(contrast, ordinal)
    plain = replace(contrast, settings=(), definitions=())
    assert not samples_marker_metric(plain, BayesConfig())


def test_constraints_are_refused_where_the_marker_metric_is_not_sampled():
    spec, data = spec_and_data("hs_equal")
    with pytest.raises(InputError, match="continuous indicators"):
        family_of(spec).fit(spec, data, BayesConfig(indicators="ordinal"), DiagnosticsConfig())


def _fit(name: str):
    spec, data = spec_and_data(name)
    settings = BayesConfig(chains=4, draws=1000, tune=1000, seed=2)
    return family_of(spec).fit(spec, data, settings, DiagnosticsConfig(), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hs_equal", "poldem_labels"])
def test_constrained_posterior_within_one_lavaan_se(name):
    result = _fit(name)
    assert result.diagnostics["passed"], result.diagnostics["advice"]
    est = reference_table(FOLDER, f"{name}_estimates.csv")
    rows = result.estimates[result.estimates.op.isin(["=~", "~", "~~"])]
    assert len(rows) == len(est)
    for _, row in rows.iterrows():
        ref = reference_row(est, row.lhs, row.op, row.rhs)
        assert abs(row.est - ref.est) <= max(ref.se, 1e-9), f"{row.lhs} {row.op} {row.rhs}"
    equal = rows[rows.label != ""].groupby("label").est.nunique()
    assert (equal == 1).all()  # rows of one label share every draw


@pytest.mark.slow
def test_defined_parameters_within_one_lavaan_se():
    """`:=` indirect, total and contrast (posterior mean, SD, ETI per draw on the marker
    metric) and every parameter row, against lavaan's ML and delta-method SEs."""
    result = _fit("poldem_contrast")
    assert result.diagnostics["passed"], result.diagnostics["advice"]
    est = reference_table(FOLDER, "poldem_contrast_estimates.csv")
    defined = result.effects[result.effects.kind == "defined"].set_index("effect")
    for name in ("indirect", "total", "contrast"):
        ref = est[(est.op == ":=") & (est.lhs == name)].iloc[0]
        assert abs(defined.loc[name, "est"] - ref.est) <= ref.se, name
        assert defined.loc[name, "ci_lower"] < ref.est < defined.loc[name, "ci_upper"]
        np.testing.assert_allclose(defined.loc[name, "se"], ref.se, rtol=0.25)
    rows = result.estimates[result.estimates.op.isin(["=~", "~", "~~"])]
    assert len(rows) == len(est[est.op.isin(["=~", "~", "~~"])])
    for _, row in rows.iterrows():  # every row, dem65 ~~ dem65 (lavaan 0.17, SE 0.21) included
        ref = reference_row(est, row.lhs, row.op, row.rhs)
        assert abs(row.est - ref.est) <= max(ref.se, 1e-9), f"{row.lhs} {row.op} {row.rhs}"
