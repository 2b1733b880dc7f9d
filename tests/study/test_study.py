"""Simulation studies: seeds, true values, summaries, a real 2-worker Dask LocalCluster,
resume, failure records, compile-once Bayesian replicates, and SBC (slow)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from bayeslead.bayes.models.single.summaries import ystar_variances
from bayeslead.core.conditional import imm_draws
from bayeslead.core.partable import build_partable, marker_scales, rescale, rescale_matrices
from bayeslead.errors import InputError
from bayeslead.simulate import standardized_matrices
from bayeslead.study import simulation_study
from bayeslead.study.design import (
    SBC_DRAWS,
    prepare_study,
    replicate_seed,
    replicates,
    true_parameters,
)
from bayeslead.study.replicate import run_replicate
from bayeslead.study.runner import RECORDS, read_records
from bayeslead.study.summary import (
    monotone_violations,
    power_table,
    recovery_table,
    sbc_table,
)
from tests.conftest import ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "configs"
SERIAL = FIXTURES / "serial.yaml"
SERIAL_BAYES = FIXTURES / "serial_bayes.yaml"
HOLZINGER_BAYES = FIXTURES / "holzinger_bayes.yaml"


def test_replicate_seeds_depend_only_on_study_seed_n_and_rep():
    design, _ = prepare_study(SERIAL, "power", [100, 200], 3, seed=5, engine="sem")
    seeds = {r.key: r.seed for r in replicates(design)}
    assert len(set(seeds.values())) == 6
    assert seeds[(200, 1)] == replicate_seed(5, 200, 1)
    other, _ = prepare_study(SERIAL, "power", [200, 800], 3, seed=5, engine="sem")
    assert {r.key: r.seed for r in replicates(other)}[(200, 1)] == seeds[(200, 1)]
    assert replicate_seed(6, 200, 1) != seeds[(200, 1)]


def test_true_parameters_closed_form_for_equal_loadings():
    """With every standardised loading 0.75 and unit-variance responses, lavaan's marker metric
    has loadings 1, residual variances 1 - 0.75^2, exogenous variance 0.75^2, structural paths
    equal to the standardised ones and the serial indirect effect the product of its paths."""
    _, model = prepare_study(SERIAL, "recovery", [300], 2, seed=1, engine="sem")
    truth = model.true_values
    assert_allclose(truth["TL =~ tl2"], 1.0, atol=1e-8)
    assert_allclose(truth["sens3 ~~ sens3"], 1 - 0.75**2, atol=1e-8)
    assert_allclose(truth["TL ~~ TL"], 0.75**2, atol=1e-8)
    assert_allclose(truth["SEIZ ~ SENS"], 0.45, atol=1e-8)
    assert_allclose(truth["ind_serial"], 0.5 * 0.45 * 0.55 * 0.40, atol=1e-8)
    # SENS: variance explained 0.5^2, residual (1 - 0.25) * 0.75^2 on the marker metric
    assert_allclose(truth["SENS ~~ SENS"], 0.75 * 0.75**2, atol=1e-8)


def test_true_parameters_rescale_unequal_loadings():
    """Marker loading = lambda_j / lambda_1 and path = beta * lambda_out1 / lambda_in1."""
    _, model = prepare_study(SERIAL, "recovery", [300], 2, seed=1, engine="sem")
    loadings = {f"tl{i}": 0.75 for i in range(1, 5)} | {"tl1": 0.6, "sens1": 0.9}
    truth = true_parameters(model.spec, model.truth.model_copy(update={"loadings": loadings}))
    assert_allclose(truth["TL =~ tl2"], 0.75 / 0.6, atol=1e-8)
    assert_allclose(truth["SENS ~ TL"], 0.5 * 0.9 / 0.6, atol=1e-8)


def test_power_table_counts_intervals_excluding_zero_with_monte_carlo_error():
    records = [
        {"n": 100, "rep": i, "status": "ok", "effects": {"ind": [0.1, lo, 0.3, 0.1]}}
        for i, lo in enumerate([0.05, -0.01, 0.02, -0.2])
    ] + [{"n": 100, "rep": 4, "status": "failed", "error": "x"}]
    for record, supported in zip(records, [True, True, True, False, True], strict=True):
        record["hypotheses"] = {"H1": supported}
    table = power_table(records).set_index(["target", "name"])
    row = table.loc["effect", "ind"]
    assert row.replicates == 4 and row.power == 0.5
    assert np.isnan(row.mcse)  # 4 replicates: below MIN_REPLICATES, no Monte Carlo SE
    enough = power_table(records[:4] * 5).set_index(["target", "name"]).loc["effect", "ind"]
    assert_allclose(enough.mcse, np.sqrt(0.25 / 20))
    hypothesis = table.loc["hypothesis", "H1"]  # the failed replicate is not counted
    assert hypothesis.replicates == 4 and hypothesis.power == 0.75


def test_monotone_violations_flag_only_drops_beyond_monte_carlo_error():
    records = []
    for n, hits in [(100, 10), (200, 40), (400, 38)]:
        for i in range(50):
            lower = 0.01 if i < hits else -0.01
            records.append({"n": n, "rep": i, "status": "ok", "effects": {"e": [0, lower, 1, 0]}})
    assert monotone_violations(power_table(records)) == []  # 0.80 -> 0.76 is within MC error
    records += [
        {"n": 800, "rep": i, "status": "ok", "effects": {"e": [0, -0.01, 1, 0]}} for i in range(50)
    ]
    assert monotone_violations(power_table(records)) == [
        "effect e: power 0.760 at n = 400 but 0.000 at n = 800"
    ]


def test_recovery_table_bias_rmse_and_coverage():
    estimates = [(0.9, 0.8, 1.05), (1.1, 1.02, 1.2), (1.0, 0.9, 1.1), (1.2, 1.1, 1.3)]
    records = [
        {"n": 50, "rep": i, "status": "ok", "parameters": {"a": list(e)}}
        for i, e in enumerate(estimates)
    ]
    row = recovery_table(records, {"a": 1.0}).iloc[0]
    assert_allclose(row.bias, 0.05)
    assert_allclose(row.rmse, np.sqrt((0.01 + 0.01 + 0 + 0.04) / 4))
    assert row.coverage == 0.5


def test_sbc_table_passes_uniform_ranks_and_fails_skewed_ones():
    rng = np.random.default_rng(3)
    records = [
        {
            "n": 100,
            "rep": i,
            "status": "ok",
            "ranks": {"uniform": int(rng.integers(0, SBC_DRAWS + 1)), "skewed": int(i % 20)},
        }
        for i in range(200)
    ]
    table = sbc_table(records, SBC_DRAWS).set_index("parameter")
    assert table.loc["uniform", "passes"]
    assert not table.loc["skewed", "passes"]
    assert_allclose(table.loc["uniform", "threshold"], 0.01 / 2)


def test_power_study_on_a_two_worker_local_cluster_resumes_and_is_reproducible(tmp_path):
    """A real LocalCluster with 2 workers; ML engine on the serial-mediation truth. A study
    run as 5 replicates and resumed to 8 equals the replicates computed one by one here."""
    out = tmp_path / "study"
    part = simulation_study(
        "power", SERIAL, [100, 400], 5, seed=11, engine="sem", out=out, workers=2, progress=False
    )
    head = (part.folder / RECORDS).read_text()
    summary = simulation_study(
        "power", SERIAL, [100, 400], 8, seed=11, engine="sem", out=out, resume=True,
        workers=2, progress=False,
    )  # fmt: skip
    assert (summary.folder / RECORDS).read_text().startswith(head)
    assert summary.counts.ok.tolist() == [8, 8] and summary.failed == 0
    for name in ("power.csv", "power_curve.png", "report.md", "summary.json", "failures.csv"):
        assert (summary.folder / name).is_file()
    assert "Truth: the truth block of serial.yaml" in (summary.folder / "report.md").read_text()
    power = summary.table.set_index(["target", "name", "n"]).power
    assert power["effect", "ind_serial", 400] > power["effect", "ind_serial", 100]
    assert power["effect", "ind_serial", 400] >= 0.75

    design, model = prepare_study(SERIAL, "power", [100, 400], 8, seed=11, engine="sem")
    expected = {r.key: run_replicate(model, r)["effects"] for r in replicates(design)}
    records = read_records(summary.folder)
    assert len(records) == 16
    for record in records:
        assert record["effects"] == expected[record["n"], record["rep"]]

    with pytest.raises(InputError, match="already holds a study; pass --resume"):
        simulation_study("power", SERIAL, [100], 2, seed=11, engine="sem", out=out)
    with pytest.raises(InputError, match="seed: saved 11, now 12"):
        simulation_study("power", SERIAL, [100], 2, seed=12, engine="sem", out=out, resume=True)


def test_resume_after_a_line_cut_short_keeps_every_replicate(tmp_path):
    """An interruption can leave half a record as the last line: resuming drops it, reruns that
    replicate, and keeps every other record; records outside the current design are ignored."""
    from bayeslead.study.runner import run_study

    design, model = prepare_study(SERIAL, "power", [100], 3, seed=2, engine="sem")
    folder = tmp_path / "study"
    folder.mkdir()
    first, second, third = (run_replicate(model, r) for r in replicates(design))
    stale = dict(first, n=999)  # e.g. from a sample size no longer in the design
    lines = [json.dumps(r) for r in (stale, first, second)]
    (folder / RECORDS).write_text("\n".join(lines) + "\n" + json.dumps(third)[:40])
    records = run_study(design, model, folder, workers=1, progress=False)
    assert sorted((r["n"], r["rep"]) for r in records) == [(100, 0), (100, 1), (100, 2)]
    assert [r for r in records if r["rep"] == 2][0]["effects"] == third["effects"]
    assert len(read_records(folder)) == 4  # the stale record is kept in the file, not used


def test_model_digest_is_stable_and_names_what_replicates_depend_on():
    """The digest identifies compiled models and resumable studies, so it must not change
    between processes (no pickling of hash-ordered state) and must change with the model."""
    import subprocess
    import sys

    code = (
        "from bayeslead.study.design import prepare_study;"
        f"print(prepare_study({str(SERIAL)!r}, 'power', [100], 2, seed=1, engine='sem')[1].token)"
    )
    tokens = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        for _ in range(2)
    }
    _, model = prepare_study(SERIAL, "power", [100], 2, seed=1, engine="sem")
    assert tokens == {model.token + "\n"}
    _, other = prepare_study(SERIAL, "power", [100], 2, seed=1, engine="sem", bootstrap=100)
    assert other.token != model.token


def test_failed_replicate_is_recorded_with_its_error():
    design, model = prepare_study(SERIAL, "power", [50], 1, seed=1, engine="sem")
    broken = replace(model, scales={})  # Likert responses without item scales
    record = run_replicate(broken, replicates(design)[0])
    assert record["status"] == "failed"
    assert record["error"].startswith("KeyError") and "tl1" in record["error"]


def test_bayesian_replicates_compile_once_per_worker_and_recover_the_paths(tmp_path, monkeypatch):
    """Two replicates in one process: the second re-uses the compiled model (compile_s 0). An
    empty nutpie cache, so the first replicate compiles whatever this machine compiled before."""
    monkeypatch.setenv("BAYESLEAD_NUTPIE_CACHE", str(tmp_path))
    design, model = prepare_study(SERIAL_BAYES, "recovery", [400], 2, seed=4)
    model = replace(model, bayes=model.bayes.model_copy(update={"draws": 300, "tune": 300}))
    first, second = (run_replicate(model, r) for r in replicates(design))
    assert first["status"] == second["status"] == "ok", (first, second)
    assert first["compile_s"] > 1.0 and second["compile_s"] == 0.0
    assert first["parameters"] != second["parameters"]  # new data, not a cached fit
    for record in (first, second):
        est, lower, upper = record["parameters"]["SEIZ ~ SENS"]
        assert lower < est < upper and abs(est - 0.45) < 0.2
        assert record["diagnostics"]["divergences"] == 0


def test_study_input_errors():
    with pytest.raises(InputError, match="needs the Bayesian engine with continuous"):
        prepare_study(SERIAL, "sbc", [100], 10, seed=1)
    with pytest.raises(InputError, match="sample sizes must be at least 10"):
        prepare_study(SERIAL, "power", [5], 10, seed=1, engine="sem")
    with pytest.raises(InputError, match="defined only for the Bayesian ordinal model"):
        prepare_study(SERIAL, "recovery", [100], 10, seed=1, engine="sem", responses="likert")
    with pytest.raises(InputError, match="defined only for the Bayesian ordinal model"):
        prepare_study(SERIAL_BAYES, "recovery", [100], 10, seed=1, responses="likert")
    with pytest.raises(InputError, match="no data.cluster"):
        prepare_study(SERIAL, "power", [100], 10, seed=1, engine="sem", cluster_size=5)
    groups = SERIAL.parent / "multigroup.yaml"
    with pytest.raises(InputError, match="data.group: simulation studies of multi-group designs"):
        prepare_study(groups, "power", [100], 10, seed=1, engine="bayes")


@pytest.mark.slow
def test_sbc_of_a_small_cfa_shows_no_gross_miscalibration(tmp_path):
    """60 SBC replicates of the Holzinger-Swineford CFA (n = 200) with the default priors: rank
    uniformity at the Bonferroni level 0.01/k and mean normalised ranks near 1/2."""
    summary = simulation_study(
        "sbc", HOLZINGER_BAYES, [200], 60, seed=7, out=tmp_path / "sbc", workers=2, progress=False
    )
    assert summary.failed == 0
    table = summary.table
    assert len(table) == 21 and table.passes.all(), table
    assert table.mean_rank.between(0.35, 0.65).all(), table
    timing = json.loads((summary.folder / "summary.json").read_text())["timing"]
    assert timing["compilations"] == 2  # once per worker


def test_likert_replicates_of_reverse_keyed_items_are_simulated_keyed():
    """Replicates skip intake, so reverse-keyed items (e.g. in the bundled instrument) must be
    simulated already keyed: every item correlates positively with its construct's others."""
    root = ROOT
    _, model = prepare_study(root / "configs" / "tl_dc_bi_sem.yaml", "power", [400], 1, seed=1)
    assert not any(scale.reverse for scale in model.scales.values())
    from bayeslead.simulate import simulate_responses

    frame = simulate_responses(model.spec, model.truth, model.scales, 400, 3, id_column="")
    for factor in model.spec.factors:
        if factor.order == 1:
            corr = frame[list(factor.indicators)].corr().to_numpy()
            assert (corr > 0).all(), factor.name


@pytest.mark.parametrize("design", ["moderated_first_stage", "moderated_second_stage"])
def test_ordinal_recovery_of_likert_answers_has_the_continuous_truth(design):
    """`study recovery --responses likert` with ordinal indicators: the categories cut the
    simulated unit-variance responses, so the true values are the continuous design's; and the
    ordinal engine's report of the truth itself (theta parameterisation: item residual and
    latent residual variances 1, then y* standardised to total variance 1, the products'
    variance included, and moved to the marker metric) gives back exactly those values."""
    configs = ROOT / "bench" / "configs"
    _, ordinal = prepare_study(
        configs / f"{design}_5pt.yaml", "recovery", [500], 2, seed=1, responses="likert"
    )
    _, continuous = prepare_study(configs / f"{design}.yaml", "recovery", [500], 2, seed=1)
    assert ordinal.responses == "likert" and ordinal.bayes.indicators == "ordinal"
    assert ordinal.true_values == continuous.true_values
    assert "imm_ind" in ordinal.true_values

    spec = ordinal.spec
    _, a, s = standardized_matrices(spec, ordinal.truth)
    variances = np.diagonal(s).copy()  # item residuals 1 - lambda^2, latent disturbances
    variances[variances == 0] = 1.0  # the products: S holds 0, their scale is their parts'
    scales = 1.0 / np.sqrt(variances)
    std = build_partable(spec, "std.lv", unit_residuals=True)
    for product, left, right in std.products:
        scales[product] = scales[left] * scales[right]
    theta_std = rescale_matrices(std, a, s, scales)
    marker = build_partable(spec)
    manifest = 1.0 / np.sqrt(ystar_variances(std, theta_std))
    theta = rescale(std, marker, theta_std, marker_scales(std, theta_std, manifest))
    reported = {q.key: theta[q.free] for q in marker.free_params}
    reported |= imm_draws(spec, marker, theta)
    for key, value in reported.items():
        assert value == pytest.approx(ordinal.true_values[key], abs=1e-10), key


@pytest.mark.slow
def test_ordinal_recovery_study_of_likert_answers_runs_end_to_end(tmp_path):
    """Two replicates of the 5-point first-stage design (n = 200, 2 chains x 150 draws): both
    fit the ordered-probit interaction model and the recovery table compares the index of
    moderated mediation with the continuous truth."""
    source = (ROOT / "bench" / "configs" / "moderated_first_stage_5pt.yaml").read_text()
    small = "bayes: {indicators: ordinal, chains: 2, draws: 150, tune: 150}"
    config = tmp_path / "design.yaml"
    config.write_text(source.replace("bayes: {indicators: ordinal}", small))
    summary = simulation_study(
        "recovery", config, [200], 2, seed=3, responses="likert", out=tmp_path / "study",
        workers=1, progress=False,
    )  # fmt: skip
    assert summary.failed == 0
    _, model = prepare_study(config, "recovery", [200], 2, seed=3, responses="likert")
    row = summary.table.set_index("parameter").loc["imm_ind"]
    assert row.true == pytest.approx(model.true_values["imm_ind"])
    assert np.isfinite(row.mean_est) and row.replicates == 2
