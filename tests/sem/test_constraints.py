"""The ML engine on models given as lavaan syntax with equality constraints, fixed and freed
parameters and `:=` definitions, against lavaan 0.6-14 (tests/reference/lavaan_constraints,
written by its fit_constrained.R): estimates, SEs and std.all within 0.002, fit measures
within the reference README's tolerances, npar and df exactly."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.data import ResponseData
from bayeslead.hypotheses import evaluate, parse_hypotheses
from bayeslead.sem.capabilities import CAPABILITIES
from bayeslead.sem.engine import fit_sem
from tests.conftest import REFERENCE, reference_row, reference_table

FOLDER = "lavaan_constraints"
DATA = {"hs_equal": "hs_data.csv", "poldem_labels": "poldem_data.csv"}
DATA["poldem_contrast"] = "poldem_data.csv"


def fit_syntax(text: str, data: str, bootstrap: int = 0):
    frame = reference_table(FOLDER, data)
    config = RunConfig(name="t", model=text)
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.manifest)].astype(float)
    data = ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})
    return spec, fit_sem(spec, data, SemConfig(bootstrap=bootstrap, seed=3), progress=False)


@pytest.fixture(scope="module", params=sorted(DATA))
def lavaan_fit(request):
    name = request.param
    text = (REFERENCE / FOLDER / f"{name}.lav").read_text()
    return name, *fit_syntax(text, DATA[name])


def test_estimates_match_lavaan(lavaan_fit):
    name, _, result = lavaan_fit
    ref = reference_table(FOLDER, f"{name}_estimates.csv")
    ours = result.estimates[result.estimates.op != "r2"]  # lavaan lists R-squared apart
    assert len(ours) == len(ref)
    for _, row in ours.iterrows():
        if row.op == ":=":
            theirs = ref[(ref.op == ":=") & (ref.lhs == row.lhs)].iloc[0]
        else:
            theirs = reference_row(ref, row.lhs, row.op, row.rhs)
        what = f"{name}: {row.lhs} {row.op} {row.rhs}"
        np.testing.assert_allclose(row.est, theirs.est, atol=0.002, err_msg=what)
        np.testing.assert_allclose(row.se, theirs.se, atol=0.002, err_msg=f"se {what}")
        np.testing.assert_allclose(row.std_est, theirs["std.all"], atol=0.002, err_msg=what)
        label = theirs.label if isinstance(theirs.label, str) else ""
        assert row.label == label or (row.op == "~" and not label)  # automatic: SENS_on_TL


def test_fit_measures_match_lavaan(lavaan_fit):
    name, _, result = lavaan_fit
    ref = dict(reference_table(FOLDER, f"{name}_fit.csv").itertuples(index=False))
    fit = result.fit
    assert (fit["npar"], fit["df"]) == (ref["npar"], ref["df"])
    for key, tol in [("chisq", 0.01), ("logl", 0.01), ("aic", 0.05), ("bic", 0.05)]:
        np.testing.assert_allclose(fit[key], ref[key], atol=tol, err_msg=key)
    for key in ("cfi", "tli", "rmsea", "srmr"):
        np.testing.assert_allclose(fit[key], ref[key], atol=0.001, err_msg=key)


def test_equality_classes_are_lavaans(lavaan_fit):
    """Rows lavaan ties (one free index after its ceq.simple reduction) share our index."""
    name, spec, _ = lavaan_fit
    table = build_partable(spec)
    pt = reference_table(FOLDER, f"{name}_partable.csv")
    labelled = pt[pt.label.notna() & (pt.free > 0) & pt.op.isin(["=~", "~"])]
    for label, rows in labelled.groupby("label"):
        indices = {table.find(r.lhs, r.op, r.rhs).free for r in rows.itertuples()}
        assert len(indices) == 1, label


def test_definitions_get_bootstrap_intervals():
    """`:=` rows of estimates.csv and effects.csv (kind 'defined') with percentile intervals
    from the same replicates as every parameter; the delta-method SE is lavaan's."""
    text = (REFERENCE / FOLDER / "poldem_contrast.lav").read_text()
    _, result = fit_syntax(text, "poldem_data.csv", bootstrap=200)
    defined = result.effects[result.effects.kind == "defined"].set_index("effect")
    assert list(defined.index) == ["indirect", "total", "contrast"]
    assert defined.loc["contrast", "path"] == "a*b - c"
    ref = reference_table(FOLDER, "poldem_contrast_estimates.csv").set_index("lhs")
    for name in defined.index:
        row = defined.loc[name]
        assert row.ci_method == "bootstrap-percentile"
        assert row.ci_lower < ref.loc[name, "est"] < row.ci_upper
        # bootstrap SE within 35% of lavaan's delta-method SE (200 replicates, N = 75)
        assert abs(row.se / ref.loc[name, "se"] - 1) < 0.35, name
    rows = result.estimates[result.estimates.op == ":="].set_index("lhs")
    assert np.isfinite(rows.loc["contrast", ["boot_lower", "boot_upper"]].astype(float)).all()


def test_fixed_and_freed_parameters_give_lavaans_std_lv_solution():
    """``f =~ NA*x1 + x2 + x3; f ~~ 1*f`` is lavaan's std.lv identification by hand: the same
    fit as the marker model, loadings = marker loadings x the factor SD."""
    marker = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
    std_lv = (
        "visual =~ NA*x1 + x2 + x3\ntextual =~ NA*x4 + x5 + x6\nspeed =~ NA*x7 + x8 + x9\n"
        "visual ~~ 1*visual\ntextual ~~ 1*textual\nspeed ~~ 1*speed\n"
    )
    _, a = fit_syntax(marker, "hs_data.csv")
    _, b = fit_syntax(std_lv, "hs_data.csv")
    np.testing.assert_allclose(a.fit["chisq"], b.fit["chisq"], atol=1e-6)
    assert a.fit["df"] == b.fit["df"] == 24
    est_a = a.estimates.set_index(["lhs", "op", "rhs"]).est
    est_b = b.estimates.set_index(["lhs", "op", "rhs"]).est
    sd = np.sqrt(est_a.loc[("visual", "~~", "visual")])
    np.testing.assert_allclose(
        est_b.loc[("visual", "=~", "x2")], est_a.loc[("visual", "=~", "x2")] * sd, atol=1e-5
    )
    assert est_b.loc[("visual", "~~", "visual")] == 1.0


def test_intercepts_are_lavaans_meanstructure():
    """'x1 ~ 1' adds lavaan's saturated intercepts on complete data: the sample means with
    SE sqrt(Sigma_ii / N), npar + p, the same chi-square (R: sem(hs_equal + 'x1 ~ 1'))."""
    text = (REFERENCE / FOLDER / "hs_equal.lav").read_text() + "x1 ~ 1\n"
    _, result = fit_syntax(text, "hs_data.csv", bootstrap=20)
    frame = reference_table(FOLDER, "hs_data.csv")
    rows = result.estimates[result.estimates.op == "~1"].set_index("lhs")
    assert list(rows.index) == [f"x{k}" for k in range(1, 10)]
    assert rows.se_boot.isna().all() and result.estimates.se_boot.notna().any()
    np.testing.assert_allclose(rows.est, frame[[f"x{k}" for k in range(1, 10)]].mean(), atol=1e-10)
    ref = dict(reference_table(FOLDER, "hs_equal_fit.csv").itertuples(index=False))
    assert result.fit["npar"] == ref["npar"] + 9 and result.fit["df"] == ref["df"]
    np.testing.assert_allclose(result.fit["chisq"], ref["chisq"], atol=0.01)


def test_hypotheses_name_labels_and_defined_parameters():
    """`hypotheses:` terms may be a label of the syntax or a `:=` name (where inequality
    constraints go)."""
    text = (REFERENCE / FOLDER / "poldem_contrast.lav").read_text()
    spec, result = fit_syntax(text, "poldem_data.csv")
    table = build_partable(spec)
    parsed = parse_hypotheses({"H1": "a > 0", "H2": "contrast > 0", "H3": "b < c"}, spec, table)
    assert [h.left.text for h in parsed] == ["dem60 ~ ind60", "contrast", "dem65 ~ dem60"]
    rows = evaluate(parsed, spec, table, result).set_index("hypothesis")
    ref = reference_table(FOLDER, "poldem_contrast_estimates.csv").set_index("lhs")
    np.testing.assert_allclose(rows.loc["H2", "estimate"], ref.loc["contrast", "est"], atol=0.002)


@pytest.mark.parametrize("name", ["hs_predictor", "poldem_means"])
def test_intercepts_of_predicted_constructs_are_lavaans(name):
    """'~ 1' rows equal lavaan's (tests/reference/lavaan_meanstructure): an item of a
    construct the observed age predicts has intercept mean - loading x path x mean(age), not
    its mean; SEs by the delta method; the predictor's mean is fixed (fixed.x, SE 0)."""
    folder = "lavaan_meanstructure"
    text = (REFERENCE / folder / f"{name}.lav").read_text()
    _, result = fit_syntax(text, "hs_data.csv" if name.startswith("hs") else "poldem_data.csv")
    est = reference_table(folder, f"{name}_estimates.csv").fillna({"rhs": ""})
    rows = result.estimates[result.estimates.op == "~1"]
    assert len(rows) == (7 if name == "hs_predictor" else 11)
    for _, row in rows.iterrows():
        ref = reference_row(est, row.lhs, "~1", "")
        assert abs(row.est - ref.est) < 0.002, row.lhs
        assert abs(row.se - ref.se) < 0.002, row.lhs


def test_fiml_intercepts_are_lavaans():
    """The same by FIML (sem.missing: fiml on complete data): lavaan's missing = "ml" with
    fixed.x = FALSE, intercepts with observed-information delta-method SEs."""
    folder = "lavaan_meanstructure"
    text = (REFERENCE / folder / "hs_predictor.lav").read_text()
    frame = reference_table(FOLDER, "hs_data.csv")
    spec = build_spec(RunConfig(name="t", model=text), columns=list(frame.columns))
    values = frame[list(spec.manifest)].astype(float)
    data = ResponseData(frame=values, raw=values, path=None, sha256="", ranges={})
    result = fit_sem(spec, data, SemConfig(missing="fiml"), progress=False)
    est = reference_table(folder, "hs_predictor_fiml_estimates.csv").fillna({"rhs": ""})
    rows = result.estimates[result.estimates.op == "~1"]
    assert len(rows) == 7
    for _, row in rows.iterrows():
        ref = reference_row(est, row.lhs, "~1", "")
        assert abs(row.est - ref.est) < 0.002, row.lhs
        assert abs(row.se - ref.se) < 0.002, row.lhs
