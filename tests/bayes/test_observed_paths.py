"""Bayesian fits of path models on observed variables (tests/reference/ml_corpus, lavaan 0.6-14):
PROCESS model 4 on psych::Tal_Or and Holzinger-Swineford factors regressed on single-item
observed controls. Posterior means are within one lavaan SE of lavaan's ML estimates."""

from __future__ import annotations

import pandas as pd
import pytest

from bayeslead.pipeline import fit_to_run_folder
from tests.conftest import REFERENCE

CORPUS = REFERENCE / "ml_corpus"


def _fit(tmp_path, folder: str, model: str):
    config = tmp_path / f"{folder}.yaml"
    config.write_text(
        f"name: {folder}\ndata: {{path: {CORPUS / folder / 'data.csv'}}}\n{model}"
        "engine: bayes\nbayes: {chains: 2, draws: 1000, tune: 1000}\n"
    )
    return fit_to_run_folder(config, out=tmp_path / "out", progress=False)[1]


def _within_one_se(result, folder: str) -> None:
    lavaan = pd.read_csv(CORPUS / folder / "estimates.csv", keep_default_na=False)
    est = result.estimates
    for _, ref in lavaan[lavaan.op.isin(["=~", "~"]) & (lavaan.se != "0")].iterrows():
        row = est[(est.lhs == ref.lhs) & (est.op == ref.op) & (est.rhs == ref.rhs)].iloc[0]
        assert abs(row.est - float(ref.est)) <= float(ref.se), (ref.lhs, ref.op, ref.rhs)


@pytest.mark.slow
def test_process_model_4_on_observed_scores(tmp_path):
    """lavaan: ind = a*b = 0.2413 (delta-method SE 0.1269)."""
    result = _fit(
        tmp_path,
        "tal_or_mediation",
        "observed: [cond, pmi, reaction]\npaths: {pmi: [cond], reaction: [pmi, cond]}\n"
        "effects: {ind: [cond, pmi, reaction]}\n",
    )
    assert result.diagnostics["passed"]
    _within_one_se(result, "tal_or_mediation")
    ind = result.effects.set_index(["effect", "kind"]).loc[("ind", "indirect")]
    assert abs(ind.est - 0.24133546) <= 0.12689749
    assert result.reliability is None and result.htmt is None


@pytest.mark.slow
def test_single_item_controls_beside_latent_constructs(tmp_path):
    result = _fit(
        tmp_path,
        "observed_with_latent",
        "constructs: {visual: [x1, x2, x3], textual: [x4, x5, x6], speed: [x7, x8, x9]}\n"
        "observed: [ageyr, sex]\npaths: {visual: [ageyr], textual: [visual, ageyr], "
        "speed: [visual, textual, ageyr, sex]}\n",
    )
    assert result.diagnostics["passed"]
    _within_one_se(result, "observed_with_latent")
