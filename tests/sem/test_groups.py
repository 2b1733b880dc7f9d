"""Multi-group ML (`engine: sem` with data.group) against lavaan 0.6-14 on Holzinger-Swineford
by school (tests/reference/hs_invariance, written by its make.R): the invariance ladder
(configural, metric, scalar, strict) and the partial-scalar model freeing x3 ~ 1 and x7 ~ 1.
Estimates, SEs and std.all within 0.002, chi-square within 0.01, the other fit measures within
0.002 (AIC, BIC and logl within 0.01, their scale), npar and df exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.capabilities import CAPABILITIES
from bayeslead.sem.engine import fit_sem
from tests.conftest import LAVAAN_FIT_TOLERANCES, REFERENCE, reference_table

FOLDER = "hs_invariance"
LEVELS = {
    "configural": ([], []),
    "metric": (["loadings"], []),
    "scalar": (["loadings", "intercepts"], []),
    "strict": (["loadings", "intercepts", "residuals"], []),
    "partial_scalar": (["loadings", "intercepts"], ["x3 ~ 1", "x7~1"]),
}
GROUPS = {1: "Pasteur", 2: "Grant-White"}  # lavaan's group numbers (order of appearance)
FIT = LAVAAN_FIT_TOLERANCES | {  # ours: (lavaan's, tolerance)
    "logl": ("logl", 0.01),
    "unrestricted_logl": ("unrestricted.logl", 0.01),
    "baseline_chisq": ("baseline.chisq", 0.01),
    "baseline_df": ("baseline.df", 0),
}


def hs_data(frame: pd.DataFrame | None = None) -> tuple[pd.DataFrame, ResponseData]:
    frame = reference_table(FOLDER, "data.csv") if frame is None else frame
    values = frame[[f"x{i}" for i in range(1, 10)]].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[["school"]]
    )
    return frame, data


def fit_level(equal, partial, frame=None, **sem):
    frame, data = hs_data(frame)
    config = RunConfig(
        name="t",
        model=(REFERENCE / FOLDER / "model.lav").read_text(),
        data={"group": "school"},
        group_equal=equal,
        group_partial=partial,
    )
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    return fit_sem(spec, data, SemConfig(bootstrap=0, **sem), progress=False)


@pytest.fixture(scope="module", params=sorted(LEVELS))
def level_fit(request):
    return request.param, fit_level(*LEVELS[request.param])


def test_fit_measures_match_lavaan(level_fit):
    name, result = level_fit
    ref = reference_table(FOLDER, f"fit_{name}.csv").set_index("measure")["value"]
    assert result.info["converged"]
    for ours, (theirs, tol) in FIT.items():
        assert result.fit[ours] == pytest.approx(ref[theirs], abs=tol), (name, ours)


def test_estimates_match_lavaan(level_fit):
    name, result = level_fit
    ref = reference_table(FOLDER, f"estimates_{name}.csv")
    std = reference_table(FOLDER, f"standardized_{name}.csv")
    ours = result.estimates[result.estimates.op != "r2"].set_index(["group", "lhs", "op", "rhs"])
    assert len(ours) == len(ref)
    for _, row in ref.iterrows():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        mine = ours.loc[(GROUPS[row.group], row.lhs, row.op, rhs)]
        assert mine.est == pytest.approx(row.est, abs=0.002), (name, row.lhs, row.op, rhs)
        assert mine.se == pytest.approx(row.se, abs=0.002), (name, row.lhs, row.op, rhs)
    for _, row in std.iterrows():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        mine = ours.loc[(GROUPS[row.group], row.lhs, row.op, rhs)]
        assert mine.std_est == pytest.approx(row["est.std"], abs=0.002), (name, row.lhs, rhs)


def test_ladder_chisq_and_differences():
    """The issue's figures: chi-square / df of every level and the ladder's differences."""
    ladder = reference_table(FOLDER, "ladder.csv").set_index("level")
    fits = {name: fit_level(*LEVELS[name]).fit for name in ("configural", "metric", "scalar")}
    assert fits["configural"]["chisq"] == pytest.approx(115.851, abs=0.001)
    assert fits["metric"]["chisq"] == pytest.approx(124.044, abs=0.001)
    assert fits["scalar"]["chisq"] == pytest.approx(164.103, abs=0.001)
    diff = fits["scalar"]["chisq"] - fits["metric"]["chisq"]
    assert diff == pytest.approx(ladder.loc["scalar", "chisq_diff"], abs=0.01)


def test_labels_are_equal_across_groups_and_partial_names_a_parameter():
    """A user label holds in every group (lavaan's rule, overriding group_equal); a
    group_partial key that names no parameter is an input error."""
    frame, data = hs_data()
    text = (REFERENCE / FOLDER / "model.lav").read_text().replace("x2", "a*x2", 1)
    config = RunConfig(name="t", model=text, data={"group": "school"})
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    result = fit_sem(spec, data, SemConfig(bootstrap=0), progress=False)
    loadings = result.estimates.query("lhs == 'visual' and rhs == 'x2'")
    assert loadings.est.nunique() == 1 and result.fit["df"] == 49
    config = RunConfig(
        name="t",
        model=(REFERENCE / FOLDER / "model.lav").read_text(),
        data={"group": "school"},
        group_equal=["loadings", "intercepts"],
        group_partial=["x3 ~ 2"],
    )
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    with pytest.raises(InputError, match="x3 ~ 2"):
        fit_sem(spec, data, SemConfig(bootstrap=0), progress=False)


def test_fiml_on_complete_data_equals_ml():
    """FIML on complete data is ML (same estimates, observed-information SEs)."""
    ml = fit_level(["loadings", "intercepts"], [])
    fiml = fit_level(["loadings", "intercepts"], [], missing="fiml")
    assert fiml.fit["chisq"] == pytest.approx(ml.fit["chisq"], abs=1e-6)
    assert np.allclose(fiml.estimates.est, ml.estimates.est, atol=1e-6)
    assert "FIML" in fiml.info["missing"]


@pytest.mark.parametrize("name", ["configural", "scalar"])
def test_fiml_with_blanks_matches_lavaan(name):
    """FIML per group (lavaan's missing = "ml") on the data with 8% blank cells
    (tests/reference/hs_invariance_fiml): fit measures and estimates with observed-information
    standard errors."""
    folder = "hs_invariance_fiml"
    frame = reference_table(folder, "data.csv")
    result = fit_level(*LEVELS[name], frame=frame)
    ref = reference_table(folder, f"fit_{name}.csv").set_index("measure")["value"]
    assert result.info["converged"] and "FIML" in result.info["missing"]
    for ours, (theirs, tol) in FIT.items():
        assert result.fit[ours] == pytest.approx(ref[theirs], abs=tol), (name, ours)
    est = reference_table(folder, f"estimates_{name}.csv")
    ours = result.estimates.set_index(["group", "lhs", "op", "rhs"])
    for _, row in est.iterrows():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        mine = ours.loc[(GROUPS[row.group], row.lhs, row.op, rhs)]
        assert mine.est == pytest.approx(row.est, abs=0.002), (name, row.lhs, row.op, rhs)
        assert mine.se == pytest.approx(row.se, abs=0.002), (name, row.lhs, row.op, rhs)


SERIAL = "serial_groups"
SERIAL_FITS = {  # reference fit: (group_equal, model with the lavaan cfa's five factors only)
    "sem_configural": ([], False),
    "sem_scalar": (["loadings", "intercepts"], False),
    "sem_regressions": (["loadings", "intercepts", "regressions"], False),
    "sem_lvvar_lvcov_means": (
        ["loadings", "intercepts", "lv.variances", "lv.covariances", "means"],
        False,
    ),
    "cfa_lvvar_lvcov_means": (
        ["loadings", "intercepts", "lv.variances", "lv.covariances", "means"],
        True,
    ),
}


def fit_serial(equal: list[str], cfa: bool):
    frame = reference_table(SERIAL, "data.csv")
    constructs = {
        name: [f"{name.lower()}{k}" for k in range(1, 5)]
        for name in ("TL", "SENS", "SEIZ", "RECO", "BI")
    }
    paths = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}
    config = RunConfig(
        name="t",
        constructs=constructs,
        paths={} if cfa else paths,
        effects={} if cfa else {"ind_serial": ["TL", "SENS", "SEIZ", "RECO", "BI"]},
        data={"group": "grp"},
        group_equal=equal,
    )
    spec = build_spec(config)
    values = frame[list(spec.manifest)].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[["grp"]]
    )
    return fit_sem(spec, data, SemConfig(bootstrap=0), progress=False)


@pytest.mark.parametrize("name", sorted(SERIAL_FITS))
def test_group_equal_keywords_on_a_serial_sem(name):
    """regressions, lv.variances (latent residual variances included), lv.covariances and
    means as lavaan constrains them (tests/reference/serial_groups): fit measures and every
    estimate of both groups."""
    result = fit_serial(*SERIAL_FITS[name])
    ref = reference_table(SERIAL, f"fit_{name}.csv").set_index("measure")["value"]
    for ours, (theirs, tol) in FIT.items():
        assert result.fit[ours] == pytest.approx(ref[theirs], abs=tol), (name, ours)
    est = reference_table(SERIAL, f"estimates_{name}.csv")
    ours = result.estimates.set_index(["group", "lhs", "op", "rhs"])
    for _, row in est[est.op != ":="].iterrows():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        mine = ours.loc[({1: "first200", 2: "last200"}[row.group], row.lhs, row.op, rhs)]
        assert mine.est == pytest.approx(row.est, abs=0.002), (name, row.lhs, row.op, rhs)
        assert mine.se == pytest.approx(row.se, abs=0.002), (name, row.lhs, row.op, rhs)


@pytest.mark.parametrize("name", ["sem_configural", "sem_scalar"])
def test_effects_per_group_match_lavaan(name):
    """The serial indirect and total effects of each group with delta-method SEs equal lavaan's
    per-group `:=` rows (model.lav labels every path per group with c(...))."""
    result = fit_serial(*SERIAL_FITS[name])
    ref = reference_table(SERIAL, f"estimates_{name}.csv").set_index("lhs")
    effects = result.effects.set_index(["effect", "kind", "group"])
    for group in ("first200", "last200"):
        for kind, lavaan in (("indirect", "ind_serial"), ("total", "total")):
            row, theirs = effects.loc[("ind_serial", kind, group)], ref.loc[f"{lavaan}_{group}"]
            assert row.est == pytest.approx(theirs.est, abs=0.002), (name, kind, group)
            assert row.se == pytest.approx(theirs.se, abs=0.002), (name, kind, group)


def test_group_differences_match_lavaan():
    """Differences between the groups (group minus versus, delta-method SEs): the serial
    indirect effect and a path under scalar invariance equal lavaan's `:=` contrasts
    (ind_serial_diff 0.00032, SE 0.02480; diff_a 0.1006, SE 0.1050, last200 minus first200),
    latent means equal lavaan's group-2 means on Holzinger-Swineford; a configural fit reports
    no differences and says why."""
    result = fit_serial(*SERIAL_FITS["sem_scalar"])
    ref = reference_table(SERIAL, "estimates_sem_scalar.csv").set_index("lhs")
    diff = result.extra_tables["group_differences"].set_index(["quantity", "kind"])
    serial = diff.loc[("ind_serial", "indirect")]
    assert (serial.group, serial.versus) == ("first200", "last200")
    assert -serial.est == pytest.approx(ref.loc["ind_serial_diff", "est"], abs=0.002)
    assert serial.se == pytest.approx(ref.loc["ind_serial_diff", "se"], abs=0.002)
    path = diff.loc[("SENS ~ TL", "path")]
    assert -path.est == pytest.approx(ref.loc["diff_a", "est"], abs=0.002)
    assert path.se == pytest.approx(ref.loc["diff_a", "se"], abs=0.002)
    scalar = fit_level(*LEVELS["scalar"])
    lavaan = reference_table(FOLDER, "estimates_scalar.csv")
    means = scalar.extra_tables["group_differences"].query("kind == 'latent_mean'")
    for _, row in means.iterrows():
        theirs = lavaan[(lavaan.lhs == row.quantity[:-3]) & (lavaan.op == "~1")]
        theirs = theirs[theirs.group == 2].iloc[0]
        assert -row.est == pytest.approx(theirs.est, abs=0.002)
        assert row.se == pytest.approx(theirs.se, abs=0.002)
    configural = fit_level(*LEVELS["configural"])
    assert configural.extra_tables["group_differences"].empty
    assert any("configural" in p.message for p in configural.problems)
