"""`bayeslead cmv`: Harman's shares (psych), the CFA marker sequence and the structural
sensitivity equal lavaan 0.6-14 / psych 2.2.9 (tests/reference/cmv_marker: simulated N = 500
with and without a method factor)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bayeslead.config import load_config
from bayeslead.method_variance import run_cmv
from tests.conftest import REFERENCE, ROOT

FOLDER = REFERENCE / "cmv_marker"
CONFIG = """name: cmv_{dataset}
data:
  path: {path}
  scale: [1, 7]
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  SEIZ: [seiz1, seiz2, seiz3, seiz4]
  BI: [bi1, bi2, bi3, bi4]
  MK: [mk1, mk2, mk3, mk4]
paths: {{SENS: [TL], SEIZ: [SENS, TL], BI: [SEIZ, TL]}}
effects: {{serial: [TL, SENS, SEIZ, BI]}}
cmv: {{marker: MK}}
output: {out}
"""


def write_config(tmp: Path, dataset: str) -> Path:
    path = tmp / f"{dataset}.yaml"
    path.write_text(CONFIG.format(dataset=dataset, path=FOLDER / f"data_{dataset}.csv", out=tmp))
    return path


@pytest.fixture(scope="module", params=["method", "nomethod"])
def checked(request, tmp_path_factory):
    config = load_config(write_config(tmp_path_factory.mktemp("cmv"), request.param))
    return request.param, run_cmv(config)


def test_harman_shares_equal_psych(checked):
    dataset, result = checked
    ref = pd.read_csv(FOLDER / "harman.csv")
    ref = ref[(ref.dataset == dataset) & (ref["items"] == "substantive16")].iloc[0]
    harman = result.summary[result.summary.section == "harman"].set_index("name")["value"]
    assert harman["first principal component"] == pytest.approx(ref.principal_prop_var, abs=1e-6)
    assert harman["principal-axis factor"] == pytest.approx(ref.fa_pa_prop_var, abs=1e-6)


def test_marker_models_and_comparisons_equal_lavaan(checked):
    dataset, result = checked
    fits = pd.read_csv(FOLDER / "fit_summary.csv")
    fits = fits[fits.dataset == dataset].set_index("model")
    models = result.models.set_index("model")
    names = {"cfa": "cfa4", "sem_marker": "sem_marker_u"}
    expected = ["one_factor", "cfa", "cfa_marker", "baseline", "method_u", "method_r"]
    expected += ["sem_plain", "sem_marker"]
    expected += ["method_c", "sem_ulmc", "ulmc_cfa"]
    for model in expected:
        ref = fits.loc[names.get(model, model)]
        assert models.loc[model, "chisq"] == pytest.approx(ref.chisq, abs=0.01), model
        assert models.loc[model, "df"] == ref.df, model
        assert models.loc[model, "converged"]
    comparisons = pd.read_csv(FOLDER / "comparisons.csv")
    comparisons = comparisons[comparisons.dataset == dataset]
    ours = result.tests.set_index("comparison")
    for _, ref in comparisons.iterrows():
        name = ref.comparison.replace(" (Harman CFA)", "").replace("cfa4", "cfa")
        assert ours.loc[name, "chisq_diff"] == pytest.approx(ref.chisq_diff, abs=0.01), name
        assert ours.loc[name, "df_diff"] == ref.df_diff, name


def test_structural_effects_under_each_correction_equal_lavaan(checked):
    dataset, result = checked
    ref = pd.read_csv(FOLDER / "structural_effects.csv")
    ref = ref[ref.dataset == dataset]
    effects = result.effects
    for model, ours in (("sem_plain", "plain"), ("sem_marker_u", "marker")):
        rows = ref[ref.model == model].set_index("parameter")
        serial = effects[(effects.model == ours) & (effects.effect == "serial")]
        serial = serial[serial.kind == "indirect"].iloc[0]
        assert serial.est == pytest.approx(rows.loc["ind_serial", "est"], abs=1e-3)
        assert serial.std_est == pytest.approx(rows.loc["ind_serial", "est.std"], abs=1e-3)
        paths = effects[(effects.model == ours) & (effects.kind == "path")].set_index("effect")
        for name, key in (("a", "SENS ~ TL"), ("b", "SEIZ ~ SENS"), ("c", "BI ~ SEIZ")):
            assert paths.loc[key, "est"] == pytest.approx(rows.loc[name, "est"], abs=1e-3)
    assert (
        "serial" in result.sentence and "0.093" in result.sentence if dataset == "method" else True
    )


def test_cmv_command_writes_cmv_csv_and_report(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "cmv", str(write_config(tmp_path, "method"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert {"cmv.csv", "cmv_tests.csv", "report.html", "manifest.json"} <= {
        p.name for p in folder.iterdir()
    }
    summary = pd.read_csv(folder / "cmv.csv")
    assert set(summary.section) >= {"harman", "model", "test", "effect"}
    assert "standardised indirect effect" in (folder / "report.html").read_text()


def test_cmv_without_a_marker_names_the_key(tmp_path):
    config = write_config(tmp_path, "method")
    config.write_text(config.read_text().replace("cmv: {marker: MK}\n", ""))
    done = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "cmv", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 2 and "cmv.marker" in done.stderr
    assert "Traceback" not in done.stderr


RECOVERY = """name: recovery_{method}
data: {{path: {data}, id: respondent_id, scale: [1, 7]}}
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  SEIZ: [seiz1, seiz2, seiz3, seiz4]
  BI: [bi1, bi2, bi3, bi4]
  MK: [mk1, mk2, mk3, mk4]
paths: {{SENS: [TL], SEIZ: [SENS, TL], BI: [SEIZ, TL]}}
effects: {{serial: [TL, SENS, SEIZ, BI]}}
cmv: {{marker: MK}}
truth:
  loadings: {{{loadings}}}
  paths: {{SENS ~ TL: 0.5, SEIZ ~ SENS: 0.45, SEIZ ~ TL: 0.1, BI ~ SEIZ: 0.4, BI ~ TL: 0.15}}
  method: {method}
output: {out}
"""
TRUE_SERIAL = 0.5 * 0.45 * 0.4


def serial_under_corrections(
    tmp: Path, method: float, marker_share: float | None = None, bayes: bool = False
) -> dict[str, float]:
    """Simulate 20,000 respondents (the marker's items too) and return the standardised serial
    effect of the plain, marker-corrected and ULMC models. `marker_share`: the method factor's
    share of the marker items' common variance (`truth.method_share`; 1 = the ideal marker,
    whose latent variable is the method factor); None: the marker's items measure their own
    trait (loadings 0.75-0.65) and load `method` like every other item. `bayes`: with the
    Bayesian method factor too (`engine: bayes`)."""
    weights = dict(zip(range(1, 5), (0.8, 0.75, 0.7, 0.65), strict=True))
    loadings = [f"{c}{k}: {v}" for c in ("tl", "sens", "seiz", "bi") for k, v in weights.items()]
    loadings += [f"mk{k}: {v}" for k, v in zip(range(1, 5), (0.75, 0.7, 0.7, 0.65), strict=True)]
    tag = f"{method}_{marker_share}"
    data = tmp / f"data_{tag}.csv"
    config = tmp / f"recovery_{tag}.yaml"
    text = RECOVERY.format(method=method, data=data, loadings=", ".join(loadings), out=tmp)
    if marker_share is not None:
        text = text.replace("  method:", f"  method_share: {{MK: {marker_share}}}\n  method:")
    if bayes:
        text += "engine: bayes\n"
    config.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "simulate", str(config), "--n", "20000"]
        + ["--seed", "4", "-o", str(data)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert {"mk1", "mk4"} <= set(pd.read_csv(data, nrows=1).columns)  # the marker is simulated
    effects = run_cmv(load_config(config)).effects
    serial = effects[(effects.effect == "serial") & (effects.kind == "indirect")]
    return dict(zip(serial.model, serial.std_est, strict=True))


def test_method_factor_biases_the_serial_effect_and_the_ulmc_recovers_it(tmp_path):
    with_method = serial_under_corrections(tmp_path, 0.4)
    assert with_method["plain"] - TRUE_SERIAL >= 0.04
    assert abs(with_method["ulmc"] - TRUE_SERIAL) <= 0.02
    # a marker measuring its own trait carries the method only in proportion to its latent's
    # correlation with the method factor (r^2 about 0.25 here): measured 0.134, bias 0.044
    assert with_method["marker"] == pytest.approx(0.134, abs=0.002)
    without = serial_under_corrections(tmp_path, 0.0)
    assert abs(without["plain"] - TRUE_SERIAL) < 0.01
    for model in ("marker", "ulmc"):
        assert abs(without[model] - without["plain"]) < 0.01, model


def test_an_ideal_marker_brings_the_serial_effect_back_to_the_truth(tmp_path):
    """The CFA marker technique's assumption met: the marker's latent variable is the method
    factor (`truth.method_share: {MK: 1}`)."""
    ideal = serial_under_corrections(tmp_path, 0.4, marker_share=1.0)
    assert ideal["plain"] - TRUE_SERIAL >= 0.04
    assert abs(ideal["marker"] - TRUE_SERIAL) <= 0.02
    assert abs(ideal["ulmc"] - TRUE_SERIAL) <= 0.02
    without = serial_under_corrections(tmp_path, 0.0, marker_share=1.0)
    for model in ("marker", "ulmc"):
        assert abs(without[model] - without["plain"]) < 0.01, model


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["method", "nomethod"])
def test_bayesian_method_factor_passes_the_gates_at_the_default_settings(tmp_path, dataset):
    """The signed, real-line method loading (prior halfnormal(0.5) reflected), low-rank metric,
    4 x 1000 draws: every gate passes on the reference data with and without a method factor
    (loading 0.35); measured max R-hat 1.005 / 1.005, min bulk ESS 1,073 / 1,635."""
    config = write_config(tmp_path, dataset)
    config.write_text(config.read_text() + "engine: bayes\n")
    result = run_cmv(load_config(config))
    bayes = result.summary[result.summary.section == "bayes"].set_index(["name", "statistic"])
    gates = bayes.loc["all parameters", "value"]
    assert gates["gates passed"] == 1.0
    assert gates["max rhat"] <= 1.01 and gates["min ess_bulk"] >= 400
    assert gates["divergences"] == 0
    loading = bayes.value[bayes.index.get_level_values(1) == "posterior mean"].iloc[0]
    effects = result.effects
    serial = effects[(effects.effect == "serial") & (effects.kind == "indirect")]
    serial = serial.set_index("model").std_est
    assert "bayes" in serial.index  # converged: not labelled "bayes (not converged)"
    # measured: loading 0.366 / 0.155, serial 0.046 / 0.045 (plain 0.093 / 0.056)
    expected = {"method": (0.366, 0.046), "nomethod": (0.155, 0.045)}[dataset]
    assert loading == pytest.approx(expected[0], abs=0.02)
    assert serial["bayes"] == pytest.approx(expected[1], abs=0.01)


@pytest.mark.slow
def test_bayesian_method_factor_recovers_the_serial_effect(tmp_path):
    """Measured: 0.084 (truth 0.090), method loading 0.396 (truth 0.4); without a method
    factor 0.084 against the plain ML 0.088 (loading 0.08); every gate passed in both."""
    with_method = serial_under_corrections(tmp_path, 0.4, bayes=True)
    assert abs(with_method["bayes"] - TRUE_SERIAL) <= 0.02
    without = serial_under_corrections(tmp_path, 0.0, bayes=True)
    assert "bayes" in without  # converged: not labelled "bayes (not converged)"
    assert abs(without["bayes"] - without["plain"]) < 0.01
