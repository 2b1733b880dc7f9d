"""Two-level models with ordinal indicators: the reparameterisations of the cluster parts and the
thresholds against their closed forms; (slow) an end-to-end fit with short chains and recovery of
a simulated truth with default settings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.initial_point import make_initial_point_fn
from scipy import stats

from bayeslead.bayes.blocks.ordinal import ordinal_loglik
from bayeslead.bayes.blocks.parameters import parameter_groups
from bayeslead.bayes.blocks.scores import first_order_constructs
from bayeslead.bayes.data import ordinal_data
from bayeslead.bayes.gates import gate_messages
from bayeslead.bayes.models.twolevel import ordinal
from bayeslead.bayes.models.twolevel.build import slope_positions
from bayeslead.bayes.models.twolevel.fit import TwoLevel
from bayeslead.bayes.models.twolevel.ordinal import ZERO_SUM, cluster_parts, cluster_slopes
from bayeslead.bayes.priors import prior_set
from bayeslead.bayes.recipe import make_setup
from bayeslead.config import RunConfig
from bayeslead.core.partable import build_partable
from bayeslead.pipeline import fit_to_run_folder, item_scales, load_inputs, simulate_to_file
from bayeslead.simulate import simulate_responses

CONFIG = """\
name: {name}
data: {{path: data.csv, id: respondent_id, cluster: firm_id, scale: [1, 5]}}
constructs:
  TL: [tl1, tl2, tl3, tl4]
  SENS: [sens1, sens2, sens3, sens4]
  BI: [bi1, bi2, bi3, bi4]
paths: {{SENS: [TL], BI: [SENS, TL]}}
effects:
  ind: [TL, SENS, BI]
engine: bayes
bayes:
  indicators: ordinal
  random_slopes: [[TL, SENS]]
{bayes}truth:
  loadings: 0.75
  paths: {{"SENS ~ TL": 0.40, "BI ~ SENS": 0.35, "BI ~ TL": 0.15}}
  icc: 0.2
  cluster_size: 8
  random_slope_sd: {{"SENS ~ TL": 0.15}}
  thresholds: [-1.6, -0.7, 0.25, 1.2]
"""
PATHS = {("SENS", "TL"): 0.40, ("BI", "SENS"): 0.35, ("BI", "TL"): 0.15}
# The recovery test's data (960 respondents in 120 firms). A single data set can sit far from the
# truth by chance: seed 11 (used until Dec 2026) drew firms whose between-level SENS ~ TL is 0.713
# in the simulator's own latent responses (a 99th-percentile draw over 300 seeds; lavaan's
# two-level ML on the same continuous y* gives 0.719 [0.520, 0.919], the ordinal Bayesian fit
# [0.49, 0.93]), so no estimator could cover 0.40 there. Seed 8 is the first seed from 1 whose
# oracle estimates (`_oracle`) all lie within one sampling SD of the truth, checked by
# `test_recovery_data_are_a_typical_draw`; the Bayesian fit played no part in the choice.
RECOVERY_SEED = 8
# The recovery test of within and between indirect effects (issue 22, acceptance 4): the 150 firms
# x 8 design of `bench/hierarchical.py --ordinal --small` (the design whose fit the issue times,
# <= 300 s) with between paths of their own, so the between indirect effect (.6 x .5 = .30) differs
# from the within one (.4 x .35 = .14) and a mix-up of the levels shows. Its seed was chosen as
# RECOVERY_SEED was, on this design's oracle SDs (LEVELS_ORACLE_SD): 36 is the first seed from 1
# whose oracle estimates all lie within one sampling SD of the truth (the bench's seed 7 has one at
# 1.5 SDs); the Bayesian fit played no part in the choice.
BETWEEN = {("SENS", "TL"): 0.60, ("BI", "SENS"): 0.50, ("BI", "TL"): 0.10}
BETWEEN_TRUTH = '  between_paths: {"SENS ~ TL": 0.60, "BI ~ SENS": 0.50, "BI ~ TL": 0.10}\n'
LEVELS_SEED = 36
# sampling SDs of the oracle estimates over seeds 1-300 of that design (150 firms x 8)
LEVELS_ORACLE_SD = np.array([0.035, 0.036, 0.040, 0.096, 0.189, 0.193, 0.033, 0.031, 0.033])


def _config(tmp_path, name: str, bayes: str = "", n: int = 960, seed: int = 11):
    config = tmp_path / f"{name}.yaml"
    config.write_text(CONFIG.format(name=name, bayes=bayes))
    simulate_to_file(config, n, seed, tmp_path / "data.csv")
    return config


NAMES = ["TL", "SENS", "BI"]
WITHIN_RESIDUAL = 1 - 0.75**2  # each y*'s within residual variance (unit total, loading .75)
# sampling SDs of the oracle estimates over seeds 1-300 (`_oracle`, 120 firms x 8): within paths,
# between paths, ICCs
ORACLE_SD = np.array([0.039, 0.044, 0.044, 0.135, 0.150, 0.159, 0.037, 0.034, 0.039])


def _truth(between: dict = PATHS) -> np.ndarray:
    """What `_oracle` estimates, from the simulator's documented model: standardised within paths
    of the within covariance pooled over the firms' slopes (0.8 x E_u T_u Psi T_u', T_u =
    (I - B - u)^-1: the slope variance adds to SENS's and BI's variance, so SENS ~ TL is
    .4 / sqrt(1.0225) = .3956), between paths (lavaan-style: among the firms' latent means, no
    random slope there; `between`) and latent ICCs .2 / (.2 + pooled within variance)."""
    beta = np.zeros((3, 3))
    for (lhs, rhs), value in PATHS.items():
        beta[NAMES.index(lhs), NAMES.index(rhs)] = value
    to_bi = np.linalg.inv(np.eye(3) - beta)[2]  # BI's total effects
    psi = np.diag([1.0, 1.0 - 0.4**2, 0.0])  # unit variances at the mean slope
    psi[2, 2] = 1.0 - to_bi @ psi @ to_bi
    slope = np.zeros((3, 3))
    slope[1, 0] = 0.15  # SENS ~ TL's slope SD
    pooled = np.zeros((3, 3))
    for u in (slope, -slope):  # T_u Psi T_u' is quadratic in u: two points give the exact mean
        t = np.linalg.inv(np.eye(3) - beta - u)
        pooled += 0.4 * t @ psi @ t.T
    return np.r_[_standardised_paths(pooled), list(between.values()), 0.2 / (0.2 + np.diag(pooled))]


def _level_covariances(frame: pd.DataFrame, columns: list[str], size: int) -> tuple:
    """Pooled within covariance S_W and the between covariance S_B - S_W / size of `columns`
    (the method-of-moments decomposition for clusters of equal size)."""
    x = frame[columns].to_numpy()
    cluster = frame["firm_id"].to_numpy()
    means = frame.groupby("firm_id")[columns].mean()
    deviations = x - means.loc[cluster].to_numpy()
    n_clusters = len(means)
    within = deviations.T @ deviations / (len(x) - n_clusters)
    return within, np.cov(means.to_numpy().T) - within / size


def _standardised_paths(cov: np.ndarray) -> np.ndarray:
    """SENS ~ TL, BI ~ SENS, BI ~ TL standardised, from the covariance of (TL, SENS, BI)."""
    sd = np.sqrt(np.diag(cov))
    beta = np.linalg.solve(cov[np.ix_([1, 0], [1, 0])], cov[[1, 0], 2])
    return np.array([cov[1, 0] / cov[0, 0], beta[0], beta[1]]) * sd[[0, 1, 0]] / sd[[1, 2, 2]]


def _oracle(frame: pd.DataFrame) -> np.ndarray:
    """What the simulator's continuous latent responses y* say about the truth (`_truth` order):
    each construct's mean y*, split into levels by method of moments, within covariances less
    the known residual part (between y* has no residual part in the simulator)."""
    scores = pd.DataFrame(
        {c: frame[[f"{c.lower()}{i}" for i in range(1, 5)]].mean(axis=1) for c in NAMES}
    )
    scores["firm_id"] = frame["firm_id"]
    within, between = _level_covariances(scores, NAMES, 8)
    within -= np.eye(3) * WITHIN_RESIDUAL / 4
    icc = np.diag(between) / np.diag(between + within)
    return np.r_[_standardised_paths(within), _standardised_paths(between), icc]


def _latent_responses(tmp_path, n: int, seed: int, truth: str = "") -> pd.DataFrame:
    """The test config's draws as continuous y* (the same draws as the ordinal file); `truth`:
    lines added to its truth block."""
    path = tmp_path / "truth.yaml"
    path.write_text(CONFIG.format(name="truth", bayes="") + truth)
    inputs = load_inputs(path, need_data=False)
    scales = item_scales(inputs)
    return simulate_responses(inputs.spec, inputs.config.truth, scales, n, seed, continuous=True)


@pytest.mark.parametrize("between", ["paths", "between_paths"])
def test_simulator_truth_holds_at_each_level(tmp_path, between):
    """40,000 firms x 8: the standardised paths are the truth among the firms' latent means
    (between: `truth.paths`, or `truth.between_paths` where given) and within firms, the latent
    ICCs are `_truth`'s, and items vary between firms only through their construct (between item
    residual variance 0, as the ordinal model fixes it): every item's between variance and its
    between covariance with a same-construct item are .75^2 x .2."""
    extra, values = ("", PATHS) if between == "paths" else (BETWEEN_TRUTH, BETWEEN)
    frame = _latent_responses(tmp_path, 320_000, 5, extra)
    got = _oracle(frame)
    truth = _truth(values)
    np.testing.assert_allclose(got[:3], truth[:3], atol=0.01)  # sampling SD about .002
    np.testing.assert_allclose(got[3:6], truth[3:6], atol=0.03)  # about .008
    np.testing.assert_allclose(got[6:], truth[6:], atol=0.01)  # about .002
    items = [f"{c.lower()}{i}" for c in NAMES for i in range(1, 5)]
    _, between = _level_covariances(frame, items, 8)
    same = np.kron(np.eye(3), np.ones((4, 4))).astype(bool)
    np.testing.assert_allclose(between[same], 0.75**2 * 0.2, atol=0.006)


def test_recovery_data_are_a_typical_draw(tmp_path):
    """The recovery test's seed: every oracle estimate of its data within one sampling SD of the
    truth (see RECOVERY_SEED); seed 11's between SENS ~ TL was 2.3 SDs off."""
    z = np.abs(_oracle(_latent_responses(tmp_path, 960, RECOVERY_SEED)) - _truth()) / ORACLE_SD
    assert z.max() <= 1.0, z.round(2)
    assert (np.abs(_oracle(_latent_responses(tmp_path, 960, 11)) - _truth()) / ORACLE_SD)[3] > 2.0


def test_levels_recovery_data_are_a_typical_draw(tmp_path):
    """The seed of the within / between indirect-effect recovery test (see LEVELS_SEED): every
    oracle estimate of its data within one sampling SD of the truth."""
    frame = _latent_responses(tmp_path, 1200, LEVELS_SEED, BETWEEN_TRUTH)
    z = np.abs(_oracle(frame) - _truth(BETWEEN)) / LEVELS_ORACLE_SD
    assert z.max() <= 1.0, z.round(2)


def test_cluster_parts_are_the_conditional_distribution_given_the_cluster_means():
    """u_b,j = B C^-1 ubar_j + chol(B - B C^-1 B) z_j with C = B + W / n_j, and the log-Jacobian
    of z -> u_b is the log-determinant of that map (autodiff Jacobian)."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    within, between = a @ a.T + np.eye(3), 0.3 * (b @ b.T) + 0.1 * np.eye(3)
    cluster = np.array([0, 0, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3])
    total = rng.normal(size=(len(cluster), 3))
    z = pt.as_tensor(rng.normal(size=(4, 3)))
    part, log_jacobian = cluster_parts(pt.as_tensor(total), z, cluster, within, between, 3)
    jacobian = pytensor.gradient.jacobian(part.ravel(), z)
    got, logdet, jac = pytensor.function([], [part, log_jacobian, jacobian])()
    expected, expected_logdet = [], 0.0
    for j in range(4):
        members = total[cluster == j]
        c = between + within / len(members)
        gain = between @ np.linalg.inv(c)
        factor = np.linalg.cholesky(between - gain @ between)
        expected.append(gain @ members.mean(axis=0) + factor @ z.eval()[j])
        expected_logdet += np.log(np.diag(factor)).sum()
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-10)
    np.testing.assert_allclose(logdet, expected_logdet, rtol=1e-10)
    np.testing.assert_allclose(np.linalg.slogdet(jac.reshape(12, 12))[1], logdet, rtol=1e-10)


def testcluster_slopes_are_the_conditional_distribution_given_the_within_scores():
    """Three correlated slopes, two on the same outcome: u_j = P_j^-1 b_j + C_j^-T z_j with
    P_j = C_j C_j' = Sigma_u^-1 + X_j; the log-density term is log N(u_j; 0, Sigma_u) plus the
    log-determinant of z -> u (autodiff Jacobian)."""
    inputs = load_inputs(_minimal_config(), need_data=False)
    table = build_partable(inputs.spec, "std.lv", unit_residuals=True)
    priors = prior_set({}, {q.key for q in table.free_params})
    positions = slope_positions(inputs.spec, table, [("F1", "F2"), ("F1", "F3"), ("F2", "F3")])
    rng = np.random.default_rng(3)
    cluster = np.repeat(np.arange(4), [3, 5, 2, 6])
    eta_w, residual = rng.normal(size=(16, 3)), rng.normal(size=(16, 3))
    with pm.Model(coords={"cluster": list("abcd")}) as model:
        slopes, logp = cluster_slopes(
            table, priors, positions, cluster, pt.as_tensor(eta_w), pt.as_tensor(residual)
        )
    z = rng.normal(size=(4, 3))
    point = make_initial_point_fn(
        model=model,
        overrides={"slope_sd": [0.2, 0.3, 0.25], "slope_partial": [0.7, 0.4, 0.6], "slope_free": z},
        jitter_rvs=set(),
        return_transformed=True,
    )(0)
    [values] = model.replace_rvs_by_values([slopes])
    jacobian = pytensor.gradient.jacobian(values.ravel(), model.rvs_to_values[model["slope_free"]])
    outs = [slopes, logp, jacobian, model["slope_sd"], model["slope_corr"]]
    got, got_logp, jac, tau, corr = _function(model, outs)(point)
    cov = corr * np.outer(tau, tau)
    expected, logdet = [], 0.0
    for j in range(4):
        x, e = eta_w[cluster == j][:, [0, 0, 1]], residual[cluster == j][:, [1, 2, 2]]
        same = np.array([[1, 0, 0], [0, 1, 1], [0, 1, 1]])
        precision = np.linalg.inv(cov) + same * (x.T @ x)
        factor = np.linalg.cholesky(precision)
        expected.append(np.linalg.solve(precision, (x * e).sum(axis=0)))
        expected[-1] += np.linalg.solve(factor.T, z[j])
        logdet -= np.log(np.diag(factor)).sum()
    expected = np.array(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(np.linalg.slogdet(jac.reshape(12, 12))[1], logdet, rtol=1e-10)
    prior = stats.multivariate_normal(np.zeros(3), cov).logpdf(expected).sum() + 6 * np.log(
        2 * np.pi
    )
    np.testing.assert_allclose(got_logp, prior + logdet, rtol=1e-10)


def test_relative_thresholds_leave_the_likelihood_unchanged_by_a_common_shift_of_the_scores():
    """With relative thresholds the likelihood sees only the scores' deviations from their mean,
    the stored thresholds are the sampled ones plus the item's latent response at that mean, and
    the first cut's prior applies to the stored threshold."""
    inputs = load_inputs(_minimal_config(), need_data=False)  # 3 constructs, 8 items
    table = build_partable(inputs.spec, "std.lv", unit_residuals=True)
    priors = prior_set({}, {q.key for q in table.free_params})
    rng = np.random.default_rng(2)
    x = rng.integers(1, 5, size=(40, 8)).astype(float)
    data = ordinal_data(x)
    with pm.Model(coords={"item": list(table.manifest)}) as model:
        theta = pt.as_tensor(np.linspace(0.5, 1.0, table.n_free))
        scores = pm.Flat("scores", shape=(40, 3))
        phi = pt.as_tensor(np.array([[1.3, 0.2, 0.1], [0.2, 0.8, 0.0], [0.1, 0.0, 1.1]]))
        loglik = ordinal_loglik(
            table, theta, data, priors, phi, scores, "probit", relative=True, anchored=True
        )
        pm.Potential("loglik", loglik)
    point = model.initial_point()
    point["scores"] = rng.normal(size=(40, 3))
    point["threshold_anchor"] = np.full(8, -0.8)  # each item's second cut (of three)
    loglik = _function(model, model["loglik"])
    shifted = {**point, "scores": point["scores"] + np.array([0.7, -0.4, 0.2])}
    assert loglik(point) == pytest.approx(loglik(shifted), rel=1e-12)
    thresholds = _function(model, model["thresholds"])(point)
    loadings = theta.eval()[[q.free for q in table.params if q.kind == "loading"]]
    w = loadings * np.sqrt(np.repeat(np.diag(phi.eval()), [3, 3, 2]))
    mean = np.repeat(point["scores"].mean(axis=0), [3, 3, 2])
    first = np.cumsum(np.r_[0, data.n_categories - 1])[:-1]
    np.testing.assert_allclose(thresholds[first + 1], -0.8 + w * mean / np.sqrt(1 + w**2))
    prior = _function(model, model["threshold_prior"])(point)
    assert prior == pytest.approx(stats.norm(0, 1.5).logpdf(thresholds[first]).sum(), rel=1e-7)


SECOND_ORDER = """\
name: second_order
data: {path: data.csv, id: respondent_id, cluster: firm_id, scale: [1, 4]}
constructs:
  DA: [a1, a2, a3]
  DB: [b1, b2, b3]
  Y: [y1, y2, y3]
second_order: {G: [DA, DB]}
paths: {Y: [G]}
engine: bayes
bayes:
  indicators: ordinal
  random_slopes: [[G, Y]]
truth:
  loadings: 0.75
  paths: {"Y ~ G": 0.4}
  icc: 0.2
  cluster_size: 4
  random_slope_sd: {"Y ~ G": 0.15}
  thresholds: [-0.7, 0.25, 1.2]
"""


def test_second_order_scores_are_an_exact_reparameterisation(tmp_path, monkeypatch):
    """With a second-order construct the model's log-density at free values v of its scores
    equals that of the model with explicit scores (`higher_order_totals` the identity) plus the
    log-Jacobian: per cluster of n, u_h - ubar_h = G_w (u_f - ubar_f) + K_w (v - vbar) and
    ubar_h = G_n ubar_f + L_n sqrt(n) vbar (the conditional distribution given the cluster's
    first-order totals, within and between), log-Jacobian (n - 1) log|K_w| + log|L_n| +
    (h / 2) log n. Clusters of unequal size (two firms lose a respondent)."""
    config = tmp_path / "second_order.yaml"
    config.write_text(SECOND_ORDER)
    simulate_to_file(config, 48, 5, tmp_path / "data.csv")
    frame = pd.read_csv(tmp_path / "data.csv")
    frame.drop(index=[0, 9]).to_csv(tmp_path / "data.csv", index=False)
    new_model, _ = _ordinal_twolevel_model(config)
    monkeypatch.setattr(ordinal, "higher_order_totals", lambda free, *_: (free, 0.0))
    old_model, setup = _ordinal_twolevel_model(config)
    table = setup.table
    rng = np.random.default_rng(4)
    point = {
        k: v + 0.3 * rng.standard_normal(v.shape) for k, v in old_model.initial_point().items()
    }
    m = len(table.variables) - table.n_manifest
    total = point["score_mean"] + ZERO_SUM.backward(pt.as_tensor(point["scores"])).eval()
    values = _function(old_model, [old_model[k] for k in ("theta", "psi_between", "beta_between")])
    theta, psi_b, beta_b = values(point)
    latent = slice(table.n_manifest, None)
    a, s = (x[latent, latent] for x in table.matrices(theta))
    phi_w, phi_b = (
        np.linalg.inv(np.eye(m) - b) @ psi @ np.linalg.inv(np.eye(m) - b).T
        for b, psi in ((a, s), (beta_b, psi_b))
    )
    scale = np.sqrt(np.diag(phi_w + phi_b))
    w_corr, b_corr = phi_w / np.outer(scale, scale), phi_b / np.outer(scale, scale)
    first = np.array(first_order_constructs(table)) - table.n_manifest
    higher = np.setdiff1d(np.arange(m), first)  # G, the second-order construct
    assert [table.variables[table.n_manifest + k] for k in higher] == ["G"]

    def conditional(cov):
        gain = np.linalg.solve(cov[np.ix_(first, first)], cov[np.ix_(first, higher)])
        spread = cov[np.ix_(higher, higher)] - cov[np.ix_(higher, first)] @ gain
        return gain, np.linalg.cholesky(spread)

    firms = pd.read_csv(tmp_path / "data.csv")["firm_id"].to_numpy()
    gain_w, factor_w = conditional(w_corr)
    free, correction, sizes = total.copy(), 0.0, set()
    for firm in np.unique(firms):
        rows = firms == firm
        n = rows.sum()
        sizes.add(n)
        u_f, u_h = total[np.ix_(rows, first)], total[np.ix_(rows, higher)]
        gain, factor = conditional(b_corr + w_corr / n)
        v_mean = np.linalg.solve(factor, (u_h.mean(0) - u_f.mean(0) @ gain)) / np.sqrt(n)
        residual = (u_h - u_h.mean(0)) - (u_f - u_f.mean(0)) @ gain_w
        free[np.ix_(rows, higher)] = v_mean + np.linalg.solve(factor_w, residual.T).T
        correction += (n - 1) * np.log(np.diag(factor_w)).sum() + np.log(np.diag(factor)).sum()
        correction += len(higher) * np.log(n) / 2.0
    assert sizes == {3, 4}
    moved = dict(point, score_mean=free.mean(axis=0))
    moved["scores"] = ZERO_SUM.forward(pt.as_tensor(free - free.mean(axis=0))).eval()
    expected = old_model.compile_logp()(point) + correction
    assert new_model.compile_logp()(moved) == pytest.approx(expected, rel=1e-10)


def test_scaled_loadings_are_an_exact_reparameterisation(tmp_path, monkeypatch):
    """Items' loadings sampled as loading x construct SD (`scaled_loading_values`): the model's
    log-density at those values equals that of the model sampling the loadings themselves (the
    two functions replaced by the identity) plus the log-Jacobian, -log s per item loading not
    sampled on the log scale (a first loading's log scale absorbs it)."""
    config = tmp_path / "second_order.yaml"
    config.write_text(SECOND_ORDER)
    simulate_to_file(config, 48, 5, tmp_path / "data.csv")
    new_model, setup = _ordinal_twolevel_model(config)
    table = setup.table
    monkeypatch.setattr(ordinal, "scaled_loading_values", lambda *_: ({}, []))
    monkeypatch.setattr(
        ordinal,
        "loadings_from_scaled",
        lambda table, raw, *_: pm.Deterministic("theta", raw, dims="parameter"),
    )
    old_model, _ = _ordinal_twolevel_model(config)
    rng = np.random.default_rng(6)
    point = {
        k: v + 0.3 * rng.standard_normal(v.shape) for k, v in old_model.initial_point().items()
    }
    theta, scale = _function(old_model, [old_model["theta"], old_model["latent_sd"]])(point)
    p = table.n_manifest
    moved = {k: v for k, v in point.items() if "loading" not in k}
    correction = 0.0
    for group in parameter_groups(setup.spec, table, setup.priors):
        if group.cls not in ("loadings", "first_loading"):
            continue
        rows = [table.free_params[k] for k in group.members]
        factor = np.array([scale[q.col - p] if q.row < p else 1.0 for q in rows])
        value = theta[np.array(group.members)] * factor
        if group.cls == "first_loading":
            moved[f"{group.name}_scaled_log"] = np.log(value)
        else:
            moved[f"{group.name}_scaled"] = value
            correction -= np.log(factor).sum()
    assert set(moved) == set(new_model.initial_point())
    expected = old_model.compile_logp()(point) + correction
    assert new_model.compile_logp()(moved) == pytest.approx(expected, rel=1e-10)


def _ordinal_twolevel_model(config) -> tuple[pm.Model, object]:
    """The ordinal two-level model `bayeslead fit` samples for `config`, and its setup."""
    inputs = load_inputs(config)
    family, settings = TwoLevel(), inputs.config.bayes
    prepared = family.prepare(inputs.spec, inputs.data, settings)
    setup = make_setup(
        inputs.spec, settings, family.unit_residuals(settings), family.fixed_values(prepared)
    )
    return family.build(setup, prepared).model, setup


def _function(model: pm.Model, out):
    """`out` (a graph of the model's variables, or a list of them) as a function of a point."""
    outs = model.replace_rvs_by_values(out if isinstance(out, list) else [out])
    outs = outs if isinstance(out, list) else outs[0]
    return model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")


def _minimal_config() -> RunConfig:
    return RunConfig.model_validate(
        {
            "name": "tiny",
            "data": {"scale": [1, 4]},
            "constructs": {"F1": ["a1", "a2", "a3"], "F2": ["b1", "b2", "b3"], "F3": ["c1", "c2"]},
            "paths": {"F2": ["F1"], "F3": ["F1", "F2"]},
        }
    )


@pytest.mark.slow  # about 60 s on 2 cores, most of it compiling
def test_ordinal_two_level_fit_end_to_end(tmp_path):
    """Short chains: the run folder has level-specific estimates, thresholds instead of item
    intercepts, no between-level item residuals, within/between/average effects, ICCs and
    cluster effects."""
    config = _config(
        tmp_path,
        "ordinal_two_level_short",
        "  chains: 2\n  draws: 40\n  tune: 40\n  cluster_effects: true\n",
        n=240,
    )
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    est = result.estimates
    assert set(est.level) == {"", "within", "between"}
    thresholds = est[est.op == "|"]
    assert len(thresholds) == 48 and (thresholds.level == "between").all()
    assert not (est.op == "~1").any()
    between = est[est.level == "between"]
    assert not (
        (between.op == "~~") & (between.lhs == between.rhs) & between.lhs.str.match(r"[a-z]")
    ).any()
    assert len(est[(est.op == "~") & (est.level == "between")]) == 3
    assert set(result.effects.level) == {"within", "between", "average"}
    assert "fixed at 0" in result.info["between_item_residuals"]
    icc = pd.read_csv(folder / "icc.csv")
    assert list(icc.construct) == ["TL", "SENS", "BI"] and icc.icc.between(0, 1).all()
    effects = pd.read_csv(folder / "cluster_effects.csv")
    assert effects.cluster.nunique() == 30
    # within loadings on the delta-scaled y*: the item's total latent-response variance is 1
    rows = est.set_index(["lhs", "op", "rhs", "level"])
    assert rows.loc[("TL", "=~", "tl1", ""), "est"] == 1.0
    assert 0.2 < rows.loc[("tl1", "~~", "tl1", "within"), "est"] < 0.8


@pytest.mark.slow
def test_ordinal_two_level_recovery_with_default_settings(tmp_path):
    """120 firms x 8, 3 constructs x 4 five-point items, ICC .2, random slope SD .15 on SENS ~ TL,
    default settings (draws until the gates pass). Truth is the simulator's standardised values, so
    paths are compared as standardised within- and between-level coefficients (posterior draws
    standardised with each level's latent covariance, within at the mean slopes); latent ICCs are
    between / (between + within averaged over the slopes)."""
    config = _config(tmp_path, "ordinal_two_level", seed=RECOVERY_SEED)
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    d = result.diagnostics
    assert d["max_rhat"] <= 1.01 and d["divergences"] == 0, d
    draws = _standardised_level_paths(result.idata.posterior)
    for level, values in (("within", PATHS), ("between", PATHS)):
        for (lhs, rhs), truth in values.items():
            lower, upper = np.quantile(draws[level, lhs, rhs], [0.025, 0.975])
            assert lower <= truth <= upper, (level, lhs, rhs, lower, upper)
            if level == "within":
                mean = draws[level, lhs, rhs].mean()
                assert abs(mean - truth) <= 0.1, (lhs, rhs, mean)
    icc = pd.read_csv(folder / "icc.csv").set_index("construct")
    for name, value in zip(NAMES, _truth()[6:], strict=True):
        assert icc.loc[name, "ci_lower"] <= value <= icc.loc[name, "ci_upper"], (name, value)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["timings"]["sampling_s"] > 0


@pytest.mark.slow  # 160 s at 1,000 draws, quiet 2 cores (bench/hierarchical.py --ordinal --small)
def test_ordinal_two_level_recovery_of_within_and_between_indirect_effects(tmp_path):
    """Issue 22, acceptance 4: 150 firms x 8, 3 constructs x 4 five-point items, ICC .2, random
    slope SD .15 on SENS ~ TL, between paths .60 / .50 / .10 (within .40 / .35 / .15), default
    settings (draws until the gates pass): the gates pass and the 95% intervals of the standardised
    within (.14), between (.30) and average (.14) indirect effects, of the standardised paths at
    both levels, of the random slope's SD (.15 on the raw metric: the constructs' variances are
    equal at each level, so raw and standardised values coincide here) and of the latent ICCs cover
    the truth. Design and seed: see LEVELS_SEED."""
    config = tmp_path / "levels.yaml"
    config.write_text(CONFIG.format(name="levels", bayes="") + BETWEEN_TRUTH)
    simulate_to_file(config, 1200, LEVELS_SEED, tmp_path / "data.csv")
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    assert result.diagnostics["passed"], gate_messages(result.diagnostics)
    effects = result.effects[(result.effects.effect == "ind") & (result.effects.kind == "indirect")]
    effects = effects.set_index("level")
    for level, truth in (("within", 0.4 * 0.35), ("between", 0.6 * 0.5), ("average", 0.4 * 0.35)):
        row = effects.loc[level]
        assert row.std_ci_lower <= truth <= row.std_ci_upper, (level, row.std_est)
    draws = _standardised_level_paths(result.idata.posterior)
    for level, values in (("within", PATHS), ("between", BETWEEN)):
        for (lhs, rhs), truth in values.items():
            lower, upper = np.quantile(draws[level, lhs, rhs], [0.025, 0.975])
            assert lower <= truth <= upper, (level, lhs, rhs, lower, upper)
    est = result.estimates
    slope = est[(est.lhs == "SENS~TL") & (est.op == "~~") & (est.label == "sd")].iloc[0]
    assert slope.ci_lower <= 0.15 <= slope.ci_upper, (slope.ci_lower, slope.ci_upper)
    icc = pd.read_csv(folder / "icc.csv").set_index("construct")
    for name, value in zip(NAMES, _truth(BETWEEN)[6:], strict=True):
        assert icc.loc[name, "ci_lower"] <= value <= icc.loc[name, "ci_upper"], (name, value)


def _standardised_level_paths(post) -> dict[tuple[str, str, str], np.ndarray]:
    """Draws of the standardised paths, {(level, lhs, rhs): draws}: within at the mean slopes
    (std.lv: unit residual variances), between with the between latent covariance."""
    theta = post["theta"].values.reshape(-1, post["theta"].shape[-1])
    keys = list(post["theta"].coords["parameter"].values)
    beta_w = np.zeros((len(theta), 3, 3))
    for lhs, rhs in PATHS:
        beta_w[:, NAMES.index(lhs), NAMES.index(rhs)] = theta[:, keys.index(f"{lhs} ~ {rhs}")]
    t_w = np.linalg.inv(np.eye(3) - beta_w)
    phi_w = t_w @ np.swapaxes(t_w, -1, -2)
    beta_b = post["beta_between"].values.reshape(-1, 3, 3)
    t_b = np.linalg.inv(np.eye(3) - beta_b)
    phi_b = t_b @ post["psi_between"].values.reshape(-1, 3, 3) @ np.swapaxes(t_b, -1, -2)
    out = {}
    for level, beta, phi in (("within", beta_w, phi_w), ("between", beta_b, phi_b)):
        sd = np.sqrt(np.diagonal(phi, axis1=1, axis2=2))
        for lhs, rhs in PATHS:
            i, j = NAMES.index(lhs), NAMES.index(rhs)
            out[level, lhs, rhs] = beta[:, i, j] * sd[:, j] / sd[:, i]
    return out
