"""Observed covariates in the Bayesian two-level model, as lavaan treats them (issue 14, point 4):
on lavaan::Demo.twolevel, x1-x3 within-only (bayes.within_only) and w1, w2 between-only (constant
within clusters, found from the data); or x1 (or xw = x1 + w1) undeclared, so at both levels: a
within part and a latent cluster mean. Fast: the split of the covariates, their fixed moments
against lavaan's, the statements for what is not estimated, the latent cluster means' exact
conditional distribution, and the graph's log-likelihood against the exact multivariate normal
density of each cluster. Slow: posterior means within one lavaan SE of lavaan's ML estimates
(tests/reference/twolevel_demo_equal and twolevel_demo_both: loadings equal across levels, as in
bayeslead's two-level model; for x1 at both levels lavaan's optimum, which its default fit stops
short of: tests/reference/twolevel_ml_covariates)."""

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
BOTH = REFERENCE / "twolevel_demo_both"
# lavaan's ML optimum per case; with x1 at both levels lavaan's default fit stops at fb ~ x1 = 0.003
# short of its optimum -2.13 (profiled in tests/reference/twolevel_ml_covariates/make.R)
BOTH_OPTIMUM = {
    "": REFERENCE / "twolevel_ml_covariates" / "estimates_both_x1_equal_optimum.csv",
    "_xw": BOTH / "estimates_xw.csv",
}
COVARIATES = ["x1", "x2", "x3", "w1", "w2"]
COVARIATES_XW = ["xw", "x2", "x3", "w2"]  # xw = x1 + w1: a real between part


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


def demo_frame() -> pd.DataFrame:
    """Demo.twolevel with xw = x1 + w1 (as tests/reference/twolevel_demo_both/make.R)."""
    frame = pd.read_csv(DEMO / "data.csv")
    return frame.assign(xw=frame.x1 + frame.w1)


def demo_data(frame: pd.DataFrame | None = None) -> ResponseData:
    frame = demo_frame() if frame is None else frame
    return ResponseData(
        frame=frame,
        raw=frame,
        path=DEMO / "data.csv",
        sha256="",
        ranges={},
        clusters=frame[["cluster"]],
    )


def lavaan_rows(path=EQUAL / "estimates.csv") -> pd.DataFrame:
    rows = pd.read_csv(path)
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


def test_a_varying_undeclared_covariate_has_within_and_between_parts():
    prepared = TwoLevel().prepare(demo_spec(), demo_data(), BayesConfig(within_only=["x2", "x3"]))
    covariates = prepared.covariates
    assert (covariates.within, covariates.both, covariates.between) == (
        ("x2", "x3"),
        ("x1",),
        ("w1", "w2"),
    )
    assert covariates.level1 == ("x2", "x3", "x1")
    assert covariates.cluster_means.shape == (200, 3)  # cluster means of x2, x3, x1
    assert covariates.latent.centre.shape == (200, 1)  # x1's latent cluster means
    assert covariates.scatter.shape == (6, 6)  # items and the level-1 covariates


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


GRAPHS = {
    "tutorial": (None, ["x1", "x2", "x3"]),
    "mediation": (MEDIATION, ["x1", "x2", "x3"]),
    "x1 at both levels": (None, ["x2", "x3"]),
    "x1 at both levels, shared paths": (None, ["x2", "x3"]),
    "mediation, x1 at both levels": (MEDIATION, ["x2", "x3"]),
    "xw at both levels": (
        dict(
            constructs={"F": ["y1", "y2", "y3"]},
            observed=COVARIATES_XW,
            paths={"F": COVARIATES_XW},
        ),
        ["x2", "x3"],
    ),
}


@pytest.mark.parametrize("model", list(GRAPHS))
def test_graph_log_likelihood_is_the_exact_conditional_density(model):
    """At two random points, the model's potentials minus the exact density of every cluster's
    stacked items given its covariates, ``N(mu + A_W x_ij + A_B w_j, I (x) Sigma_W + J (x)
    Sigma_B)``, is the same constant (the kernel leaves out parameter-free terms); the
    mediation model has a path between constructs at each level beside the covariates'. With a
    covariate at both levels, given its sampled latent cluster means x_b,j: its within part
    x_ij - x_b,j enters A_W, x_b,j enters A_X (the between paths)."""
    frame = demo_frame()
    frame = frame[frame.cluster <= 12]
    config, within_only = GRAPHS[model]
    spec = (
        demo_spec()
        if config is None
        else build_spec(RunConfig(name="m", engine="bayes", data={"cluster": "cluster"}, **config))
    )
    shared = "shared" if "shared" in model else "specific"
    settings = BayesConfig(within_only=within_only, between_paths=shared)
    family = TwoLevel()
    prepared = family.prepare(spec, demo_data(frame), settings)
    setup = make_setup(spec, settings, False, family.fixed_values(prepared))
    model = family.build(setup, prepared).model
    names = ["theta", "beta_between", "psi_between", "between_residual_sd", "intercepts"]
    if prepared.covariates.both:
        names += ["covariate_between", "covariate_paths_between"]
    # at the drawn points: without the replacement the graph would draw its free variables
    outputs = model.replace_rvs_by_values([sum(model.potentials)] + [model[n] for n in names])
    function = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(5)
    gaps = []
    for _ in range(2):
        point = {
            k: v + 0.3 * rng.standard_normal(np.shape(v)) for k, v in model.initial_point().items()
        }
        value, *values = function(point)
        gaps.append(value - exact_loglik(setup.table, prepared, *values))
    assert gaps[0] == pytest.approx(gaps[1], abs=1e-8)
    assert abs(gaps[0] - gaps[1]) < 1e-8 * abs(gaps[0])


def exact_loglik(
    table, prepared, theta, beta_b, psi_b, between_sd, mu, x_b=None, gamma_x=None
) -> float:
    """The items' log-density given the covariates (and the latent cluster means `x_b` (J, q)
    of the covariates at both levels, whose between paths are `gamma_x`), cluster by cluster;
    with blank answers (NaN), that of the observed answers."""
    a, s = table.matrices(theta)
    p, k = table.n_manifest, len(between_sd)
    lam, beta_w, psi_w = a[:k, p:], a[p:, p:], s[p:, p:]
    eye = np.eye(len(beta_w))
    t_w, t_b = np.linalg.inv(eye - beta_w), np.linalg.inv(eye - beta_b)
    sigma_w = lam @ t_w @ psi_w @ t_w.T @ lam.T + np.diag(np.diag(s)[:k])
    sigma_b = lam @ t_b @ psi_b @ t_b.T @ lam.T + np.diag(between_sd**2)
    covariates = prepared.covariates
    level1 = list(covariates.within_cols) + list(covariates.both_cols)
    a_w = lam @ t_w @ a[p:, level1]
    a_b = lam @ t_b @ a[p:, covariates.between_cols]
    z, ids = prepared.continuous.z, prepared.ids[prepared.keep]
    total = 0.0
    for j, cluster in enumerate(np.unique(ids)):
        rows = z[ids == cluster]
        n = len(rows)
        x = rows[:, level1]
        if x_b is not None:  # the within part of a covariate at both levels: x less x_b
            x[:, len(covariates.within_cols) :] -= x_b[j]
        y = rows[:, :k] - mu - x @ a_w.T - rows[:, covariates.between_cols] @ a_b.T
        if x_b is not None:
            y = y - x_b[j] @ (lam @ t_b @ gamma_x).T
        cov = np.kron(np.eye(n), sigma_w) + np.kron(np.ones((n, n)), sigma_b)
        seen = ~np.isnan(y.ravel())  # blank answers: the density of the observed ones
        total += multivariate_normal(np.zeros(seen.sum()), cov[np.ix_(seen, seen)]).logpdf(
            y.ravel()[seen]
        )
    return total


BOTH_CASES = {
    "": (COVARIATES, ["x2", "x3"], ("x1",)),
    "_xw": (COVARIATES_XW, ["x2", "x3"], ("xw",)),
}


def both_level_covariates(suffix: str):
    observed, within_only, _ = BOTH_CASES[suffix]
    return (
        TwoLevel()
        .prepare(demo_spec(observed), demo_data(), BayesConfig(within_only=within_only))
        .covariates
    )


@pytest.mark.parametrize("suffix", list(BOTH_CASES))
def test_fixed_moments_of_covariates_at_both_levels_equal_lavaans(suffix):
    """lavaan's fixed.x rows (se 0) with a covariate at both levels: its within (co)variances
    and between (co)variances and mean from lavaan's h1 model (EM), level-1 mean 0; the others as
    without it."""
    covariates = both_level_covariates(suffix)
    assert covariates.both == BOTH_CASES[suffix][2]
    rows = lavaan_rows(BOTH / f"estimates{suffix}.csv")
    rows = rows[rows.lhs.isin(BOTH_CASES[suffix][0]) & (rows.se == 0)]
    assert len(rows) == (18 if suffix == "" else 14)
    both = set(covariates.both)
    for row in rows.itertuples():
        if row.op == "~1":
            if row.lhs in both:
                ours = covariates.latent.means[row.lhs] if row.level == "between" else 0.0
            else:
                ours = covariates.means[row.lhs]
        elif row.level == "between" and {row.lhs, row.rhs} <= both:
            ours = covariates.latent.between[(row.lhs, "~~", row.rhs)]
        else:
            ours = covariates.fixed_marker[(row.lhs, "~~", row.rhs)]
        assert ours == pytest.approx(row.est, abs=1e-9), (row.lhs, row.op, row.rhs, row.level)


@pytest.mark.parametrize("suffix", list(BOTH_CASES))
def test_latent_cluster_means_have_their_exact_conditional_distribution(suffix):
    """m_j and chol(P_j^-1) against numpy: the joint normal of (x_b,j, every member's level-1
    covariates, the cluster's between-only covariates) from lavaan's h1 moments (z metric),
    conditioned on the cluster's data."""
    observed, within_only, both = BOTH_CASES[suffix]
    prepared = TwoLevel().prepare(
        demo_spec(observed), demo_data(), BayesConfig(within_only=within_only)
    )
    covariates, data = prepared.covariates, prepared.continuous
    manifest = list(demo_spec(observed).manifest)
    between_only = list(covariates.between)
    level1 = list(both) + within_only  # lavaan's h1 within block, in this order
    level2 = list(both) + between_only

    def h1(name, names):
        frame = pd.read_csv(BOTH / f"{name}{suffix}.csv").set_index("var")
        sd = data.sd[[manifest.index(n) for n in names]]
        return frame.loc[names, names].to_numpy() / np.outer(sd, sd)

    phi_w, phi_b = h1("h1_within_cov", level1), h1("h1_between_cov", level2)
    means = pd.read_csv(BOTH / f"h1_between_mean{suffix}.csv").set_index("var")["mean"]
    x = manifest.index(both[0])
    mu_b = (means[both[0]] - data.mean[x]) / data.sd[x]
    ids = prepared.ids[prepared.keep]
    labels = np.unique(ids)
    w_all = pd.DataFrame(data.z[:, [manifest.index(n) for n in between_only]]).groupby(ids).mean()
    mu_w = w_all.mean().to_numpy()
    for j in (0, 7, 199):
        rows = data.z[ids == labels[j]][:, [manifest.index(n) for n in level1]]
        n, r, qw = len(rows), len(level1), len(between_only)
        size = 1 + n * r + qw
        cov = np.zeros((size, size))
        mean = np.concatenate([[mu_b], np.tile(np.r_[mu_b, np.zeros(r - 1)], n), mu_w])
        cov[0, 0] = phi_b[0, 0]
        w = slice(1 + n * r, size)
        cov[0, w] = cov[w, 0] = phi_b[0, 1:]
        cov[w, w] = phi_b[1:, 1:]
        for i in range(n):
            at = 1 + i * r
            cov[0, at] = cov[at, 0] = phi_b[0, 0]  # x_ij = x_b,j + x_w,ij
            cov[at, w] = cov[w, at] = phi_b[0, 1:]
            cov[at : at + r, at : at + r] = phi_w
            for k in range(n):
                cov[at, 1 + k * r] += phi_b[0, 0]
        observed_values = np.concatenate([rows.ravel(), w_all.iloc[j].to_numpy()])
        gain = np.linalg.solve(cov[1:, 1:], cov[1:, 0])
        expected_mean = mean[0] + gain @ (observed_values - mean[1:])
        expected_var = cov[0, 0] - gain @ cov[1:, 0]
        assert covariates.latent.centre[j, 0] == pytest.approx(expected_mean, abs=1e-9)
        assert covariates.latent.chol[j, 0, 0] ** 2 == pytest.approx(expected_var, rel=1e-9)


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
    assert within_one_lavaan_se(result, lavaan_rows()) == 20  # 9 within, 11 between
    assert result.diagnostics["divergences"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("suffix", list(BOTH_CASES))
def test_covariate_at_both_levels_posterior_means_within_one_lavaan_se(tmp_path, suffix):
    """x1 (between variance 0.003: its between path is barely identified, lavaan's SE 9.3) or
    xw = x1 + w1 (between path 0.168, SE 0.078) at both levels, x2, x3 within-only."""
    observed, within_only, _ = BOTH_CASES[suffix]
    data = tmp_path / "data.csv"
    demo_frame().to_csv(data, index=False)
    config = tmp_path / "demo.yaml"
    config.write_text(
        f"name: demo\ndata:\n  path: {data}\n  cluster: cluster\n"
        f"constructs: {{F: [y1, y2, y3]}}\nobserved: [{', '.join(observed)}]\n"
        f"paths: {{F: [{', '.join(observed)}]}}\nengine: bayes\n"
        f"bayes:\n  within_only: [{', '.join(within_only)}]\n  chains: 2\n  draws: 1000\n"
        f"  tune: 700\noutput: {tmp_path}\n"
    )
    result = fit(load_inputs(config), progress=False)
    checked = within_one_lavaan_se(result, lavaan_rows(BOTH_OPTIMUM[suffix]))
    assert checked == (21 if suffix == "" else 20)  # 9 within; 12 or 11 between
    assert result.diagnostics["divergences"] == 0


def within_one_lavaan_se(result, rows: pd.DataFrame) -> int:
    """Every free lavaan estimate within one lavaan SE of the posterior mean, every fixed one
    (markers, lavaan's zero level-1 intercepts, covariate moments) that we report exactly;
    returns how many free estimates were checked."""
    ours = result.estimates.set_index(["lhs", "op", "rhs", "level"])
    ours = ours.rename(index={"": "within"}, level="level")  # loadings: shared by both levels
    checked = 0
    for row in rows.itertuples():
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
    return checked


def test_run_model_lav_has_each_covariate_at_its_level():
    """What the run writes to model.lav; lavaan reads it as the reference's model (npar 18,
    logl -12079.599, checked in R)."""
    spec = demo_spec()
    prepared = TwoLevel().prepare(spec, demo_data(), BayesConfig(within_only=["x1", "x2", "x3"]))
    assert lavaan_syntax(spec, prepared.covariates) == (
        "level: 1\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\nF ~ F_on_x1*x1 + F_on_x2*x2 + F_on_x3*x3\n"
        "level: 2\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\nF ~ w1 + w2\n"
    )


def test_run_model_lav_has_a_covariate_at_both_levels_in_both_blocks():
    """xw at both levels: in both blocks, its level-2 path unlabelled (its own); lavaan reads it
    as the reference's fit 2 (npar 18, logl -15854.534, checked in R)."""
    observed, within_only, _ = BOTH_CASES["_xw"]
    spec = demo_spec(observed)
    prepared = TwoLevel().prepare(spec, demo_data(), BayesConfig(within_only=within_only))
    assert lavaan_syntax(spec, prepared.covariates) == (
        "level: 1\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\n"
        "F ~ F_on_xw*xw + F_on_x2*x2 + F_on_x3*x3\n"
        "level: 2\nF =~ y1 + F_by_y2*y2 + F_by_y3*y3\nF ~ xw + w2\n"
    )
