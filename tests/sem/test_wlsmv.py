"""WLSMV for ordinal items in the ML engine against lavaan 0.6-14 + semTools
(tests/reference/ordinal_invariance: make.R, provenance in its README): one group (lavaan's
cfa default), every level of the Wu & Estabrook (2016) threshold ladder on simulated data
(2 x 400, 5-point items, y3's thresholds shifted in group B) and on psych's bfi by gender
(blanks pairwise), lavTestLRT's scaled-shifted difference tests, and lavTestScore /
modindices of the levels' restrictions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import InvarianceConfig, RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.invariance import invariance_to_run_folder
from bayeslead.sem.capabilities import CAPABILITIES
from bayeslead.sem.engine import fit_sem
from bayeslead.sem.ordinal import fit_ordinal, ordinal_estimates, ordinal_samples
from bayeslead.sem.ordinal_ladder import ORDINAL_LEVELS, fit_ordinal_ladder, level_scores
from bayeslead.sem.wlsmv import difference_test
from tests.conftest import REFERENCE, ROOT, reference_table

FOLDER = "ordinal_invariance"
WLSMV = SemConfig(estimator="WLSMV")
DELTA_LEVELS = ["configural", "thresholds", "metric", "scalar"]
# ours: (lavaan's fitMeasures name, absolute tolerance): the targets
MEASURES = {
    "npar": ("npar", 0),
    "chisq": ("chisq", 0.01),
    "df": ("df", 0),
    "chisq_scaled": ("chisq.scaled", 0.01),
    "chisq_scaling_factor": ("chisq.scaling.factor", 0.002),
    "baseline_chisq": ("baseline.chisq", 0.01),
    "baseline_chisq_scaled": ("baseline.chisq.scaled", 0.01),
    "cfi": ("cfi", 0.002),
    "tli": ("tli", 0.002),
    "rmsea": ("rmsea", 0.002),
    "cfi_scaled": ("cfi.scaled", 0.002),
    "tli_scaled": ("tli.scaled", 0.002),
    "rmsea_scaled": ("rmsea.scaled", 0.002),
    "rmsea_ci_lower_scaled": ("rmsea.ci.lower.scaled", 0.002),
    "rmsea_ci_upper_scaled": ("rmsea.ci.upper.scaled", 0.002),
    "srmr": ("srmr", 0.002),
    "rmsea_ci_lower": ("rmsea.ci.lower", 0.002),
    "rmsea_ci_upper": ("rmsea.ci.upper", 0.002),
    "cfi_robust": ("cfi.robust", 0.002),  # lavaan: NA with equalities across groups
    "tli_robust": ("tli.robust", 0.002),
    "rmsea_robust": ("rmsea.robust", 0.002),
    "rmsea_ci_lower_robust": ("rmsea.ci.lower.robust", 0.002),
    "rmsea_ci_upper_robust": ("rmsea.ci.upper.robust", 0.002),
}


def case(prefix: str = ""):
    data_file, model_file, group = (
        ("bfi_gender.csv", "bfi_model.lav", "gender") if prefix else ("data.csv", "model.lav", "g")
    )
    frame = reference_table(FOLDER, data_file)
    config = RunConfig(
        name="t", model=(REFERENCE / FOLDER / model_file).read_text(), data={"group": group}
    )
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.items)].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[[group]]
    )
    return spec, data, frame


def assert_measures(ours: dict, prefix: str, level: str) -> None:
    name = f"{prefix}fit_{level}.csv" if level else f"{prefix}fit.csv"
    ref = reference_table(FOLDER, name).set_index("measure").value
    for key, (name, tol) in MEASURES.items():
        if np.isnan(ref[name]):  # lavaan's NA: ours too
            assert np.isnan(ours[key]), (level, key)
            continue
        assert abs(ours[key] - ref[name]) <= tol, (level, key, ours[key], ref[name])


def assert_estimates(estimates: pd.DataFrame, prefix: str, level: str, groups) -> None:
    """Every free parameter's estimate and robust SE within 0.002 of lavaan's."""
    name = f"{prefix}estimates_{level}.csv" if level else f"{prefix}estimates.csv"
    ref = reference_table(FOLDER, name)
    ref["rhs"] = ref.rhs.fillna("")
    checked = 0
    for row in estimates[estimates.se > 0].itertuples():
        group = groups.index(row.group) + 1 if "group" in estimates else 1
        match = ref[
            (ref.lhs == row.lhs) & (ref.op == row.op) & (ref.rhs == row.rhs) & (ref.group == group)
            if "group" in ref
            else (ref.lhs == row.lhs) & (ref.op == row.op) & (ref.rhs == row.rhs)
        ]
        assert len(match) == 1, (row.lhs, row.op, row.rhs)
        assert abs(row.est - match.est.iloc[0]) < 0.002, (level, row.lhs, row.op, row.rhs)
        assert abs(row.se - match.se.iloc[0]) < 0.002, (level, row.lhs, row.op, row.rhs)
        checked += 1
    assert checked == int((ref.se > 0).sum())


def test_single_group_equals_lavaan():
    """cfa(model, ordered, estimator = "WLSMV") on group A: estimates, robust SEs, chi-square
    11.157 (scaled-shifted 18.084 on 19 df), scaled CFI / TLI / RMSEA, SRMR."""
    spec, data, frame = case()
    keep = (frame.g == "A").to_numpy()
    values = data.frame[keep].reset_index(drop=True)
    one = ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})
    result = fit_sem(replace(spec, group=None), one, WLSMV)
    assert result.info["estimator"] == "WLSMV"
    assert_measures(result.fit, "single_", "")
    assert_estimates(result.estimates, "single_", "", [])


@pytest.mark.parametrize("prefix", ["", "bfi_"])
def test_threshold_ladder_equals_lavaan(prefix):
    """Every level's fit measures and estimates, and lavTestLRT's scaled-shifted differences
    (simulated: 11.465 (16), 2.523 (6), 65.213 (6): scalar fails on the shifted item; bfi by
    gender: 48.041 (30), 6.906 (8), 162.718 (8))."""
    spec, data, _ = case(prefix)
    ladder = fit_ordinal_ladder(spec, data, WLSMV, InvarianceConfig())
    lrt = reference_table(FOLDER, f"{prefix}lrt.csv").set_index("level")
    table = ladder.table.set_index("level")
    assert list(table.index) == DELTA_LEVELS
    for level in DELTA_LEVELS:
        ref = reference_table(FOLDER, f"{prefix}fit_{level}.csv").set_index("measure").value
        row = table.loc[level]
        assert abs(row.chisq - ref["chisq.scaled"]) < 0.01
        assert abs(row.chisq_unscaled - ref["chisq"]) < 0.01
        for ours, theirs in [("cfi", "cfi.scaled"), ("tli", "tli.scaled"), ("srmr", "srmr")]:
            assert abs(row[ours] - ref[theirs]) < 0.002, (level, ours)
        assert abs(row.rmsea - ref["rmsea.scaled"]) < 0.002
        assert row.df == ref["df"]
        if level != "configural":
            assert abs(row.chisq_diff - lrt.loc[level, "Chisq diff"]) < 0.01, level
            assert row.df_diff == lrt.loc[level, "Df diff"]
            assert abs(row.p_diff - lrt.loc[level, "Pr(>Chisq)"]) < 0.002
    if not prefix:  # the shifted item: thresholds absorb it until intercepts are equal
        assert table.decision.tolist() == ["baseline", "holds", "holds", "fails"]
        # lavaan's score tests of the failed level: the shifted item's intercept first, by far
        # (modindices 64.699), then its thresholds (lavTestScore 20.931, ...); total 77.970 (40)
        scores = ladder.scores[ladder.scores["rank"] > 0]
        assert set(scores.level) == {"scalar"}
        assert scores.parameter.iloc[0] == "y3 ~ 1" and bool(scores.new_at_level.iloc[0])
        assert abs(scores.x2.iloc[0] - 64.699) < 0.01
        assert scores.parameter.iloc[1:4].tolist() == ["y3 | t3", "y3 | t1", "y3 | t2"]
        assert not scores.new_at_level.iloc[1:4].any()
        total = ladder.scores[ladder.scores["rank"] == 0].iloc[0]
        assert abs(total.x2 - 77.970) < 0.01 and total.df == 40


@pytest.mark.parametrize("level", DELTA_LEVELS)
def test_level_estimates_equal_lavaan(level):
    """Every free parameter of every level (simulated data) within 0.002 of lavaan's, every
    fit measure within the targets."""
    spec, data, frame = case()
    labels = frame.g.astype(str)
    groups = tuple(pd.unique(labels))
    samples = ordinal_samples(data.frame, labels, groups, "test")
    result = fit_ordinal(spec, samples, groups, ORDINAL_LEVELS[level])
    assert_measures(result.measures, "", level)
    assert_estimates(ordinal_estimates(result), "", level, list(groups))


def test_refusals():
    spec, data, _ = case()
    with pytest.raises(InputError, match="strict"):
        fit_ordinal_ladder(spec, data, WLSMV, InvarianceConfig(levels=["configural", "strict"]))
    with pytest.raises(InputError, match="fiml"):
        fit_sem(spec, data, SemConfig(estimator="WLSMV", missing="fiml"))
    with pytest.raises(InputError, match=r"group_partial: y9 \| t1 names no parameter"):
        fit_sem(replace(spec, group_equal=("thresholds",), group_partial=("y9 | t1",)), data, WLSMV)
    shifted = data.frame.copy()
    shifted.loc[:399, "y1"] = shifted.loc[:399, "y1"].clip(upper=4)  # no 5 in group A
    other = ResponseData(
        frame=shifted, raw=shifted, path=None, sha256="", ranges={}, clusters=data.clusters
    )
    with pytest.raises(InputError, match="categories"):
        fit_sem(spec, other, WLSMV)


def test_run_config_selects_wlsmv_for_ordinal_items():
    config = RunConfig(name="t", bayes={"indicators": "ordinal"})
    assert config.sem_settings.estimator == "WLSMV"
    assert RunConfig(name="t").sem_settings.estimator == "ML"


def test_thresholds_need_ordinal_items():
    spec, data, _ = case()
    with pytest.raises(InputError, match="ordinal"):
        fit_sem(replace(spec, group_equal=("thresholds",)), data, SemConfig())


def test_invariance_command_on_the_bfi_example(tmp_path):
    """configs/bfi_ordinal_invariance.yaml (bayes.indicators: ordinal): the run folder's
    invariance.csv has lavaan's scaled chi-squares and the thresholds level fails (delta CFI
    -0.011)."""
    path, ladder, rule = invariance_to_run_folder(
        ROOT / "configs" / "bfi_ordinal_invariance.yaml",
        levels=["configural", "thresholds"],
        out=tmp_path,
    )
    table = pd.read_csv(path / "invariance.csv")
    assert list(table.level) == ["configural", "thresholds"]
    assert table.chisq.tolist() == pytest.approx([1637.759, 1866.876], abs=0.001)
    assert table.estimator.tolist() == ["WLSMV", "WLSMV"]
    assert table.decision.tolist() == ["baseline", "fails"]
    assert (path / "report.html").exists()


def test_invariance_command_ranks_the_shifted_item_first(tmp_path):
    """configs/ordinal_shift_invariance.yaml: scalar fails against metric, invariance_scores.csv
    ranks y3 ~ 1 first (lavaan's modindices 64.699) and report.html shows the score tests; with
    y3 ~ 1 in group_partial the partial scalar level holds (4.398 on 5 df, lavTestLRT)."""
    config = ROOT / "configs" / "ordinal_shift_invariance.yaml"
    path, ladder, _ = invariance_to_run_folder(config, levels=["metric", "scalar"], out=tmp_path)
    scores = pd.read_csv(path / "invariance_scores.csv")
    first = scores[scores["rank"] == 1].iloc[0]
    assert (first.level, first.parameter, first.df) == ("scalar", "y3 ~ 1", 1)
    assert abs(first.x2 - 64.699) < 0.01
    assert "score tests of the failed level" in (path / "report.html").read_text()
    text = config.read_text().replace('# group_partial: ["y3 ~ 1"]', 'group_partial: ["y3 ~ 1"]')
    partial = tmp_path / "partial.yaml"
    partial.write_text(text.replace("../tests", str(ROOT / "tests")))
    path, ladder, _ = invariance_to_run_folder(partial, levels=["metric", "scalar"], out=tmp_path)
    scalar = ladder.table.set_index("level").loc["scalar"]
    assert scalar.decision == "holds" and abs(scalar.chisq_diff - 4.398) < 0.01
    assert ladder.scores.empty


@pytest.mark.parametrize(
    ("name", "level", "partial"),
    [("scalar", "scalar", ()), ("partial_scalar", "scalar", ("y3 ~ 1",)), ("metric", "metric", ())],
)
def test_latent_mean_differences_equal_lavaan(name, level, partial):
    """A multi-group WLSMV fit's group_differences: under (partial) scalar invariance group A
    minus group B of each latent mean is minus lavaan's group-2 mean with its robust SE
    (partial scalar: f1 -0.118, SE 0.083); at metric no latent means, a warning saying why."""
    spec, data, _ = case()
    spec = replace(spec, group_equal=ORDINAL_LEVELS[level], group_partial=partial)
    result = fit_sem(spec, data, WLSMV)
    means = result.extra_tables["group_differences"].query("kind == 'latent_mean'")
    if level == "metric":
        assert means.empty
        assert any("latent means are not" in p.message for p in result.problems)
        return
    lavaan = reference_table(FOLDER, f"estimates_{name}.csv")
    assert len(means) == 2
    for row in means.itertuples():
        assert (row.group, row.versus) == ("A", "B")
        theirs = lavaan[(lavaan.lhs == row.quantity[:-3]) & (lavaan.op == "~1")]
        theirs = theirs[theirs.group == 2].iloc[0]
        assert abs(-row.est - theirs.est) < 0.002 and abs(row.se - theirs.se) < 0.002
    assert "latent means" in result.info["invariance"]


@pytest.mark.parametrize(
    ("name", "level", "partial"),
    [
        ("partial_scalar", "scalar", ("y3 ~ 1",)),
        ("partial_loading", "scalar", ("f1 =~ y3",)),
        ("partial_thresholds_t3", "thresholds", ("y3 | t3",)),
        ("partial_thresholds_t234", "thresholds", ("y3 | t2", "y3 | t3", "y3 | t4")),
        ("partial_scalar_t3", "scalar", ("y3 | t3", "y3 ~ 1")),
    ],
)
def test_group_partial_equals_measeq_syntax(name, level, partial):
    """Scalar with y3's intercept free in group B (measEq.syntax's group.partial: chi-square
    40.993 on 65 df, scaled 60.843; lavTestLRT against metric 4.398 (5), p 0.494), scalar with
    y3's loading free, and thresholds freed (Wu & Estabrook's rule: y3's intercept and scale stay
    free with three equal thresholds, 33.094 on 53 df; the scale is fixed with one, 32.896 on 52
    df; scalar with y3 | t3 and y3 ~ 1 free, 40.780 on 64 df): estimates, SEs and fit
    measures."""
    spec, data, frame = case()
    labels = frame.g.astype(str)
    groups = tuple(pd.unique(labels))
    samples = ordinal_samples(data.frame, labels, groups, "test")
    result = fit_ordinal(spec, samples, groups, ORDINAL_LEVELS[level], partial)
    assert_measures(result.measures, "", name)
    assert_estimates(ordinal_estimates(result), "", name, list(groups))
    if name == "partial_scalar":
        metric = fit_ordinal(spec, samples, groups, ORDINAL_LEVELS["metric"])
        test = difference_test(
            result.fit,
            metric.fit,
            result.measures["chisq"] - metric.measures["chisq"],
            int(result.measures["df"] - metric.measures["df"]),
            samples,
        )
        lrt = reference_table(FOLDER, "lrt_metric_vs_partial_scalar.csv").set_index("level")
        assert abs(test["chisq_diff"] - lrt.loc["partial_scalar", "Chisq diff"]) < 0.01
        assert test["df_diff"] == lrt.loc["partial_scalar", "Df diff"]
        assert abs(test["p_diff"] - lrt.loc["partial_scalar", "Pr(>Chisq)"]) < 0.002


@pytest.mark.parametrize("prefix", ["", "bfi_", "theta_"])
def test_score_tests_equal_lavaan(prefix):
    """lavTestScore (univariate X2 of every equality constraint, and the total) and modindices
    (the intercepts the scalar level fixes, and the residual variances of theta's strict level,
    in the second group) at every level but configural, within 0.01 (simulated: totals 5.940
    (32), 8.583 (40), 77.970 (40); bfi: 21.235 (50), 30.144 (60), 285.551 (60), N5 ~ 1 first at
    scalar, 182.067; theta: strict 85.458 (40), y3 ~ 1 first, 63.261)."""
    parameterization = "theta" if prefix == "theta_" else "delta"
    spec, data, frame = case("bfi_" if prefix == "bfi_" else "")
    labels = frame["gender" if prefix == "bfi_" else "g"].astype(str)
    groups = tuple(pd.unique(labels))
    samples = ordinal_samples(data.frame, labels, groups, "test")
    ref = reference_table(FOLDER, f"{prefix}scores.csv")
    # theta: its strict level (the levels below are delta's code path, tested above)
    for level in ["strict"] if prefix == "theta_" else dict.fromkeys(ref.level):
        equal = ORDINAL_LEVELS[level]
        result = fit_ordinal(spec, samples, groups, equal, (), parameterization)
        tests = level_scores(spec, groups, level, result, samples, parameterization)
        expected = ref[ref.level == level]
        total = expected[expected.test == "lavTestScore total"].iloc[0]
        assert abs(tests.total.x2 - total.x2) < 0.01, level
        assert tests.total.df == total.df
        assert abs(tests.total.pvalue - total.pvalue) < 0.002
        ours = {t.parameter.replace(" ~ 1", " ~1"): t for t in tests.parameters}
        rows = expected[expected.test != "lavTestScore total"]
        assert len(ours) == len(rows), level
        for row in rows.itertuples():
            test = ours[row.parameter]
            assert abs(test.x2 - row.x2) < 0.01, (level, row.parameter, test.x2, row.x2)
            assert test.df == row.df == 1
            assert abs(test.pvalue - row.pvalue) < 0.002, (level, row.parameter)
        fixed = level in ("scalar", "strict")
        assert set(rows.test) == ({"lavTestScore", "modindices"} if fixed else {"lavTestScore"})


def test_bfi_five_factors_equal_lavaan():
    """psych's bfi, 2,800 x 25 six-point items with blanks (pairwise), five factors (reference
    tests/reference/polychoric: cfa(..., ordered, estimator = "WLSMV", missing = "pairwise")):
    every loading, variance and threshold with its robust SE, chi-square 6795.874 (scaled-shifted
    6820.747 on 265 df), scaled CFI / TLI / RMSEA and SRMR."""
    folder = REFERENCE / "polychoric"
    frame = pd.read_csv(folder / "bfi.csv")
    model = "\n".join(f"{f} =~ " + " + ".join(f"{f}{i}" for i in range(1, 6)) for f in "ACENO")
    config = RunConfig(name="t", model=model)
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.items)].astype(float)
    data = ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})
    result = fit_sem(spec, data, WLSMV)
    ref = pd.read_csv(folder / "bfi_wlsmv_fit.csv").set_index("measure").value
    for ours, theirs, tol in [
        ("chisq", "chisq", 0.01),
        ("chisq_scaled", "chisq.scaled", 0.01),
        ("cfi", "cfi", 0.002),
        ("rmsea", "rmsea", 0.002),
        ("cfi_scaled", "cfi.scaled", 0.002),
        ("tli_scaled", "tli.scaled", 0.002),
        ("rmsea_scaled", "rmsea.scaled", 0.002),
        ("srmr", "srmr", 0.002),
    ]:
        assert abs(result.fit[ours] - ref[theirs]) <= tol, ours
    estimates = pd.read_csv(folder / "bfi_wlsmv_est.csv")
    estimates["rhs"] = estimates.rhs.fillna("")
    free = result.estimates[result.estimates.se > 0]
    merged = free.merge(estimates, on=["lhs", "op", "rhs"], suffixes=("", "_lavaan"))
    assert len(merged) == len(free) == int((estimates.se > 0).sum()) == 160
    assert (merged.est - merged.est_lavaan).abs().max() < 0.002
    assert (merged.se - merged.se_lavaan).abs().max() < 0.002


def test_theta_ladder_equals_lavaan():
    """sem.parameterization: theta (measEq.syntax(parameterization = "theta")): every level's
    estimates, SEs and fit measures, now with strict (chi-square 113.402 on 74 df, scaled
    149.967), and lavTestLRT's differences."""
    spec, data, frame = case()
    labels = frame.g.astype(str)
    groups = tuple(pd.unique(labels))
    samples = ordinal_samples(data.frame, labels, groups, "test")
    for level in ORDINAL_LEVELS:
        result = fit_ordinal(spec, samples, groups, ORDINAL_LEVELS[level], (), "theta")
        assert_measures(result.measures, "theta_", level)
        assert_estimates(ordinal_estimates(result), "theta_", level, list(groups))
    ladder = fit_ordinal_ladder(
        spec, data, SemConfig(estimator="WLSMV", parameterization="theta"), InvarianceConfig()
    )
    lrt = reference_table(FOLDER, "theta_lrt.csv").set_index("level")
    table = ladder.table.set_index("level")
    assert list(table.index) == list(ORDINAL_LEVELS)
    for level in list(ORDINAL_LEVELS)[1:]:
        assert abs(table.loc[level, "chisq_diff"] - lrt.loc[level, "Chisq diff"]) < 0.01, level
        assert abs(table.loc[level, "p_diff"] - lrt.loc[level, "Pr(>Chisq)"]) < 0.002, level
