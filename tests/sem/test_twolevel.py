"""Two-level ML (`engine: sem` with `data.cluster`) equals lavaan 0.6-14 (tests/reference/
twolevel_demo: lavaan::Demo.twolevel; twolevel_firms: the bundled firm example)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeslead.pipeline import fit, load_inputs
from tests.conftest import REFERENCE, ROOT

DEMO = REFERENCE / "twolevel_demo"
FIRMS = REFERENCE / "twolevel_firms"
TOL = 0.002
FIT_KEYS = {
    "chisq": "chisq",
    "df": "df",
    "cfi": "cfi",
    "tli": "tli",
    "rmsea": "rmsea",
    "srmr_within": "srmr_within",
    "srmr_between": "srmr_between",
    "logl": "logl",
    "unrestricted_logl": "unrestricted.logl",
    "aic": "aic",
    "bic": "bic",
    "npar": "npar",
}

DEMO_TUTORIAL = """
constructs: {F: [y1, y2, y3]}
observed: [x1, x2, x3, w1, w2]
paths: {F: [x1, x2, x3, w1, w2]}
"""
DEMO_MEDIATION = """
constructs: {F1: [y1, y2, y3], F2: [y4, y5, y6]}
observed: [x1, x2, x3, w1, w2]
paths: {F1: [x1, x2, x3, w1, w2], F2: [F1, x1, w1]}
effects: {ind_x: [x1, F1, F2], ind_w: [w1, F1, F2]}
"""
FIRM_THREE = """
instrument: {root}/surveys/tl_dc_bi.yaml
constructs: [SENS, SEIZ, RECO]
paths: {{SEIZ: [SENS], RECO: [SEIZ]}}
effects: {{ind: [SENS, SEIZ, RECO]}}
"""
FIRM_FULL = """
instrument: {root}/surveys/tl_dc_bi.yaml
paths: {{SENS: [TL], SEIZ: [SENS, TL], RECO: [SEIZ], BI: [RECO, TL]}}
effects: {{serial: [TL, SENS, SEIZ, RECO, BI], via_seizing: [TL, SEIZ, RECO, BI]}}
"""


def fit_config(tmp: Path, name: str, body: str, data: Path, cluster: str, sem: str, ids: str = ""):
    text = (
        f"name: {name}\ndata:\n  path: {data}\n  cluster: {cluster}\n{ids}"
        f"{body}engine: sem\nsem:\n{sem}output: {tmp}\n"
    )
    path = tmp / f"{name}.yaml"
    path.write_text(text)
    return fit(load_inputs(path), progress=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    sem = (
        "  within_only: [x1, x2, x3]\n  between_only: [w1, w2]\n"
        "  loadings_across_levels: free\n  bootstrap: 0\n"
    )
    tmp = tmp_path_factory.mktemp("demo")
    tutorial = fit_config(tmp, "tutorial", DEMO_TUTORIAL, DEMO / "data.csv", "cluster", sem)
    mediation = fit_config(tmp, "mediation", DEMO_MEDIATION, DEMO / "data.csv", "cluster", sem)
    return tutorial, mediation


def firm_fit(tmp: Path, name: str, body: str, residuals: str):
    return fit_config(
        tmp,
        name,
        body.format(root=ROOT),
        ROOT / "data" / "tl_dc_bi_firms_example.csv",
        "firm_id",
        f"  between_residuals: {residuals}\n",
        ids="  id: respondent_id\n",
    )


def assert_fit(result, reference: dict[str, float]) -> None:
    for ours, theirs in FIT_KEYS.items():
        assert result.fit[ours] == pytest.approx(reference[theirs], abs=TOL), ours


def renamed(name: str) -> str:
    """lavaan's level suffix (fw/fb, SENSw/SENSb) removed: bayeslead names constructs once."""
    for suffix in ("w", "b"):
        if name.endswith(suffix) and name[:-1].isupper():
            return name[:-1]
    return {"fw": "F", "fb": "F", "fw1": "F1", "fb1": "F1", "fw2": "F2", "fb2": "F2"}.get(
        name, name
    )


def assert_estimates(result, reference: pd.DataFrame, se_unchecked: tuple = ()) -> None:
    """Every lavaan parameter row (est and se) within TOL of bayeslead's row at that level
    (`se_unchecked`: (lhs, op, rhs, level) rows whose se is not compared, each with its reason
    at the caller)."""
    ours = result.estimates
    for _, row in reference[reference.op != ":="].iterrows():
        level = "within" if row.level == 1 else "between"
        lhs, rhs = renamed(row.lhs), "" if pd.isna(row.rhs) else renamed(row.rhs)
        match = ours[(ours.lhs == lhs) & (ours.op == row.op) & (ours.level == level)]
        match = match[(match.rhs.fillna("") == rhs) | (match.rhs.fillna("") == lhs)]
        if row.op == "~1" and row.est == 0 and row.se == 0:  # lavaan's fixed zero intercepts
            assert match.empty or np.isclose(match.est.iloc[0], 0)
            continue
        if row.op == "~~" and lhs != rhs:
            match = match[(match.rhs == rhs) | (match.lhs == rhs)]
        assert len(match) == 1, (row.lhs, row.op, row.rhs, level)
        assert match.est.iloc[0] == pytest.approx(row.est, abs=TOL), (lhs, row.op, rhs, level)
        if (lhs, row.op, rhs, level) not in se_unchecked:
            assert match.se.iloc[0] == pytest.approx(row.se, abs=TOL), (lhs, row.op, rhs, level)


def reference_fit(folder: Path, name: str) -> dict[str, float]:
    table = pd.read_csv(folder / name)
    return dict(zip(table.measure, table.value, strict=True))


def test_demo_tutorial_equals_lavaan(demo):
    tutorial, _ = demo
    assert tutorial.info["converged"] and tutorial.ok
    assert_fit(tutorial, reference_fit(DEMO, "fit.csv"))
    assert_estimates(tutorial, pd.read_csv(DEMO / "estimates.csv"))
    icc = pd.read_csv(DEMO / "icc.csv").set_index("variable")
    ours = tutorial.extra_tables["icc"].set_index("construct")
    for item in ("y1", "y2", "y3"):
        assert ours.loc[item, "icc"] == pytest.approx(icc.loc[item, "icc"], abs=TOL)


def test_demo_mediation_equals_lavaan_with_effects_at_both_levels(demo):
    _, mediation = demo
    assert_fit(mediation, reference_fit(DEMO, "fit_mediation.csv"))
    assert_estimates(mediation, pd.read_csv(DEMO / "estimates_mediation.csv"))
    ref = pd.read_csv(DEMO / "estimates_mediation.csv").set_index("lhs")
    mc = pd.read_csv(DEMO / "montecarlo_ci_mediation.csv").set_index("parameter")
    effects = mediation.effects.set_index(["effect", "kind", "level"])
    for ours, theirs in [
        (("ind_x", "indirect", "within"), "ind_within"),
        (("ind_w", "indirect", "between"), "ind_between"),
        (("ind_x", "total", "within"), "total_within"),
        (("ind_w", "total", "between"), "total_between"),
    ]:
        assert effects.loc[ours, "est"] == pytest.approx(ref.loc[theirs, "est"], abs=TOL)
        assert effects.loc[ours, "se"] == pytest.approx(ref.loc[theirs, "se"], abs=TOL)
        # Monte Carlo intervals: 20,000 draws each side, Monte Carlo error about 0.002 per bound
        assert effects.loc[ours, "mc_lower"] == pytest.approx(mc.loc[theirs, "ci.lower"], abs=0.005)
        assert effects.loc[ours, "mc_upper"] == pytest.approx(mc.loc[theirs, "ci.upper"], abs=0.005)
    # an effect exists only at the level where all its links are paths
    assert ("ind_x", "indirect", "between") not in effects.index
    assert ("ind_w", "indirect", "within") not in effects.index


@pytest.mark.parametrize("model, residuals", [("three_free", "free"), ("three_zero", "zero")])
def test_firm_example_equals_lavaan(tmp_path, model, residuals):
    result = firm_fit(tmp_path, model, FIRM_THREE, residuals)
    summary = pd.read_csv(FIRMS / "fit_summary.csv").set_index("model").loc[model]
    assert_fit(result, summary.to_dict())
    assert_estimates(result, pd.read_csv(FIRMS / f"estimates_{model}.csv"))
    negative = [p.where for p in result.problems if "negative variance" in p.message]
    assert len(negative) == (7 if residuals == "free" else 0)
    ref = pd.read_csv(FIRMS / f"estimates_{model}.csv").set_index("lhs")
    effects = result.effects.set_index(["effect", "kind", "level"])
    assert effects.loc[("ind", "indirect", "within"), "est"] == pytest.approx(
        ref.loc["ind_w", "est"], abs=TOL
    )
    assert effects.loc[("ind", "indirect", "between"), "se"] == pytest.approx(
        ref.loc["ind_b", "se"], abs=TOL
    )
    latent = pd.read_csv(FIRMS / "latent_icc.csv")
    latent = latent[latent.model == model].set_index("latent")
    icc = result.extra_tables["icc"].set_index("construct")
    for name in ("SENS", "SEIZ", "RECO"):
        assert icc.loc[name, "icc"] == pytest.approx(latent.loc[name, "icc"], abs=TOL)


@pytest.mark.slow
def test_full_firm_study_equals_lavaan(tmp_path):
    result = firm_fit(tmp_path, "full_zero", FIRM_FULL, "zero")
    summary = pd.read_csv(FIRMS / "fit_summary.csv").set_index("model").loc["full_zero"]
    assert_fit(result, summary.to_dict())
    assert_estimates(result, pd.read_csv(FIRMS / "estimates_full_zero.csv"))
    ref = pd.read_csv(FIRMS / "estimates_full_zero.csv").set_index("lhs")
    effects = result.effects.set_index(["effect", "kind", "level"])
    for level, suffix in (("within", "w"), ("between", "b")):
        for effect, name in (("serial", "serial"), ("via_seizing", "via_seizing")):
            row = effects.loc[(effect, "indirect", level)]
            assert row.est == pytest.approx(ref.loc[f"{name}_{suffix}", "est"], abs=TOL)
            assert row.se == pytest.approx(ref.loc[f"{name}_{suffix}", "se"], abs=TOL)
        total = effects.loc[("serial", "total", level)]
        assert total.est == pytest.approx(ref.loc[f"total_{suffix}", "est"], abs=TOL)


def test_level_variables_are_checked(tmp_path):
    from bayeslead.errors import InputError

    with pytest.raises(InputError, match="sem.between_only: w9"):
        fit_config(
            tmp_path, "bad", DEMO_TUTORIAL, DEMO / "data.csv", "cluster", "  between_only: [w9]\n"
        )
    data = pd.read_csv(DEMO / "data.csv")
    data.loc[0, "w1"] += 1.0  # no longer constant within cluster 1
    data.to_csv(tmp_path / "varying.csv", index=False)
    with pytest.raises(InputError, match="column 'w1'.*constant within a cluster"):
        fit_config(
            tmp_path,
            "varying",
            DEMO_TUTORIAL,
            tmp_path / "varying.csv",
            "cluster",
            "  within_only: [x1, x2, x3]\n  between_only: [w1, w2]\n",
        )


BLANKS = REFERENCE / "twolevel_blanks"
BLANK_MODEL = "constructs: {F1: [y1, y2, y3], F2: [y4, y5, y6]}\npaths: {F2: [F1]}\n"


def test_blank_answers_are_refused_unless_listwise_is_asked_for(tmp_path):
    """Two-level ML has no FIML: the error names the rows and the alternatives; with
    sem.missing: listwise the complete rows are analysed (lavaan's default)."""
    from bayeslead.errors import InputError

    data = BLANKS / "data_mcar05.csv"
    with pytest.raises(
        InputError, match=r"rows 4, 6, 19, 25, 26 and 633 more have blank answers"
    ) as e:
        fit_config(tmp_path, "blanks", BLANK_MODEL, data, "cluster", "  bootstrap: 0\n")
    assert "engine: bayes" in str(e.value) and "sem.missing: listwise" in str(e.value)
    result = fit_config(
        tmp_path, "listwise", BLANK_MODEL, data, "cluster", "  bootstrap: 0\n  missing: listwise\n"
    )
    assert result.info["missing"] == "listwise" and result.info["n"] == 2500 - 638
    assert any("listwise deletion" in p.message for p in result.problems)
