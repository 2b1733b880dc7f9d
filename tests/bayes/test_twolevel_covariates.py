"""Observed covariates in the Bayesian two-level model, as lavaan treats them (issue 14, point 4):
on lavaan::Demo.twolevel, x1-x3 within-only (bayes.within_only) and w1, w2 between-only (constant
within clusters, found from the data). Fast: the split of the covariates, their fixed moments
against lavaan's, the statements for what is not estimated, and the graph's log-likelihood
against the exact multivariate normal density of each cluster. Slow: posterior means within one
lavaan SE of lavaan's ML estimates (tests/reference/twolevel_demo_equal: loadings equal across
levels, as in bayeslead's two-level model)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from bayeslead.bayes.models.twolevel.covariates import lavaan_syntax
from bayeslead.bayes.models.twolevel.fit import TwoLevel
from bayeslead.bayes.recipe import make_setup
from bayeslead.config import BayesConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.pipeline import fit, load_inputs
from tests.conftest import REFERENCE

DEMO = REFERENCE / "twolevel_demo"
EQUAL = REFERENCE / "twolevel_demo_equal"
COVARIATES = ["x1", "x2", "x3", "w1", "w2"]


def demo_spec(observed=COVARIATES, paths=None):
    return build_spec(
        RunConfig(
            name="demo",
            engine="bayes",
            data={"cluster": "cluster"},
            constructs={"F": ["y1", "y2", "y3"]},
            observed=observed,
            paths={"F": observed} if paths is None else paths,
        )
    )


def demo_data(frame: pd.DataFrame | None = None) -> ResponseData:
    frame = pd.read_csv(DEMO / "data.csv") if frame is None else frame
    return ResponseData(
        frame=frame,
        raw=frame,
        path=DEMO / "data.csv",
        sha256="",
        ranges={},
        clusters=frame[["cluster"]],
    )


def lavaan_rows() -> pd.DataFrame:
    rows = pd.read_csv(EQUAL / "estimates.csv")
    rows["level"] = np.where(rows.level == 1, "within", "between")
    rows["lhs"] = rows.lhs.replace({"fw": "F", "fb": "F"})
    rows["rhs"] = rows.rhs.replace({"fw": "F", "fb": "F"})
    return rows


def test_covariates_are_split_as_lavaan_splits_them():
    prepared = TwoLevel().prepare(
        demo_spec(), demo_data(), BayesConfig(within_only=["x1", "x2", "x3"])
    )
    covariates = prepared.covariates
    assert covariates.within == ("x1", "x2", "x3")
    assert covariates.between == ("w1", "w2")  # constant within clusters: found from the data
    assert prepared.moments.means.shape == (200, 3)  # the kernel sees the items only
    assert covariates.cluster_means.shape == (200, 3)
    assert covariates.cluster_values.shape == (200, 2)


def test_fixed_covariate_moments_equal_lavaans():
    """lavaan's fixed.x rows (se 0): within-only (co)variances and means over respondents,
    between-only ones over clusters."""
    covariates = (
        TwoLevel()
        .prepare(demo_spec(), demo_data(), BayesConfig(within_only=["x1", "x2", "x3"]))
        .covariates
    )
    fixed = lavaan_rows()
    fixed = fixed[fixed.lhs.isin(COVARIATES) & (fixed.se == 0)]
    assert len(fixed) == 14
    for row in fixed.itertuples():
        if row.op == "~1":
            assert covariates.means[row.lhs] == pytest.approx(row.est, abs=1e-12)
        else:
            value = covariates.fixed_marker[(row.lhs, "~~", row.rhs)]
            assert value == pytest.approx(row.est, abs=1e-12), (row.lhs, row.rhs)
    assert covariates.fixed_marker[("x1", "~~", "w1")] == 0.0  # different levels


def refused(spec, settings, frame=None) -> str:
    with pytest.raises(InputError) as caught:
        TwoLevel().prepare(spec, demo_data(frame), settings)
    return str(caught.value)


def test_a_varying_covariate_must_be_declared_within_only():
    message = refused(demo_spec(), BayesConfig())
    for name in ("x1", "x2", "x3"):
        assert f"column '{name}': varies within clusters" in message
    assert "bayes.within_only" in message and "column 'w1'" not in message


def test_level_declarations_are_checked():
    frame = pd.read_csv(DEMO / "data.csv")
    frame["w1"] = frame["w1"] + np.arange(len(frame)) % 2  # no longer one value per cluster
    message = refused(
        demo_spec(),
        BayesConfig(within_only=["x1", "x2", "x3", "w2", "x9"], between_only=["w1"]),
        frame,
    )
    assert "bayes.within_only: 'x9' is not an observed variable of the model" in message
    assert "column 'w1': bayes.between_only variables must be constant within clusters" in message
    assert "column 'w2': bayes.within_only: constant within every cluster" in message


def test_observed_outcomes_are_refused_with_a_statement():
    spec = demo_spec(paths={"F": ["x1", "w1"], "x2": ["F"]}, observed=["x1", "x2", "w1"])
    message = refused(spec, BayesConfig(within_only=["x1", "x2"]))
    assert "x2: observed outcomes and mediators in two-level models" in message


def test_random_slopes_with_within_covariates_are_refused():
    spec = demo_spec()
    settings = BayesConfig(within_only=["x1", "x2", "x3"], random_slopes=[["x1", "F"]])
    family = TwoLevel()
    prepared = family.prepare(spec, demo_data(), settings)
    setup = make_setup(spec, settings, False, family.fixed_values(prepared))
    with pytest.raises(InputError, match="random slopes of observed covariates"):
        family.build(setup, prepared)


MEDIATION = dict(
    constructs={"F1": ["y1", "y2", "y3"], "F2": ["y4", "y5", "y6"]},
    observed=COVARIATES,
    paths={"F1": COVARIATES, "F2": ["F1", "x1", "w1"]},
)


@pytest.mark.parametrize("model", ["tutorial", "mediation"])
def test_graph_log_likelihood_is_the_exact_conditional_density(model):
    """At two random points, the model's potentials minus the exact density of every cluster's
    stacked items given its covariates, ``N(mu + A_W x_ij + A_B w_j, I (x) Sigma_W + J (x)
    Sigma_B)``, is the same constant (the kernel leaves out parameter-free terms); the
    mediation model has a path between constructs at each level beside the covariates'."""
    frame = pd.read_csv(DEMO / "data.csv")
    frame = frame[frame.cluster <= 12]
    spec = (
        demo_spec()
        if model == "tutorial"
        else build_spec(
            RunConfig(name="med", engine="bayes", data={"cluster": "cluster"}, **MEDIATION)
        )
    )
    settings = BayesConfig(within_only=["x1", "x2", "x3"])
    family = TwoLevel()
    prepared = family.prepare(spec, demo_data(frame), settings)
    setup = make_setup(spec, settings, False, family.fixed_values(prepared))
    model = family.build(setup, prepared).model
    names = ["theta", "beta_between", "psi_between", "between_residual_sd", "intercepts"]
    function = model.compile_fn(
        [sum(model.potentials)] + [model[n] for n in names],
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    rng = np.random.default_rng(5)
    gaps = []
    for _ in range(2):
        point = {
            k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in model.initial_point().items()
        }
        value, theta, beta_b, psi_b, between_sd, mu = function(point)
        gaps.append(
            value - exact_loglik(setup.table, prepared, theta, beta_b, psi_b, between_sd, mu)
        )
    assert gaps[0] == pytest.approx(gaps[1], abs=1e-8)


def exact_loglik(table, prepared, theta, beta_b, psi_b, between_sd, mu) -> float:
    a, s = table.matrices(theta)
    p, k = table.n_manifest, len(between_sd)
    lam, beta_w, psi_w = a[:k, p:], a[p:, p:], s[p:, p:]
    eye = np.eye(len(beta_w))
    t_w, t_b = np.linalg.inv(eye - beta_w), np.linalg.inv(eye - beta_b)
    sigma_w = lam @ t_w @ psi_w @ t_w.T @ lam.T + np.diag(np.diag(s)[:k])
    sigma_b = lam @ t_b @ psi_b @ t_b.T @ lam.T + np.diag(between_sd**2)
    covariates = prepared.covariates
    a_w = lam @ t_w @ a[p:, covariates.within_cols]
    a_b = lam @ t_b @ a[p:, covariates.between_cols]
    z, ids = prepared.continuous.z, prepared.ids[prepared.keep]
    total = 0.0
    for cluster in np.unique(ids):
        rows = z[ids == cluster]
        n = len(rows)
        y = rows[:, :k] - mu - rows[:, covariates.within_cols] @ a_w.T
        y = y - rows[:, covariates.between_cols] @ a_b.T
        cov = np.kron(np.eye(n), sigma_w) + np.kron(np.ones((n, n)), sigma_b)
        total += multivariate_normal(np.zeros(n * k), cov).logpdf(y.ravel())
    return total


@pytest.mark.parametrize("engine", ["bayes", "sem"])
def test_lavaan_level_syntax_is_refused_with_a_statement(engine):
    """The tutorial's `level:` blocks (paths at one level only) are not bayeslead's two-level
    syntax; the config route (observed + within_only / between_only) fits the model."""
    config = RunConfig(
        name="demo",
        engine=engine,
        data={"cluster": "cluster"},
        model=(DEMO / "model.lav").read_text(),
    )
    with pytest.raises(InputError):
        build_spec(config)


@pytest.mark.slow
def test_demo_twolevel_posterior_means_within_one_lavaan_se(tmp_path):
    config = tmp_path / "demo.yaml"
    config.write_text(
        f"name: demo\ndata:\n  path: {DEMO / 'data.csv'}\n  cluster: cluster\n"
        "constructs: {F: [y1, y2, y3]}\nobserved: [x1, x2, x3, w1, w2]\n"
        "paths: {F: [x1, x2, x3, w1, w2]}\nengine: bayes\n"
        "bayes:\n  within_only: [x1, x2, x3]\n  chains: 2\n  draws: 1000\n  tune: 700\n"
        f"output: {tmp_path}\n"
    )
    result = fit(load_inputs(config), progress=False)
    ours = result.estimates.set_index(["lhs", "op", "rhs", "level"])
    ours = ours.rename(index={"": "within"}, level="level")  # loadings: shared by both levels
    checked = 0
    for row in lavaan_rows().itertuples():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        if row.se == 0:  # fixed: markers, lavaan's zero level-1 intercepts, covariate moments
            if (row.lhs, row.op, rhs, row.level) in ours.index:
                est = ours.loc[(row.lhs, row.op, rhs, row.level), "est"]
                assert est == pytest.approx(row.est, abs=1e-9), (row.lhs, row.op, rhs)
            continue
        level = "within" if row.op == "=~" else row.level
        est = ours.loc[(row.lhs, row.op, rhs, level), "est"]
        assert abs(est - row.est) < row.se, (row.lhs, row.op, rhs, row.level, est, row.est)
        checked += 1
    assert checked == 20  # 9 within (loadings once per level), 11 between
    assert result.diagnostics["divergences"] == 0


def test_run_model_lav_has_each_covariate_at_its_level():
    """What the run writes to model.lav; lavaan reads it as the reference's model (npar 18,
    logl -12079.599, checked in R)."""
    spec = demo_spec()
    prepared = TwoLevel().prepare(spec, demo_data(), BayesConfig(within_only=["x1", "x2", "x3"]))
    assert lavaan_syntax(spec, prepared.covariates) == (
        "level: 1\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\nF ~ F_on_x1*x1 + F_on_x2*x2 + F_on_x3*x3\n"
        "level: 2\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\nF ~ w1 + w2\n"
    )
