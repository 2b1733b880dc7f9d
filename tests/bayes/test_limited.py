"""The limited-information ordinal route (`bayes.ordinal: polychoric`) against lavaan 0.6-14's
WLSMV on psych's bfi (tests/reference/polychoric/): minimising the diagonal-weight discrepancy
over bayeslead's std.lv / theta parameterisation gives WLSMV's standardised loadings, the
sandwich covariance its robust standard errors; the PyMC likelihood is that discrepancy. The
sampled fit itself is checked in bench/likert.py (and the slow test here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymc.initial_point import make_initial_point_fn
from scipy import optimize

from bayeslead.bayes.models.single.build import build_polychoric_model
from bayeslead.bayes.models.single.limited import (
    AUTO_POLYCHORIC_RESPONSES,
    choose_ordinal_estimator,
    implied_rho,
    rho_jacobian,
    sandwich_covariance,
    srmr_draws,
    threshold_draws,
)
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.start import ml_on_moments, polychoric_start, unit_residual_theta
from bayeslead.core.partable import build_partable
from bayeslead.core.polychoric import polychoric
from bayeslead.core.spec import Factor, ModelSpec
from tests.conftest import REFERENCE

FOLDER = REFERENCE / "polychoric"
FACTORS = {f: tuple(f"{f}{k}" for k in range(1, 6)) for f in "ACENO"}


@pytest.fixture(scope="module")
def bfi():
    """Polychorics of bfi and the DWLS optimum in the theta parameterisation."""
    pc = polychoric(pd.read_csv(FOLDER / "bfi.csv").to_numpy(dtype=float))
    spec = ModelSpec(factors=tuple(Factor(n, items) for n, items in FACTORS.items()))
    table = build_partable(spec, "std.lv", unit_residuals=True)
    priors = prior_set({}, {p.key for p in table.free_params})
    start = unit_residual_theta(table, *ml_on_moments(spec, pc.corr))
    w = pc.n / np.diag(pc.gamma_rho)

    def discrepancy(theta):
        d = pc.rho - implied_rho(table, theta)
        return 0.5 * np.sum(w * d * d), -(rho_jacobian(table, theta).T @ (w * d))

    result = optimize.minimize(
        discrepancy, start, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 3000}
    )
    return pc, spec, table, priors, result.x


def _std_loadings(table, theta):
    rows = [k for k, q in enumerate(table.params) if q.kind == "loading"]
    return [table.params[k].key for k in rows], table.standardized(theta)[..., rows]


def _lavaan(name: str) -> pd.DataFrame:
    out = pd.read_csv(FOLDER / name)
    return out.assign(key=out.lhs + " " + out.op + " " + out.rhs).set_index("key")


def test_rho_jacobian_matches_finite_differences(bfi):
    _, _, table, _, theta = bfi
    numeric = np.empty((300, len(theta)))
    for k in range(len(theta)):
        step = np.zeros(len(theta))
        step[k] = 1e-6
        numeric[:, k] = (implied_rho(table, theta + step) - implied_rho(table, theta - step)) / 2e-6
    assert np.abs(rho_jacobian(table, theta) - numeric).max() < 1e-7


def test_dwls_solution_is_wlsmv(bfi):
    """Same marker orientation as lavaan: A and E point the way of the reverse-keyed A1, E1."""
    _, _, table, _, theta = bfi
    names, loadings = _std_loadings(table, theta)
    expected = _lavaan("bfi_wlsmv_std.csv").loc[names, "est.std"].to_numpy()
    assert np.abs(loadings - expected).max() < 1e-4


def test_sandwich_covariance_gives_wlsmv_robust_standard_errors(bfi):
    pc, _, table, _, theta = bfi
    v = sandwich_covariance(table, pc, theta)
    names, _ = _std_loadings(table, theta)
    jac = np.empty((len(names), len(theta)))
    for k in range(len(theta)):
        step = np.zeros(len(theta))
        step[k] = 1e-6
        up, down = _std_loadings(table, theta + step)[1], _std_loadings(table, theta - step)[1]
        jac[:, k] = (up - down) / 2e-6
    se = np.sqrt(np.diag(jac @ v @ jac.T))
    expected = _lavaan("bfi_wlsmv_std.csv").loc[names, "se"].to_numpy()
    assert np.abs(se / expected - 1).max() < 2e-3


def test_srmr_at_the_solution_is_lavaans(bfi):
    pc, _, table, _, theta = bfi
    fit = pd.read_csv(FOLDER / "bfi_wlsmv_fit.csv").set_index("measure").value
    assert srmr_draws(pc, implied_rho(table, theta)) == pytest.approx(fit["srmr"], abs=5e-5)


def test_model_log_density_is_the_dwls_discrepancy(bfi):
    """The PyMC likelihood term equals -1/2 N sum (r - rho)^2 / Gamma_kk at any theta."""
    pc, spec, table, priors, theta = bfi
    model = build_polychoric_model(spec, table, pc, priors)
    initial = polychoric_start(spec, table, priors, pc.corr)
    point = make_initial_point_fn(
        model=model, overrides=initial, jitter_rvs=set(), return_transformed=True
    )(0)
    outputs = model.replace_rvs_by_values([model["theta"], model["loglik"]])
    function = model.compile_fn(
        outputs, inputs=model.value_vars, point_fn=True, on_unused_input="ignore"
    )
    theta, loglik = function(point)
    assert np.abs(theta - unit_residual_theta(table, *ml_on_moments(spec, pc.corr))).max() < 1e-8
    d = pc.rho - implied_rho(table, theta)
    expected = -0.5 * np.sum(pc.n / np.diag(pc.gamma_rho) * d * d)
    assert loglik == pytest.approx(expected, rel=1e-10)


def test_threshold_draws_are_the_two_step_values_with_wlsmv_standard_errors(bfi):
    pc = bfi[0]
    draws = threshold_draws(pc, (20000,), np.random.default_rng(0))
    expected = pd.read_csv(FOLDER / "bfi_thresholds_lavaan.csv", index_col=0).th.to_numpy()
    est = pd.read_csv(FOLDER / "bfi_wlsmv_est.csv")
    se = est[est.op == "|"].se.to_numpy()
    assert np.abs(draws.mean(axis=0) - expected).max() < 4 * se.max() / np.sqrt(20000)
    assert np.abs(draws.std(axis=0) / se - 1).max() < 0.05


def test_auto_chooses_by_the_number_of_responses():
    assert choose_ordinal_estimator("auto", 69_492)[0] == "polychoric"
    assert choose_ordinal_estimator("auto", 10_000)[0] == "full"
    assert choose_ordinal_estimator("auto", AUTO_POLYCHORIC_RESPONSES)[0] == "full"
    estimator, reason = choose_ordinal_estimator("full", 69_492)
    assert estimator == "full" and "was set" in reason
    assert "69,492 ordinal responses" in choose_ordinal_estimator("auto", 69_492)[1]


@pytest.mark.slow
def test_bfi_fit_with_default_settings_is_wlsmv(tmp_path):
    """psych's bfi (2,800 x 25, blanks, reverse-keyed items) with default settings: auto takes
    the polychoric route, the gates pass, every sign is right and the standardised loadings are
    WLSMV's within 0.002."""
    from bayeslead.pipeline import fit_to_run_folder

    config = tmp_path / "bfi.yaml"
    fixture = REFERENCE.parent / "fixtures" / "configs" / "bfi_ordinal.yaml"
    config.write_text(fixture.read_text().replace("../../reference", str(REFERENCE)))
    _, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    assert result.info["ordinal_estimator"] == "polychoric"
    assert result.diagnostics["passed"]
    rows = result.estimates[result.estimates.op == "=~"]
    lavaan = _lavaan("bfi_wlsmv_std.csv")  # marker A1/E1: compare absolute values
    expected = lavaan.loc[(rows.lhs + " =~ " + rows.rhs).to_numpy(), "est.std"].abs().to_numpy()
    assert np.abs(rows.std_est.abs().to_numpy() - expected).max() < 0.002
    reversed_items = {"A1", "C4", "C5", "E1", "E2", "O2", "O5"}
    assert ((rows.std_est < 0) == rows.rhs.isin(reversed_items)).all()
    assert result.fit["srmr"] == pytest.approx(0.0825, abs=0.002)


def test_polychoric_is_refused_for_two_level_models():
    from bayeslead.bayes.engine import family_of
    from bayeslead.errors import InputError
    from bayeslead.pipeline import load_inputs

    inputs = load_inputs(REFERENCE.parent / "fixtures" / "configs" / "two_level.yaml")
    settings = inputs.config.bayes.model_copy(
        update={"indicators": "ordinal", "ordinal": "polychoric"}
    )
    with pytest.raises(InputError, match="bayes.ordinal: polychoric .* single-level models only"):
        family_of(inputs.spec).prepare(inputs.spec, inputs.data, settings)


def test_unusable_items_are_named():
    from bayeslead.bayes.models.single.limited import item_polychorics
    from bayeslead.errors import InputError

    rng = np.random.default_rng(0)
    x = rng.integers(1, 5, size=(50, 3)).astype(float)
    x[:, 1] = 2.0
    x[:25, 0], x[25:, 2] = np.nan, np.nan
    with pytest.raises(InputError) as caught:
        item_polychorics(x, ["a", "b", "c"], "data.csv")
    message = str(caught.value)
    assert "b: has fewer than two observed categories" in message
    assert "a, c: no respondent answered both items" in message


def test_fit_measures_and_warnings_of_adjusted_draws(bfi):
    """PPP and SRMR from the draws; draws pushed through a first loading's zero or outside a
    correlation's range are named."""
    from bayeslead.bayes.models.single.limited import limited_fit_measures

    pc, _, table, _, theta = bfi
    draws = np.tile(theta, (2, 50, 1))
    fit, problems = limited_fit_measures(table, pc, draws, np.random.default_rng(0))
    assert fit["srmr"] == pytest.approx(0.0825, abs=5e-4) and fit["ppp"] == 0.0
    assert problems == []
    first = table.params[[q.kind for q in table.params].index("loading")]
    corr = next(q for q in table.free_params if q.kind == "latent_covariance")
    draws[0, 0, first.free], draws[1, :10, corr.free] = -0.1, 1.2
    _, problems = limited_fit_measures(table, pc, draws, np.random.default_rng(0))
    assert [(p.where, p.message[:4]) for p in problems] == [(first.key, "1.0%"), (corr.key, "10.0")]
