"""Measurement-quality tables against the R references (psych, semTools, lavaan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable
from bayeslead.psychometrics.reliability import (
    cronbach_alpha,
)
from bayeslead.psychometrics.tables import (
    AVE_MIN,
    CR_MIN,
    RELIABILITY_COLUMNS,
    htmt_flags,
    htmt_table,
    item_table,
    reliability_table,
    vif_table,
)
from bayeslead.psychometrics.validity import (
    htmt,
)
from tests.conftest import REFERENCE, reference_row, reference_table

HS_CONSTRUCTS = {
    "visual": ["x1", "x2", "x3"],
    "textual": ["x4", "x5", "x6"],
    "speed": ["x7", "x8", "x9"],
}


SERIAL_CONSTRUCTS = {
    k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]
}


SERIAL_PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


FOLDERS = ["holzinger1939", "serial_mediation"]


def _config(folder: str, structural: bool = False) -> RunConfig:
    if folder == "holzinger1939":
        return RunConfig(name="hs", constructs=HS_CONSTRUCTS)
    paths = SERIAL_PATHS if structural else {}
    return RunConfig(name="serial", constructs=SERIAL_CONSTRUCTS, paths=paths)


def _fitted(folder: str, structural: bool = False):
    """ML fit exactly as lavaan (divisor-N covariance of the complete data)."""
    spec = build_spec(_config(folder, structural))
    if not structural:
        spec = spec.measurement_model()  # five correlated factors, as the R reliability fit
    data = pd.read_csv(REFERENCE / folder / "data.csv")
    table = build_partable(spec)
    x = data[list(spec.manifest)].to_numpy(dtype=float)
    cov = np.cov(x.T, bias=True)
    solution = fit_ml(table, cov, table.start_values(cov))
    assert solution.converged
    return spec, table, solution.theta, data


@pytest.fixture(scope="module", params=FOLDERS)
def reliability(request):
    """(our reliability table, the R reference), rows in the same construct order."""
    spec, table, theta, data = _fitted(request.param)
    ours = reliability_table(table, theta, data, spec)
    ref = reference_table(request.param, "reliability.csv")
    assert list(ours["construct"]) == list(ref["construct"])
    return ours, ref


@pytest.fixture(scope="module")
def serial_structural():
    return _fitted("serial_mediation", structural=True)


def test_reliability_table_layout(reliability):
    """One row per construct in model order, item counts as R, the documented columns."""
    ours, ref = reliability
    assert tuple(ours.columns) == RELIABILITY_COLUMNS
    assert ours["n_items"].tolist() == ref["n_items"].tolist()


def test_alpha_matches_psych(reliability):
    """psych::alpha(data[items])$total$raw_alpha and $total$std.alpha, per construct."""
    ours, ref = reliability
    np.testing.assert_allclose(ours["alpha"], ref["alpha"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours["alpha_std"], ref["alpha_std"], rtol=0, atol=1e-6)


def test_omega_matches_comprelsem(reliability):
    """semTools::compRelSEM(fit)  (obs.var = TRUE: observed variance of the sum score)."""
    ours, ref = reliability
    np.testing.assert_allclose(ours["omega"], ref["omega"], rtol=0, atol=0.002)


def test_cr_matches_comprelsem_implied(reliability):
    """semTools::compRelSEM(fit, obs.var = FALSE)  (model-implied variance of the sum score)."""
    ours, ref = reliability
    np.testing.assert_allclose(ours["cr"], ref["cr"], rtol=0, atol=0.002)


def test_ave_matches_semtools(reliability):
    """semTools::AVE(fit)  (obs.var = TRUE: observed item variances)."""
    ours, ref = reliability
    np.testing.assert_allclose(ours["ave"], ref["ave"], rtol=0, atol=0.002)


def test_fornell_larcker_columns_match_std_loadings(reliability):
    """From lavaan::standardizedSolution(fit) loadings l: (sum l)^2/((sum l)^2 + sum(1 - l^2))
    and mean(l^2)."""
    ours, ref = reliability
    np.testing.assert_allclose(ours["cr_std_loadings"], ref["cr_std_loadings"], atol=0.002)
    np.testing.assert_allclose(ours["ave_std_loadings"], ref["ave_std_loadings"], atol=0.002)


def test_validity_flags_follow_the_r_values(reliability):
    """Flags from the R columns: cr > .70, ave > .50 (semTools::compRelSEM / AVE)."""
    ours, ref = reliability
    assert ours["cr_ok"].tolist() == (ref["cr"] > CR_MIN).tolist()
    assert ours["ave_ok"].tolist() == (ref["ave"] > AVE_MIN).tolist()
    np.testing.assert_allclose(ours["sqrt_ave"], np.sqrt(ref["ave"]), atol=0.002)


def test_latent_correlations_and_fornell_larcker_holzinger():
    """lavaan::standardizedSolution(cfa(model, HolzingerSwineford1939)) factor correlations
    (visual~~textual .459, visual~~speed .471, textual~~speed .283) against max_abs_corr."""
    spec, table, theta, data = _fitted("holzinger1939")
    ours = reliability_table(table, theta, data, spec).set_index("construct")
    std = reference_table("holzinger1939", "standardized.csv")

    def r(a, b):
        return reference_row(std, a, "~~", b)["est.std"]

    expected = {
        "visual": max(r("visual", "textual"), r("visual", "speed")),
        "textual": max(r("visual", "textual"), r("textual", "speed")),
        "speed": max(r("visual", "speed"), r("textual", "speed")),
    }
    np.testing.assert_allclose(
        ours.loc[list(expected), "max_abs_corr"], list(expected.values()), atol=0.002
    )
    # semTools::AVE: visual .371, textual .721, speed .424; every sqrt(AVE) beats .471
    assert ours["fornell_larcker_ok"].tolist() == [True, True, True]
    assert ours["cr_ok"].tolist() == [False, True, False]


@pytest.mark.parametrize("folder", FOLDERS)
def test_htmt_matches_semtools(folder):
    """semTools::htmt(model, data)  (0.5-6 defaults absolute = TRUE, htmt2 = TRUE)."""
    spec = build_spec(_config(folder))
    data = pd.read_csv(REFERENCE / folder / "data.csv")
    ours = htmt_table(data, spec)
    ref = reference_table(folder, "htmt.csv")
    assert list(ours.columns) == list(ref.columns)
    assert list(ours["construct"]) == list(ref["construct"])
    names = list(ref.columns[1:])
    np.testing.assert_allclose(ours[names], ref[names], rtol=0, atol=1e-6)


def test_reference_htmt_is_the_geometric_htmt2():
    """semTools::htmt(model, HolzingerSwineford1939): the arithmetic HTMT of Henseler et al.
    (htmt2 = FALSE) is visibly different (0.424 vs 0.384 for visual-textual)."""
    data = pd.read_csv(REFERENCE / "holzinger1939" / "data.csv")
    corr = np.corrcoef(data[[f"x{i}" for i in range(1, 10)]].to_numpy(float), rowvar=False)
    blocks = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    ref = reference_table("holzinger1939", "htmt.csv").iloc[:, 1:].to_numpy()
    np.testing.assert_allclose(htmt(corr, blocks), ref, rtol=0, atol=1e-6)
    arithmetic = htmt(corr, blocks, htmt2=False)
    within = [np.abs(corr[np.ix_(b, b)])[np.triu_indices(3, 1)].mean() for b in blocks]
    between = np.abs(corr[np.ix_(blocks[0], blocks[1])]).mean()
    np.testing.assert_allclose(arithmetic[0, 1], between / np.sqrt(within[0] * within[1]))
    np.testing.assert_allclose(arithmetic[0, 1], 0.4243230, atol=1e-6)
    assert abs(arithmetic[0, 1] - ref[0, 1]) > 0.04


def test_htmt_flags_on_the_holzinger_reference():
    """semTools::htmt(model, data): visual-textual .3841, visual-speed .3868, textual-speed .2797."""
    spec = build_spec(_config("holzinger1939"))
    values = htmt_table(pd.read_csv(REFERENCE / "holzinger1939" / "data.csv"), spec)
    assert htmt_flags(values).empty  # nothing above .85
    flagged = htmt_flags(values, threshold=0.385)
    assert flagged[["construct_a", "construct_b"]].values.tolist() == [["visual", "speed"]]
    np.testing.assert_allclose(flagged["htmt"], [0.386772930478728], atol=1e-6)


def test_vif_table_from_the_lavaan_standardized_paths(serial_structural):
    """VIF from lavaan std.all paths of sem(model, data) (standardized.csv): SEIZ's predictors
    SENS, TL correlate a; BI's predictors RECO, TL correlate c*(a*b + g); VIF = 1/(1 - r^2)."""
    spec, table, theta, _ = serial_structural
    ours = vif_table(table, theta, spec)
    std = reference_table("serial_mediation", "standardized.csv")

    def path(outcome, predictor):
        return reference_row(std, outcome, "~", predictor)["est.std"]

    a, b, g = path("SENS", "TL"), path("SEIZ", "SENS"), path("SEIZ", "TL")
    c = path("RECO", "SEIZ")
    r_seiz, r_bi = a, c * (a * b + g)
    assert ours[["outcome", "predictor"]].values.tolist() == [
        ["SEIZ", "SENS"],
        ["SEIZ", "TL"],
        ["BI", "RECO"],
        ["BI", "TL"],
    ]
    expected = [1 / (1 - r_seiz**2)] * 2 + [1 / (1 - r_bi**2)] * 2
    np.testing.assert_allclose(ours["vif"], expected, atol=0.002)


def test_item_table_holzinger():
    """Per-item mean, sd (N - 1), corrected item-total r and alpha if deleted."""
    data = pd.read_csv(REFERENCE / "holzinger1939" / "data.csv")
    spec = build_spec(_config("holzinger1939"))
    table = item_table(data, spec)
    assert table["item"].tolist() == [f"x{i}" for i in range(1, 10)]
    assert table["construct"].tolist() == ["visual"] * 3 + ["textual"] * 3 + ["speed"] * 3
    items = table["item"].tolist()
    np.testing.assert_allclose(table["mean"], data[items].mean().to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(table["sd"], data[items].std().to_numpy(), rtol=1e-12)
    x = data[["x4", "x5", "x6"]].to_numpy(float)
    r_x4 = np.corrcoef(x[:, 0], x[:, 1] + x[:, 2])[0, 1]
    np.testing.assert_allclose(table.loc[3, "item_total_r"], r_x4, rtol=1e-12)
    np.testing.assert_allclose(table.loc[3, "alpha_if_deleted"], cronbach_alpha(x[:, 1:]))
