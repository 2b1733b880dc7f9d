"""The Bayesian engine: likelihood Ops against closed forms, the LKJ construction, the metric
conversion, and (slow-marked) full fits against lavaan and the simulation truth.

Bayesian tolerances are the reference README's: posterior means within 0.1 (standardised
metric) or a quarter posterior SD of lavaan's ML; the standardised serial indirect effect within
0.01 of lavaan's (ML std.all for continuous indicators, WLSMV for ordinal) with a 95% interval
covering the population value in truth.json.
"""

from __future__ import annotations

import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayeslead.bayes.blocks.lkj import lkj_vine_shapes, vine_cholesky, vine_partials
from bayeslead.bayes.kernels.moments import complete_moments, pattern_moments
from bayeslead.bayes.kernels.ops import (
    interval_log_prob,
    interval_terms,
    pattern_loglik,
    pattern_terms,
)
from bayeslead.bayes.posterior import probability_of_direction, summarize
from bayeslead.bayes.ppc import pointwise_loglik
from bayeslead.bayes.priors import parse_prior, prior_set
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.mvnorm import f_ml_stack, minus2_loglik
from bayeslead.core.partable import build_partable, marker_scales, rescale
from bayeslead.data.patterns import pattern_groups
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder
from tests.conftest import REFERENCE, reference_row, reference_table

FIXTURES = REFERENCE.parent / "fixtures" / "configs"
SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}
PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


def _random_spd(p: int, rng) -> np.ndarray:
    a = rng.standard_normal((p, p))
    return a @ a.T / p + np.eye(p)


def test_pattern_loglik_matches_the_fiml_likelihood():
    """The Op's log-likelihood over missing-data patterns equals -1/2 of the FIML -2logL
    (bayeslead.core.mvnorm, itself checked against semopy) up to the 2 pi constant."""
    rng = np.random.default_rng(4)
    x = rng.multivariate_normal(np.zeros(5), _random_spd(5, rng), size=300)
    x[rng.random(x.shape) < 0.15] = np.nan
    groups = pattern_groups(x)
    moments = pattern_moments(groups, 5)
    sigma, mu = _random_spd(5, rng), rng.normal(size=5)
    value, g_sigma, g_mu, _, _, ok = pattern_terms(
        sigma,
        mu,
        moments.observed,
        moments.weight,
        moments.count,
        moments.scatter,
        moments.mean,
        True,
    )
    m2ll, grad_sigma, grad_mu = minus2_loglik(sigma, mu, groups)
    n_obs = np.sum(moments.observed * moments.count[:, None])
    assert ok
    np.testing.assert_allclose(value, -0.5 * (m2ll - n_obs * np.log(2 * np.pi)), rtol=1e-12)
    np.testing.assert_allclose(g_sigma, -0.5 * grad_sigma, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(g_mu, -0.5 * grad_mu, rtol=1e-9, atol=1e-9)


def test_complete_data_likelihood_integrates_the_means_out():
    """Closed form: with a flat prior on mu, the marginal is -(N-1)/2 log|Sigma| - tr(Sigma^-1 W)/2."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(50, 4))
    centred = x - x.mean(axis=0)
    scatter = centred.T @ centred
    sigma = _random_spd(4, rng)
    op = pattern_loglik(pt.as_tensor(sigma), pt.zeros(4), complete_moments(scatter, 50)).eval()
    expected = -0.5 * (49 * np.linalg.slogdet(sigma)[1] + np.trace(np.linalg.solve(sigma, scatter)))
    np.testing.assert_allclose(op, expected, rtol=1e-12)


def test_pattern_loglik_gradient_by_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 3))
    x[rng.random(x.shape) < 0.2] = np.nan
    moments = pattern_moments(pattern_groups(x), 3)
    s = pt.dmatrix("s")
    mu = pt.dvector("mu")
    value = pattern_loglik(s @ s.T + pt.eye(3), mu, moments)
    grads = pytensor.function([s, mu], pytensor.grad(value, [s, mu]))
    f = pytensor.function([s, mu], value)
    s0, mu0 = rng.normal(size=(3, 3)), rng.normal(size=3)
    g_s, g_mu = grads(s0, mu0)
    h = 1e-6
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        e = np.zeros((3, 3))
        e[i, j] = h
        np.testing.assert_allclose(
            g_s[i, j], (f(s0 + e, mu0) - f(s0 - e, mu0)) / (2 * h), rtol=1e-5
        )
    e = np.zeros(3)
    e[1] = h
    np.testing.assert_allclose(g_mu[1], (f(s0, mu0 + e) - f(s0, mu0 - e)) / (2 * h), rtol=1e-5)


def test_non_positive_definite_sigma_gives_minus_infinity():
    moments = complete_moments(np.eye(2) * 10, 10)
    value, *_, ok = pattern_terms(
        np.array([[1.0, 2.0], [2.0, 1.0]]),
        np.zeros(2),
        moments.observed,
        moments.weight,
        moments.count,
        moments.scatter,
        moments.mean,
        False,
    )
    assert value == -np.inf and not ok


@pytest.mark.parametrize("link", ["probit", "logit"])
def test_ordinal_interval_probabilities(link):
    """log P(a < e < b) against scipy's normal / logistic CDFs (far tails included), with
    a = lower * s - w u, b = upper * s - w u, w = loading x construct SD, s = sqrt(1 + w^2);
    derivatives by finite differences."""
    rng = np.random.default_rng(7)
    lower = np.array([[-1e3, -0.5, 0.3, 6.0], [-2.0, -1e3, -0.1, 0.2]])
    upper = np.array([[-1.0, 0.7, 1e3, 7.0], [-1.5, -1.0, 0.4, 1e3]])
    loadings = np.array([0.4, 0.5, 1.2, 0.8])
    phi = np.array([[1.5, 0.3], [0.3, 2.0]])
    column = np.array([0, 0, 1, 1])
    scores = rng.normal(size=(2, 2))
    total, d_lower, d_upper, d_load, d_phi, d_scores = interval_terms(
        lower, upper, loadings, phi, scores, column, link == "logit"
    )
    w = loadings * np.sqrt(np.diag(phi)[column])
    scale = np.sqrt(1 + w**2)
    a, b = lower * scale - w * scores[:, column], upper * scale - w * scores[:, column]
    dist = stats.norm if link == "probit" else stats.logistic
    expected = np.log(np.where(a > 0, dist.sf(a) - dist.sf(b), dist.cdf(b) - dist.cdf(a)))
    np.testing.assert_allclose(total, expected.sum(), rtol=1e-10)
    args = [pt.dmatrix(), pt.dmatrix(), pt.dvector(), pt.dmatrix(), pt.dmatrix()]
    f = pytensor.function(args, interval_log_prob(*args, column, link))
    values = [lower, upper, loadings, phi, scores]
    analytic = [d_lower, d_upper, d_load, d_phi, d_scores]
    h = 1e-6
    for k, index in [(2, (2,)), (3, (1, 1)), (4, (0, 1)), (0, (1, 2))]:
        up = [v.copy() for v in values]
        down = [v.copy() for v in values]
        up[k][index] += h
        down[k][index] -= h
        np.testing.assert_allclose(
            analytic[k][index], (f(*up) - f(*down)) / (2 * h), rtol=1e-5, atol=1e-8
        )


def test_vine_construction_is_lkj():
    """Lewandowski, Kurowicka & Joe (2009): with Beta partial correlations the correlation matrix
    is LKJ(eta), whose marginal correlations are Beta(eta - 1 + k/2, eta - 1 + k/2) on (-1, 1)."""
    k, eta = 3, 2.0
    rng = np.random.default_rng(8)
    shapes = lkj_vine_shapes(k, eta)
    partials = 2 * rng.beta(shapes, shapes, size=(4000, len(shapes))) - 1
    z = pt.dvector()
    chol_fn = pytensor.function([z], vine_cholesky(z, k))
    corr = np.array([(c := chol_fn(row)) @ c.T for row in partials])
    np.testing.assert_allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0, atol=1e-12)
    marginal = stats.beta(eta - 1 + k / 2, eta - 1 + k / 2, loc=-1, scale=2)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        assert stats.kstest(corr[:, i, j], marginal.cdf).pvalue > 0.001
    np.testing.assert_allclose(vine_partials(corr[0]), partials[0], atol=1e-10)


def test_std_lv_draws_convert_to_lavaan_marker_metric():
    """Closed form: the std.lv ML solution rescaled to the marker metric is the marker ML
    solution (which matches lavaan's estimates.csv)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    std, marker = build_partable(spec, "std.lv"), build_partable(spec)
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    cov = np.cov(x.T, bias=True)
    a = fit_ml(marker, cov, marker.start_values(cov)).theta
    b = fit_ml(std, cov, std.start_values(cov)).theta
    np.testing.assert_allclose(rescale(std, marker, b, marker_scales(std, b)), a, atol=1e-5)
    est = reference_table("serial_mediation", "estimates.csv")
    converted = rescale(std, marker, b, marker_scales(std, b))
    np.testing.assert_allclose(
        converted[marker.index("SENS ~ TL")], reference_row(est, "SENS", "~", "TL").est, atol=0.002
    )


def test_pointwise_loglik_sums_to_lavaan_logl():
    """At the ML estimates with the sample means, the respondents' log-densities sum to lavaan's
    logl (serial_mediation/fit.csv: the saturated-mean convention of the README)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table = build_partable(spec)
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    cov = np.cov(x.T, bias=True)
    theta = fit_ml(table, cov, table.start_values(cov)).theta
    loglik = pointwise_loglik(x, table.sigma(theta)[None])
    ref = dict(reference_table("serial_mediation", "fit.csv").itertuples(index=False))
    np.testing.assert_allclose(loglik.sum(), ref["logl"], atol=0.01)
    np.testing.assert_allclose(
        f_ml_stack(table.sigma(theta), cov) * len(x), ref["chisq"], atol=0.01
    )


def test_posterior_summaries():
    rng = np.random.default_rng(9)
    draws = rng.normal(loc=[0.0, 2.0], scale=1.0, size=(4, 2000, 2))
    table = summarize(draws)
    np.testing.assert_allclose(table.est, [0, 2], atol=0.05)
    np.testing.assert_allclose(table.ci_lower, [-1.96, 0.04], atol=0.08)
    assert (table.rhat < 1.01).all() and (table.ess_bulk > 5000).all()
    np.testing.assert_allclose(probability_of_direction(draws), [0.5, stats.norm.cdf(2)], atol=0.02)


def test_prior_grammar_and_overrides():
    assert str(parse_prior("normal(0, 0.5)")) == "normal(0, 0.5)"
    priors = prior_set(
        {"paths": "normal(0, 0.5)", "SENS ~ TL": "normal(0.3, 0.1)"}, {"SENS ~ TL", "TL =~ tl1"}
    )
    assert str(priors.for_parameter("SENS ~ TL", "paths")) == "normal(0.3, 0.1)"
    assert str(priors.for_parameter("SEIZ ~ SENS", "paths")) == "normal(0, 0.5)"
    for bad, message in [
        ({"paths": "normal(0)"}, "normal takes 2 argument(s)"),
        ({"paths": "uniform(0, 1)"}, "cannot read prior 'uniform(0, 1)'"),
        ({"residual_sd": "normal(0, 1)"}, "does not fit a positive-valued parameter"),
        ({"loadngs": "normal(0, 1)"}, "unknown prior class"),
        ({"BI ~ TL": "normal(0, 1)"}, "not a free parameter of the model"),
        ({"paths": "normal(0, -1)"}, "needs positive scale"),
    ]:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            prior_set(bad, {"SENS ~ TL"})


def test_short_end_to_end_bayesian_fit(tmp_path):
    """A short continuous fit through the whole pipeline (CI's end-to-end check): the run folder
    has the Bayesian files and the standardised serial effect is near lavaan's ML."""
    config = tmp_path / "c.yaml"
    text = (FIXTURES / "serial_bayes.yaml").read_text().replace("../../reference", str(REFERENCE))
    config.write_text(
        text.replace(
            "engine: bayes", "engine: bayes\nbayes: {chains: 2, draws: 300, tune: 300, loo: true}"
        )
    )
    path, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    assert {"idata.nc", "diagnostics.json", "estimates.csv", "effects.csv", "fit.json"} <= {
        p.name for p in path.iterdir()
    }
    effects = result.effects.set_index(["effect", "kind"])
    std = reference_table("serial_mediation", "standardized.csv")
    np.testing.assert_allclose(
        effects.loc[("ind_serial", "indirect"), "std_est"],
        std[std.lhs == "ind_serial"].iloc[0]["est.std"],
        atol=0.01,
    )
    assert {"rhat", "ess_bulk", "ess_tail"} <= set(result.estimates.columns)
    assert result.timings["compile_s"] > 0 and result.timings["sampling_s"] > 0
    assert 0.0 < result.fit["ppp"] < 1.0 and result.fit["elpd_loo"] < 0
    manifest = json.loads((path / "manifest.json").read_text())
    assert {"fit_s", "compile_s", "sampling_s", "total_s"} <= set(manifest["timings"])


def _fit(name: str, tmp_path, **replace):
    config = tmp_path / f"{name}.yaml"
    text = (FIXTURES / f"{name}.yaml").read_text().replace("../../reference", str(REFERENCE))
    config.write_text(text)
    return fit_to_run_folder(config, out=tmp_path / "out", progress=False)[1]


def _gates_pass(result):
    d = result.diagnostics
    assert d["max_rhat"] <= 1.01 and d["min_ess_bulk"] >= 400 and d["min_ess_tail"] >= 400
    assert d["divergences"] == 0 and d["passed"]


@pytest.mark.slow
def test_holzinger_posterior_agrees_with_lavaan(tmp_path):
    """R: cfa(model.lav, HolzingerSwineford1939): loadings, variances and factor covariances."""
    result = _fit("holzinger_bayes", tmp_path)
    _gates_pass(result)
    est = reference_table("holzinger1939", "estimates.csv")
    for _, row in result.estimates[result.estimates.op.isin(["=~", "~~"])].iterrows():
        ref = reference_row(est, row.lhs, row.op, row.rhs)
        assert abs(row.est - ref.est) <= max(0.1, 0.25 * row.se), f"{row.lhs} {row.op} {row.rhs}"


@pytest.mark.slow
def test_serial_mediation_posterior_continuous(tmp_path):
    """lavaan ML std.all of ind_serial = 0.05159; population value 0.0495 (truth.json)."""
    result = _fit("serial_bayes", tmp_path)
    _gates_pass(result)
    row = result.effects.set_index(["effect", "kind"]).loc[("ind_serial", "indirect")]
    np.testing.assert_allclose(row.std_est, 0.0515920240301507, atol=0.01)
    truth = json.loads((REFERENCE / "serial_mediation" / "truth.json").read_text())
    assert row.std_ci_lower <= truth["indirect_serial_std"] <= row.std_ci_upper
    assert row.p_direction > 0.99
    est = reference_table("serial_mediation", "estimates.csv")
    for _, r in result.estimates[result.estimates.op.isin(["=~", "~"])].iterrows():
        assert abs(r.est - reference_row(est, r.lhs, r.op, r.rhs).est) <= max(0.1, 0.25 * r.se)


@pytest.mark.slow
def test_serial_mediation_posterior_ordinal(tmp_path):
    """lavaan WLSMV (ordered = TRUE) std.all of ind_serial = 0.06151; truth 0.0495."""
    result = _fit("serial_ordinal", tmp_path)
    _gates_pass(result)
    row = result.effects.set_index(["effect", "kind"]).loc[("ind_serial", "indirect")]
    np.testing.assert_allclose(row.std_est, 0.0615139966126264, atol=0.01)
    truth = json.loads((REFERENCE / "serial_mediation" / "truth.json").read_text())
    assert row.std_ci_lower <= truth["indirect_serial_std"] <= row.std_ci_upper


def test_jax_likelihoods_match_the_numba_kernels():
    """numpyro runs on the JAX versions of the two likelihood Ops: same values."""
    pytest.importorskip("jax")
    from bayeslead.bayes.kernels import jax_ops

    rng = np.random.default_rng(10)
    x = rng.normal(size=(60, 4))
    x[rng.random(x.shape) < 0.1] = np.nan
    m = pattern_moments(pattern_groups(x), 4)
    sigma, mu = _random_spd(4, rng), rng.normal(size=4)
    expected = pattern_terms(sigma, mu, m.observed, m.weight, m.count, m.scatter, m.mean, False)[0]
    got = jax_ops.jax_pattern_loglik(sigma, mu, m.observed, m.weight, m.count, m.scatter, m.mean)
    np.testing.assert_allclose(float(got), expected, rtol=1e-10)
    lower = np.array([[-1e3, -0.5, 0.3], [-2.0, 0.1, 0.2]])
    upper = np.array([[-1.0, 0.7, 1e3], [-1.5, 0.5, 1e3]])
    loadings, phi, column = (
        np.array([0.4, 0.5, 1.2]),
        np.array([[1.5, 0.3], [0.3, 2.0]]),
        np.array([0, 0, 1]),
    )
    scores = rng.normal(size=(2, 2))
    for logit in (False, True):
        expected = interval_terms(lower, upper, loadings, phi, scores, column, logit)[0]
        got = jax_ops.jax_interval_total(lower, upper, loadings, phi, scores, column, logit)
        np.testing.assert_allclose(float(got), expected, rtol=1e-10)


def test_start_failure_names_the_variable():
    """A starting point with an impossible value gets a message naming the variable."""
    from bayeslead.bayes.data import continuous_data
    from bayeslead.bayes.models.single.build import build_continuous_model
    from bayeslead.bayes.sampling import start_failure

    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table = build_partable(spec, "std.lv")
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    priors = prior_set({}, {p.key for p in table.free_params})
    model = build_continuous_model(spec, table, continuous_data(x), priors)
    message = start_failure(model, {"paths": np.full(6, np.inf)})
    assert "the sampler could not start" in message and "paths" in message


def test_prior_check_command(tmp_path):
    """The prior predictive check runs from the CLI; the default path and effect priors are
    symmetric around zero (the normal(0, 1) loading/path priors are sign-symmetric)."""
    import subprocess
    import sys

    from bayeslead.bayes.prior_check import prior_check
    from bayeslead.pipeline import load_inputs

    config = tmp_path / "c.yaml"
    config.write_text(
        (FIXTURES / "serial_ordinal.yaml").read_text().replace("../../reference", str(REFERENCE))
    )
    inputs = load_inputs(config)
    check = prior_check(inputs.spec, inputs.config.bayes, inputs.data, draws=400, seed=3)
    summary = check.summary().set_index("quantity")
    assert set(check.paths.columns) == {
        "SENS ~ TL",
        "SEIZ ~ SENS",
        "SEIZ ~ TL",
        "RECO ~ SEIZ",
        "BI ~ RECO",
        "BI ~ TL",
    }
    assert (summary["median"].abs() < 0.15).all()
    assert (summary.lower < 0).all() and (summary.upper > 0).all()
    np.testing.assert_allclose(check.category_shares.sum(axis=1), 1.0)
    assert check.correlations.shape == (400, 190)
    out = tmp_path / "prior.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bayeslead.cli",
            "prior-check",
            str(config),
            "-o",
            str(out),
            "--draws",
            "100",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(out.resolve())
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ordinal_data_drops_empty_categories_and_missing_responses():
    from bayeslead.bayes.data import ordinal_data

    x = np.array(
        [[1, 5], [3, 5], [5, np.nan], [3, 4], [1, 2]], dtype=float
    )  # item 1: 2 and 4 unused
    data = ordinal_data(x)
    assert data.n_categories.tolist() == [3, 3]
    assert [v.tolist() for v in data.values] == [[1, 3, 5], [2, 4, 5]]
    assert len(data.respondent) == 9  # the missing response is left out
    np.testing.assert_array_equal(data.category[data.item == 0], [0, 1, 2, 1, 0])
    np.testing.assert_allclose(data.proportions[1], [0.25, 0.25, 0.5])
