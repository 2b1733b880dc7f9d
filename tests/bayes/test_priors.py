"""The prior grammar, defaults and per-parameter overrides."""

from __future__ import annotations

import pytest

from bayeslead.bayes.priors import parse_prior, prior_set
from bayeslead.errors import InputError


def test_prior_grammar_and_overrides():
    assert str(parse_prior("normal(0, 0.5)")) == "normal(0, 0.5)"
    priors = prior_set(
        {"paths": "normal(0, 0.5)", "SENS ~ TL": "normal(0.3, 0.1)"}, {"SENS ~ TL", "TL =~ tl1"}
    )
    assert str(priors.for_parameter("SENS ~ TL", "paths")) == "normal(0.3, 0.1)"
    assert str(priors.for_parameter("SEIZ ~ SENS", "paths")) == "normal(0, 0.5)"
    for bad, message in [
        ({"paths": "normal(0)"}, "normal takes 2 argument(s)"),
        ({"paths": "uniform(0, 1)"}, "cannot read prior 'uniform(0, 1)'"),
        ({"residual_sd": "normal(0, 1)"}, "does not fit a positive-valued parameter"),
        ({"loadngs": "normal(0, 1)"}, "unknown prior class"),
        ({"BI ~ TL": "normal(0, 1)"}, "not a free parameter of the model"),
        ({"paths": "normal(0, -1)"}, "needs positive scale"),
    ]:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            prior_set(bad, {"SENS ~ TL"})
