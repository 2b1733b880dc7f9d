"""Continuous Bayesian fits with blank answers: the run works at any share of blanks, and the
posterior agrees with lavaan's FIML (tests/reference/fiml_serial)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bayeslead.pipeline import fit_to_run_folder
from tests.conftest import REFERENCE, reference_row, reference_table

FIXTURES = REFERENCE.parent / "fixtures" / "configs"


def _config(tmp_path, blanks: str, bayes: str = "") -> object:
    """The serial-mediation fixture on the fiml_serial data with `blanks` (mcar05, mcar20)."""
    text = (FIXTURES / "serial_bayes.yaml").read_text()
    text = text.replace(
        "../../reference/serial_mediation/data.csv",
        str(REFERENCE / "fiml_serial" / f"data_{blanks}.csv"),
    )
    if bayes:
        text = text.replace("engine: bayes", f"engine: bayes\nbayes: {bayes}")
    config = tmp_path / f"{blanks}.yaml"
    config.write_text(text)
    return config


def test_short_fit_with_a_fifth_of_the_answers_blank(tmp_path):
    """20% blanks leave one complete row of 400: the fit, its item checks (replicated with the
    observed blanks) and PSIS-LOO still run, and the serial indirect effect is near lavaan's
    FIML estimate (0.0419, SE 0.0118)."""
    config = _config(tmp_path, "mcar20", "{chains: 2, draws: 300, tune: 300, loo: true}")
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    assert "FIML" in result.info["missing"]
    # nutpie's entry points came from the per-machine cache (or were compiled into it); a hit may
    # say why the graphs were rewritten (e.g. a cache written before the structure index)
    assert result.info["compile_cache"].split(" (")[0] in ("hit", "miss")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["info"]["compile_cache"] == result.info["compile_cache"]
    effect = result.effects.set_index(["effect", "kind"]).loc[("ind_serial", "indirect")]
    assert abs(effect.est - 0.0419) < 0.0118
    items = result.extra_tables["ppc_items"]
    assert np.all(items.replicated_mean_lower < items.replicated_mean_upper)
    assert result.fit["elpd_loo"] < 0


@pytest.mark.slow
@pytest.mark.parametrize("blanks", ["mcar05", "mcar20"])
def test_posterior_means_within_one_lavaan_se_of_fiml(tmp_path, blanks):
    """Every loading, path, (co)variance and defined effect: |posterior mean - lavaan FIML
    estimate| < lavaan's SE (R: sem(model, data, missing = "ml"), make.R)."""
    _, result = fit_to_run_folder(_config(tmp_path, blanks), out=tmp_path / "out", progress=False)
    assert result.diagnostics["passed"]
    lavaan = reference_table("fiml_serial", f"estimates_{blanks}_fiml.csv")
    compared = 0
    for _, row in result.estimates[result.estimates.op.isin(["=~", "~", "~~", ":="])].iterrows():
        if row.op == ":=":  # effects: lavaan's ind_serial, ind_tl_seiz and total (direct = cp)
            if row.lhs.endswith("_direct"):
                continue
            name = "total" if row.lhs.endswith("_total") else row.lhs
            ref = lavaan[(lavaan.lhs == name) & (lavaan.op == ":=")].iloc[0]
        else:
            ref = reference_row(lavaan, row.lhs, row.op, row.rhs)
        if ref.se > 0:
            assert abs(row.est - ref.est) < ref.se, f"{row.lhs} {row.op} {row.rhs}"
            compared += 1
    assert compared >= 50
