"""Reliability, validity and item statistics against R (psych, semTools) and closed forms.

The R references are in tests/reference/<folder>/reliability.csv and htmt.csv (R 4.2.2,
lavaan 0.6-14, semTools 0.5-6, psych 2.2.9); tolerances are the README's: 1e-6 for the pure data
functions (alpha, HTMT), 0.002 for what depends on the ML solution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import random_correlation

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable
from bayeslead.psychometrics.reliability import (
    alpha_from_cov,
    alpha_if_deleted,
    ave_from_standardized,
    average_variance_extracted,
    composite_reliability,
    cr_from_standardized,
    cronbach_alpha,
    item_total_correlations,
    omega,
    pairwise_covariance,
    standardized_alpha,
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
    fornell_larcker,
    harman_single_factor_share,
    htmt,
    variance_inflation,
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


def exact_sample(cov: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Data whose sample covariance (divisor n - 1) equals `cov` exactly."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, cov.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T))).T
    return 3.0 + z @ np.linalg.cholesky(cov).T


def compound_symmetry(k: int, r: float, variance: float = 1.0) -> np.ndarray:
    return variance * ((1 - r) * np.eye(k) + r * np.ones((k, k)))


# --- against R ------------------------------------------------------------------------------
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


# --- closed forms ---------------------------------------------------------------------------
@pytest.mark.parametrize(("k", "r"), [(3, 0.3), (4, 0.5), (6, 0.2)])
def test_alpha_of_parallel_items_is_spearman_brown(k, r):
    """Parallel items with correlation r: alpha = k r / (1 + (k - 1) r), raw and standardized."""
    expected = k * r / (1 + (k - 1) * r)
    cov = compound_symmetry(k, r, variance=2.5)
    np.testing.assert_allclose(alpha_from_cov(cov), expected, rtol=1e-12)
    x = exact_sample(cov, 50)
    np.testing.assert_allclose(cronbach_alpha(x), expected, rtol=1e-10)
    np.testing.assert_allclose(standardized_alpha(x), expected, rtol=1e-10)


def test_standardized_alpha_ignores_item_scale_raw_alpha_does_not():
    """Rescaling one item leaves standardized alpha at k r/(1+(k-1)r) but changes raw alpha."""
    k, r = 4, 0.4
    scale = np.diag([1.0, 1.0, 1.0, 3.0])
    cov = scale @ compound_symmetry(k, r) @ scale
    x = exact_sample(cov, 40, seed=3)
    np.testing.assert_allclose(standardized_alpha(x), k * r / (1 + (k - 1) * r), rtol=1e-10)
    # raw: 4/3 * (1 - tr/sum) with tr = 3 + 9 = 12, sum = 12 + r*(6*1 + 2*3*3) = 12 + 9.6
    np.testing.assert_allclose(cronbach_alpha(x), 4 / 3 * (1 - 12 / 21.6), rtol=1e-10)


def test_alpha_is_vectorised_over_leading_axes():
    """A stack of compound-symmetry matrices gives each its own Spearman-Brown value."""
    rs = np.array([0.1, 0.3, 0.6])
    covs = np.stack([compound_symmetry(5, r) for r in rs])
    np.testing.assert_allclose(alpha_from_cov(covs), 5 * rs / (1 + 4 * rs), rtol=1e-12)
    data = np.stack([exact_sample(c, 30, seed=i) for i, c in enumerate(covs)])
    np.testing.assert_allclose(cronbach_alpha(data), 5 * rs / (1 + 4 * rs), rtol=1e-10)


def test_missing_values_are_handled_pairwise_as_psych():
    """cov(x, use = "pairwise") (pandas' DataFrame.cov is pairwise as well)."""
    rng = np.random.default_rng(7)
    x = exact_sample(compound_symmetry(4, 0.45), 60, seed=7)
    x[rng.random(x.shape) < 0.1] = np.nan
    pairwise = pd.DataFrame(x).cov().to_numpy()
    np.testing.assert_allclose(pairwise_covariance(x), pairwise, rtol=1e-12)
    np.testing.assert_allclose(cronbach_alpha(x), alpha_from_cov(pairwise), rtol=1e-12)
    sd = np.sqrt(np.diag(pairwise))
    np.testing.assert_allclose(
        standardized_alpha(x), alpha_from_cov(pairwise / np.outer(sd, sd)), rtol=1e-12
    )


def test_item_total_correlations_against_numpy():
    """Corrected item-total r = corr(x_i, sum of the other items), on the Holzinger visual items."""
    data = pd.read_csv(REFERENCE / "holzinger1939" / "data.csv")
    x = data[["x1", "x2", "x3", "x4"]].to_numpy(dtype=float)
    direct = [
        np.corrcoef(x[:, i], np.delete(x, i, axis=1).sum(axis=1))[0, 1] for i in range(x.shape[1])
    ]
    np.testing.assert_allclose(item_total_correlations(x), direct, rtol=1e-12)
    drop = [cronbach_alpha(np.delete(x, i, axis=1)) for i in range(x.shape[1])]
    np.testing.assert_allclose(alpha_if_deleted(x), drop, rtol=1e-12)


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


def test_omega_and_cr_of_a_tau_equivalent_model_equal_alpha():
    """lambda = 1, phi, theta: omega = CR = k^2 phi / (k^2 phi + k theta) = alpha of Sigma."""
    k, phi, theta = 4, 0.6, 0.9
    lam = np.ones(k)
    sigma = phi * np.outer(lam, lam) + theta * np.eye(k)
    expected = k**2 * phi / (k**2 * phi + k * theta)
    np.testing.assert_allclose(composite_reliability(lam, phi, np.full(k, theta)), expected)
    np.testing.assert_allclose(composite_reliability(lam, phi, theta * np.eye(k)), expected)
    np.testing.assert_allclose(omega(lam, phi, sigma.sum()), expected)
    np.testing.assert_allclose(alpha_from_cov(sigma), expected)


def test_composite_reliability_counts_residual_covariances():
    """A residual covariance psi_12 adds 2 psi_12 to the implied variance of the sum score."""
    lam, phi = np.array([1.0, 0.8, 0.7]), 1.5
    resid = np.diag([0.5, 0.6, 0.7])
    resid[0, 1] = resid[1, 0] = 0.2
    common = 2.5**2 * 1.5
    expected = common / (common + 1.8 + 0.4)
    np.testing.assert_allclose(composite_reliability(lam, phi, resid), expected, rtol=1e-12)
    sigma = phi * np.outer(lam, lam) + resid
    np.testing.assert_allclose(omega(lam, phi, sigma.sum()), expected, rtol=1e-12)


def test_ave_closed_form():
    """AVE = phi * sum(lambda^2) / sum(item variances)."""
    lam, phi, var = np.array([1.0, 0.8, 0.6]), 2.0, np.array([3.0, 2.5, 2.5])
    np.testing.assert_allclose(average_variance_extracted(lam, phi, var), 2.0 * 2.0 / 8.0)


@pytest.mark.parametrize(("k", "std"), [(3, 0.7), (5, 0.55)])
def test_standardized_cr_and_ave_of_equal_loadings(k, std):
    """Equal std loadings l: CR = k l^2 / (k l^2 + 1 - l^2), AVE = l^2."""
    loadings = np.full(k, std)
    np.testing.assert_allclose(
        cr_from_standardized(loadings), k * std**2 / (k * std**2 + 1 - std**2), rtol=1e-12
    )
    np.testing.assert_allclose(ave_from_standardized(loadings), std**2, rtol=1e-12)


def test_loading_functions_vectorise_over_draws():
    """Posterior-draw arrays (draws, k) give the same numbers as one draw at a time."""
    rng = np.random.default_rng(11)
    lam = rng.uniform(0.5, 1.2, size=(6, 4))
    phi = rng.uniform(0.5, 1.5, size=6)
    resid = rng.uniform(0.3, 0.8, size=(6, 4))
    std = rng.uniform(0.4, 0.9, size=(6, 4))
    cr = composite_reliability(lam, phi, resid)
    ave = average_variance_extracted(lam, phi, resid + lam**2 * phi[:, None])
    for d in range(6):
        total = lam[d].sum() ** 2 * phi[d]
        assert cr[d] == pytest.approx(total / (total + resid[d].sum()), rel=1e-12)
        explained = (lam[d] ** 2).sum() * phi[d]
        assert ave[d] == pytest.approx(explained / (explained + resid[d].sum()), rel=1e-12)
        assert cr_from_standardized(std)[d] == pytest.approx(cr_from_standardized(std[d]))
        assert ave_from_standardized(std)[d] == pytest.approx(np.mean(std[d] ** 2))


def test_htmt_of_a_block_constant_matrix_is_the_ratio():
    """Within-block r_w and between-block r_b everywhere: HTMT = HTMT2 = r_b / r_w."""
    corr = np.full((5, 5), 0.2)
    corr[:2, :2] = corr[2:, 2:] = 0.5
    np.fill_diagonal(corr, 1.0)
    for geometric in (True, False):
        value = htmt(corr, [[0, 1], [2, 3, 4]], htmt2=geometric)
        np.testing.assert_allclose(value, [[1.0, 0.4], [0.4, 1.0]], rtol=1e-12)
    negative = corr.copy()
    negative[:2, 2:] *= -1
    negative[2:, :2] *= -1
    np.testing.assert_allclose(htmt(negative, [[0, 1], [2, 3, 4]])[0, 1], 0.4, rtol=1e-12)


def test_fornell_larcker_closed_form():
    """sqrt(AVE) .7, .8, .6 on the diagonal; construct 3 fails against its .62 correlation."""
    ave = np.array([0.49, 0.64, 0.36])
    corr = np.array([[1.0, 0.65, 0.3], [0.65, 1.0, -0.62], [0.3, -0.62, 1.0]])
    matrix, ok = fornell_larcker(ave, corr)
    expected = corr.copy()
    np.fill_diagonal(expected, [0.7, 0.8, 0.6])
    np.testing.assert_allclose(matrix, expected, rtol=1e-12)
    assert ok.tolist() == [True, True, False]


@pytest.mark.parametrize("r", [0.0, 0.5, -0.8])
def test_vif_of_two_predictors(r):
    """Two predictors with correlation r: VIF = 1 / (1 - r^2) for both, whatever their scale."""
    cov = np.array([[4.0, 2.0 * r * 1.5, 0.3], [2.0 * r * 1.5, 2.25, 0.1], [0.3, 0.1, 1.0]])
    vif = variance_inflation(cov, {"y": [0, 1]})
    np.testing.assert_allclose(vif["y"], [1 / (1 - r**2)] * 2, rtol=1e-12)


def test_vif_of_three_predictors_matches_regression_r2():
    """VIF_j = 1 / (1 - R^2_j), R^2_j of an OLS regression of x_j on the other predictors."""
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 2.0, -0.4], [0.3, -0.4, 1.5]])
    x = exact_sample(cov, 200, seed=5)
    expected = []
    for j in range(3):
        others = np.column_stack([np.ones(len(x)), np.delete(x, j, axis=1)])
        beta, *_ = np.linalg.lstsq(others, x[:, j], rcond=None)
        resid = x[:, j] - others @ beta
        r2 = 1 - resid.var() / x[:, j].var()
        expected.append(1 / (1 - r2))
    np.testing.assert_allclose(variance_inflation(cov, {"y": [0, 1, 2]})["y"], expected)


def test_harman_share_of_a_matrix_with_known_eigenvalues():
    """First eigenvalue 3.2 of an 8-item correlation matrix: share 3.2 / 8 = 0.40."""
    eigs = np.array([3.2, 1.5, 1.0, 0.8, 0.6, 0.4, 0.3, 0.2])
    corr = random_correlation.rvs(eigs, random_state=np.random.default_rng(2))
    x = exact_sample(corr * 1.7, 100, seed=2)  # covariance scale does not matter
    np.testing.assert_allclose(harman_single_factor_share(x), 0.40, rtol=1e-10)
    one_factor = exact_sample(compound_symmetry(6, 0.6), 80, seed=4)
    np.testing.assert_allclose(harman_single_factor_share(one_factor), (1 + 5 * 0.6) / 6)
