"""The install-time warm-up (`python -m bayeslead.warmup`) picks the bundled Bayesian configs and
fits them with a token number of draws (the compiled structure does not depend on the draws)."""

from __future__ import annotations

from bayeslead.config import load_config
from bayeslead.warmup import bundled_configs, token_config


def test_default_warm_up_is_the_continuous_single_level_configs():
    names = [p.stem for p in bundled_configs()]
    assert names == [
        "holzinger1939_bayes",
        "tl_dc_bi_bayes",
        "tl_dc_bi_bayes_full_mediation",
        "tl_dc_bi_bayes_parallel",
        "tl_dc_bi_moderated_bayes",
    ]
    every = [p.stem for p in bundled_configs(every=True)]
    assert set(names) < set(every)
    assert {"tl_dc_bi_bayes_ordinal", "tl_dc_bi_hierarchical"} < set(every)
    assert all(load_config(p).engine == "bayes" for p in bundled_configs(every=True))


def test_token_config_changes_only_the_draws():
    config = load_config(bundled_configs()[0])
    token = token_config(config)
    assert (token.bayes.chains, token.bayes.draws, token.bayes.tune, token.bayes.loo) == (
        2,
        10,
        10,
        False,
    )
    changed = {"chains", "draws", "tune", "loo"}
    assert token.bayes.model_dump(exclude=changed) == config.bayes.model_dump(exclude=changed)
    assert token.model_dump(exclude={"bayes"}) == config.model_dump(exclude={"bayes"})
