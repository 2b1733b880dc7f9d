"""Bayesian `~ 1` (lavaan's saturated mean structure: free intercepts of the manifest
variables, construct intercepts 0) on single-level continuous models, against lavaan 0.6-14
(tests/reference/lavaan_meanstructure, written by its fit_meanstructure.R)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bayeslead.bayes.capabilities import CAPABILITIES
from bayeslead.bayes.engine import family_of
from bayeslead.config import BayesConfig, DiagnosticsConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from tests.conftest import REFERENCE, reference_row, reference_table

FOLDER = "lavaan_meanstructure"
DATA = {"hs_means": "hs_data.csv", "hs_predictor": "hs_data.csv"}
DATA["poldem_means"] = "poldem_data.csv"


def spec_and_data(name: str, text: str | None = None, **config):
    frame = reference_table("lavaan_constraints", DATA[name])
    text = text or (REFERENCE / FOLDER / f"{name}.lav").read_text()
    run = RunConfig(name="t", model=text, engine="bayes", **config)
    spec = build_spec(run, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.manifest)].astype(float)
    return spec, ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})


def test_intercepts_are_refused_with_ordinal_items():
    spec, data = spec_and_data("hs_means")
    with pytest.raises(InputError, match="thresholds take their place"):
        family_of(spec).fit(spec, data, BayesConfig(indicators="ordinal"), DiagnosticsConfig())


def test_intercepts_are_refused_by_multi_group_models():
    spec, data = spec_and_data("hs_means")
    grouped = replace(spec, group="school")
    with pytest.raises(InputError, match="single-level models"):
        family_of(grouped).fit(grouped, data, BayesConfig(), DiagnosticsConfig())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DATA))
def test_intercepts_within_one_lavaan_se(name):
    """Every row lavaan estimates within one lavaan SE of its ML value (intercepts
    included), fixed rows equal: the markers and, as lavaan's fixed.x, the observed
    predictor's mean. lavaan fixes the predictor's variance at its sample value while the
    Bayesian engine samples it, so `ageyr ~~ ageyr` is left out."""
    spec, data = spec_and_data(name)
    settings = BayesConfig(chains=4, draws=1000, tune=1000, seed=2)
    result = family_of(spec).fit(spec, data, settings, DiagnosticsConfig(), progress=False)
    assert result.diagnostics["passed"], result.diagnostics["advice"]
    est = reference_table(FOLDER, f"{name}_estimates.csv").fillna({"rhs": ""})
    rows = result.estimates[result.estimates.op.isin(["=~", "~", "~~", "~1"])]
    means = rows[rows.op == "~1"]
    assert list(means.lhs) == list(spec.manifest)
    compared = 0
    for _, row in rows.iterrows():
        if (row.lhs, row.op) == ("ageyr", "~~"):
            continue
        ref = reference_row(est, row.lhs, row.op, row.rhs)
        assert abs(row.est - ref.est) <= max(ref.se, 1e-9), f"{row.lhs} {row.op} {row.rhs}"
        compared += 1
    assert compared == len(rows) - (name == "hs_predictor")
