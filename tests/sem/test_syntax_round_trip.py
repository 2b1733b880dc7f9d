"""The bundled study fitted by ML from its YAML form and from its own model.lav (`model:`)
gives identical numbers: estimates, effects, fit measures and bootstrap intervals."""

from __future__ import annotations

import pandas as pd

from bayeslead.config import MODEL_KEYS, RunConfig, load_config
from bayeslead.pipeline import fit, load_inputs
from tests.conftest import ROOT


def syntax_twin(config: RunConfig, model: str) -> RunConfig:
    cleared = {key: type(getattr(config, key))() for key in MODEL_KEYS}
    return RunConfig.model_validate(config.model_dump() | cleared | {"model": model})


def test_bundled_study_from_yaml_and_from_its_model_lav_is_identical():
    config = load_config(ROOT / "configs" / "tl_dc_bi_sem.yaml")
    config = config.model_copy(update={"sem": config.sem.model_copy(update={"bootstrap": 100})})
    from_yaml = load_inputs(config)
    from_lav = load_inputs(syntax_twin(config, from_yaml.spec.to_lavaan()))
    assert from_lav.spec == from_yaml.spec
    a, b = fit(from_yaml, progress=False), fit(from_lav, progress=False)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_frame_equal(a.effects, b.effects)
    pd.testing.assert_frame_equal(a.extra_tables["hypotheses"], b.extra_tables["hypotheses"])
    assert a.fit == b.fit
    assert (a.estimates.op != "r2").sum() == 81 and a.fit["df"] > 0
