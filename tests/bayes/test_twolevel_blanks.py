"""Two-level models with blank answers (continuous items): the blank answers are integrated
out per cluster. The graph's log-likelihood is scipy's normal density of each cluster's observed
answers to 1e-10 and its gradient that density's finite differences: the likelihood is exact.
Every row with an answer is used. Slow: posterior means within one lavaan SE of lavaan's
two-level FIML (tests/reference/twolevel_blanks: lavaan::Demo.twolevel y1-y6 with 5% and 20%
MCAR blanks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from bayeslead.bayes.kernels.twolevel import twolevel_loglik
from bayeslead.bayes.models.twolevel.blanks import (
    blank_moments,
    missing_statement,
    moments_with_blanks,
    rows_used,
)
from bayeslead.bayes.models.twolevel.fit import TwoLevel
from bayeslead.config import BayesConfig, RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.pipeline import fit, load_inputs
from tests.bayes.twolevel_density import cluster_covariances
from tests.conftest import REFERENCE

BLANKS = REFERENCE / "twolevel_blanks"

SIZES = [3, 5, 1, 4]
P = 4


def _parameters(rng):
    lam = np.zeros((P, 2))
    lam[:2, 0] = [0.9, 0.7]
    lam[2:, 1] = [0.8, 0.6]
    return dict(
        lam=lam,
        theta_w=rng.uniform(0.3, 0.6, P),
        theta_b=rng.uniform(0.02, 0.1, P),
        psi_w=np.eye(2),
        psi_b=np.diag([0.3, 0.2]),
        beta_w=np.array([[0.0, 0.0], [0.4, 0.0]]),
        beta_b=np.array([[0.0, 0.0], [0.6, 0.0]]),
    )


def _data(rng, rate=0.2):
    """Clusters in shuffled data order, `rate` of the answers blank (each row keeps one)."""
    y = rng.normal(size=(sum(SIZES), P))
    cluster = rng.permutation(np.repeat([10, 20, 30, 40], SIZES))
    blank = rng.random(y.shape) < rate
    blank[blank.all(axis=1), 0] = False
    return np.where(blank, np.nan, y), cluster


NAMES = ("lam", "theta_w", "theta_b", "psi_w", "psi_b", "beta_w", "beta_b")


def _density(par, slopes, mu, offsets, y, cluster):
    """Sum over clusters of scipy's normal log-density of each cluster's observed answers
    (stacked rows, mean mu + the cluster's offset), plus the kernel's constant
    (n p log 2 pi + p log n) / 2."""
    total = 0.0
    for j, label in enumerate(np.unique(cluster)):
        rows = y[cluster == label]
        n = len(rows)
        sigma_w, sigma_b = cluster_covariances(par, slopes, j)
        full = np.kron(np.eye(n), sigma_w) + np.kron(np.ones((n, n)), sigma_b)
        values, mean = rows.ravel(), np.tile(mu + offsets[j], n)
        seen = ~np.isnan(values)
        sub = full[np.ix_(seen, seen)]
        total += stats.multivariate_normal(mean[seen], sub).logpdf(values[seen])
        total += 0.5 * (n * P * np.log(2 * np.pi) + P * np.log(n))
    return total


def _graph(y, cluster):
    """The log-likelihood of `y` with its blanks integrated out (kernel + `blank_moments`'
    potential) and its gradient, compiled, as functions of the parameters."""
    moments, blanks = moments_with_blanks(y, cluster)
    inputs = {n: pt.dmatrix(n) for n in ("lam", "psi_w", "psi_b", "beta_w", "beta_b", "slopes")}
    inputs |= {n: pt.dvector(n) for n in ("theta_w", "theta_b", "mu")}
    inputs["offsets"] = pt.dmatrix("offsets")
    par = [inputs[n] for n in NAMES]
    rows, cols = np.array([1]), np.array([0])
    with pm.Model() as model:
        parameters = (*par, inputs["slopes"], rows, cols, inputs["mu"])
        data = blank_moments(moments, blanks, parameters, 2, inputs["offsets"])
        args = (*parameters, moments, 2)
        loglik = twolevel_loglik(*args, offsets=inputs["offsets"], data=data)
    total = loglik + model.potentials[0]
    order = [*NAMES, "slopes", "mu", "offsets"]
    grads = pytensor.grad(total, [inputs[n] for n in order])
    return pytensor.function([inputs[n] for n in order], [total, *grads]), blanks


@pytest.mark.parametrize("rate", [0.2, 0.6])
def test_graph_density_is_the_observed_answers_density_and_its_gradient_exact(rate):
    """With unequal cluster sizes (one of 1), random slopes, cluster mean offsets, several
    blanks in one row and in one item: the graph's log-likelihood equals scipy's normal density
    of each cluster's observed answers to 1e-10, and its gradient (Fisher's identity: the
    blanks' conditional moments enter as data) equals central differences of that density.
    With 60% blank, clusters with more blank cells than items take the Woodbury route beside
    clusters with fewer (`kernels/twolevel_blanks.py`)."""
    rng = np.random.default_rng(3)
    par = _parameters(rng)
    y, cluster = _data(rng, rate)
    slopes = np.array([[0.1], [-0.2], [0.05], [0.15]])
    mu = rng.normal(size=P)
    offsets = 0.3 * rng.normal(size=(len(SIZES), P))
    function, blanks = _graph(y, cluster)
    values = [par[n] for n in NAMES] + [slopes, mu, offsets]
    total, *grads = function(*values)
    assert len(blanks.item) >= 5 and np.isnan(y).sum(axis=1).max() >= 2
    assert np.isnan(y).sum(axis=0).max() >= 3
    per_cluster = np.bincount(blanks.cluster)
    assert (per_cluster.max() > P and per_cluster.min() <= P) == (rate > 0.5)
    assert total == pytest.approx(_density(par, slopes, mu, offsets, y, cluster), abs=1e-10)

    def density(values):
        return _density(dict(zip(NAMES, values[:7], strict=True)), *values[7:], y, cluster)

    checked = 0
    for k, grad in enumerate(grads):
        for index in np.ndindex(grad.shape):
            structure = (  # zero loadings, psi's off-diagonals, beta's zeros on and above
                (k == 0 and par["lam"][index] == 0.0)
                or (k in (3, 4) and index[0] != index[1])
                or (k in (5, 6) and index[0] <= index[1])
            )
            if structure:
                continue
            up, down = [np.array(v, dtype=float) for v in values], [np.array(v) for v in values]
            up[k][index] += 1e-6
            down[k][index] -= 1e-6
            numeric = (density(up) - density(down)) / 2e-6
            assert grad[index] == pytest.approx(numeric, rel=1e-6, abs=1e-7), (k, index)
            checked += 1
    assert checked == 4 + 4 + 4 + 2 + 2 + 1 + 1 + 4 + 4 + 16


def test_blank_layout_and_start_values():
    y = np.array([[1.0, np.nan], [3.0, 2.0], [np.nan, 4.0], [5.0, np.nan]])
    moments, blanks = moments_with_blanks(y, np.array([7, 7, 8, 8]))
    assert blanks.cluster.tolist() == [0, 1, 1] and blanks.member.tolist() == [0, 0, 1]
    assert blanks.item.tolist() == [1, 0, 1]
    assert blanks.slot.tolist() == [0, 0, 1]  # the cells' positions among their cluster's blanks
    np.testing.assert_allclose(moments.means, [[2.0, 2.0], [5.0, 4.0]])  # at observed means
    np.testing.assert_allclose(blanks.members, [[1, 1], [1, 1]])
    # items y1, y2 and covariates x1, x2: no answer / blank covariates / blank items / neither
    nan = np.nan
    values = [[nan, nan, 1, nan], [1, 2, nan, nan], [nan, 2, 3, 4], [1, 2, 3, nan], [1, 2, 3, 4]]
    frame = pd.DataFrame(values, columns=["y1", "y2", "x1", "x2"])
    keep, problems, left_out = rows_used(frame, 2)
    assert keep.tolist() == [False, False, True, False, True]
    assert [p.message for p in problems] == [
        "1 respondents with no responses were left out: row 2 (the header is row 1)",
        "2 respondents with a blank observed covariate (x1: 1, x2: 2) were left out (fixed.x, "
        "as lavaan): rows 3, 5 (the header is row 1)",
    ]
    assert left_out == {"no_answer": [2], "blank_covariate": [3, 5]}
    assert rows_used(frame.iloc[2:], 2, first_row=10)[2] == {"blank_covariate": [13]}
    assert rows_used(frame.iloc[[2, 4]], 2)[1:] == ([], {})
    assert missing_statement(False, blanks, 0).startswith("exact likelihood") and "3 blank" in (
        missing_statement(False, blanks, 0)
    )
    assert missing_statement(False, None, 0) == "none (complete data)"


def _spec():
    return build_spec(
        RunConfig(
            name="blanks",
            engine="bayes",
            data={"cluster": "cluster"},
            constructs={"F1": ["y1", "y2", "y3"], "F2": ["y4", "y5", "y6"]},
            paths={"F2": ["F1"]},
        )
    )


def test_every_row_with_an_answer_is_used():
    """5% blanks: 638 of 2500 rows have a blank; none is dropped, 737 blank answers integrated out."""
    frame = pd.read_csv(BLANKS / "data_mcar05.csv")
    data = ResponseData(
        frame=frame, raw=frame, path=BLANKS, sha256="", ranges={}, clusters=frame[["cluster"]]
    )
    prepared = TwoLevel().prepare(_spec(), data, BayesConfig())
    assert prepared.keep.all() and not prepared.problems
    assert len(prepared.blanks.item) == 737 == frame.isna().sum().sum()
    assert prepared.moments.counts.sum() == 2500 and len(prepared.moments.counts) == 200
    blanks = prepared.blanks  # each cluster's blank cells are its slots 0, ..., m_j - 1
    counts = np.bincount(blanks.cluster, minlength=200)
    slots = sorted(zip(blanks.cluster.tolist(), blanks.slot.tolist(), strict=True))
    assert slots == [(j, s) for j in range(200) for s in range(counts[j])]


@pytest.mark.slow
@pytest.mark.parametrize("blanks", ["mcar05", "mcar20"])
def test_posterior_means_within_one_lavaan_se_of_twolevel_fiml(tmp_path, blanks):
    """Every free lavaan estimate (loadings, paths, variances at both levels, level-2
    intercepts): |posterior mean - lavaan's two-level FIML estimate| < lavaan's SE."""
    config = tmp_path / "blanks.yaml"
    config.write_text(
        f"name: blanks\ndata:\n  path: {BLANKS / f'data_{blanks}.csv'}\n  cluster: cluster\n"
        "constructs: {F1: [y1, y2, y3], F2: [y4, y5, y6]}\npaths: {F2: [F1]}\nengine: bayes\n"
        f"bayes:\n  chains: 2\n  draws: 1000\n  tune: 1000\noutput: {tmp_path}\n"
    )
    result = fit(load_inputs(config), progress=False)
    assert result.info["missing"].startswith("exact likelihood")
    assert result.diagnostics["divergences"] == 0 and result.diagnostics["max_rhat"] < 1.01
    lavaan = pd.read_csv(BLANKS / f"estimates_{blanks}_fiml.csv")
    lavaan["level"] = np.where(lavaan.level == 1, "within", "between")
    names = {"f1w": "F1", "f1b": "F1", "f2w": "F2", "f2b": "F2"}
    lavaan[["lhs", "rhs"]] = lavaan[["lhs", "rhs"]].replace(names).fillna("")
    ours = result.estimates.assign(rhs=result.estimates.rhs.fillna(""))
    ours = ours.assign(level=ours.level.replace({"": "within"}).fillna("within"))
    ours = ours.set_index(["lhs", "op", "rhs", "level"])
    checked = 0
    for row in lavaan[lavaan.se > 0].itertuples():
        level = "within" if row.op == "=~" else row.level  # loadings: shared by both levels
        est = ours.loc[(row.lhs, row.op, row.rhs, level), "est"]
        assert abs(est - row.est) < row.se, (row.lhs, row.op, row.rhs, row.level, est, row.est)
        checked += 1
    assert checked == 32  # loadings 4 x 2 levels (equal), 2 paths, 16 variances, 6 intercepts


@pytest.mark.parametrize("model", ["tutorial", "mediation", "x1 at both levels"])
def test_with_covariates_the_graph_density_is_the_joint_density_of_the_filled_in_items(model):
    """Covariates (within-only, between-only) with a tenth of the items blank: the potentials
    minus the exact density of the filled-in items given the covariates (`exact_loglik` of the
    covariate tests) is one constant at two random points (blank answers included); a row with
    a blank covariate is left out (fixed.x), none with blank items (with a covariate at both
    levels too: its fixed moments are then lavaan's FIML h1)."""
    from bayeslead.bayes.recipe import make_setup
    from tests.bayes.test_twolevel_covariates import (
        GRAPHS,
        demo_data,
        demo_frame,
        demo_spec,
        exact_loglik,
    )

    frame = demo_frame()
    frame = frame[frame.cluster <= 12].reset_index(drop=True)
    rng = np.random.default_rng(8)
    items = [f"y{k}" for k in range(1, 7)]
    blank = rng.random((len(frame), 6)) < 0.1
    blank[blank.all(axis=1), 0] = False
    frame[items] = frame[items].mask(blank)
    frame.loc[3, "x2"] = np.nan
    config, within_only = GRAPHS[model]
    spec = (
        demo_spec()
        if config is None
        else build_spec(RunConfig(name="m", engine="bayes", data={"cluster": "cluster"}, **config))
    )
    settings = BayesConfig(within_only=within_only)
    family = TwoLevel()
    prepared = family.prepare(spec, demo_data(frame), settings)
    assert any(
        "a blank observed covariate (x2: 1)" in p.message and "row 5 (the header" in p.message
        for p in prepared.problems
    )
    assert prepared.keep.sum() == len(frame) - 1 and prepared.blanks is not None
    setup = make_setup(spec, settings, False, family.fixed_values(prepared))
    built = family.build(setup, prepared)
    graph = built.model
    info = family.info(setup, prepared, built, "nutpie")  # the manifest's info
    assert info["rows_left_out"] == {"blank_covariate": [5]}
    assert "1 rows without an answer or with a blank covariate left out" in info["missing"]
    names = ["theta", "beta_between", "psi_between", "between_residual_sd", "intercepts"]
    if prepared.covariates.both:
        names += ["covariate_between", "covariate_paths_between"]
    outputs = graph.replace_rvs_by_values([sum(graph.potentials)] + [graph[n] for n in names])
    function = graph.compile_fn(
        outputs,
        inputs=graph.value_vars,
        on_unused_input="ignore",
    )
    gaps = []
    for _ in range(2):
        point = {
            n: v + 0.3 * rng.standard_normal(np.shape(v)) for n, v in graph.initial_point().items()
        }
        value, *values = function(point)
        gaps.append(value - exact_loglik(setup.table, prepared, *values))
    assert gaps[0] == pytest.approx(gaps[1], abs=1e-8)


@pytest.mark.slow
def test_covariate_at_both_levels_with_blanks_within_one_lavaan_se_of_fiml(tmp_path):
    """xw = x1 + w1 at both levels, x2, x3 within-only, w2 between-only, 5% of y1-y3 blank
    (tests/reference/twolevel_blanks_covariates): no row left out; every free lavaan FIML
    estimate within one lavaan SE of the posterior mean; the covariates' fixed moments (from
    the FIML h1, where lavaan stops 0.0013 log-likelihood units short: tests/core/
    test_twolevel_fiml.py) within 0.003 of lavaan's."""
    from tests.bayes.test_twolevel_covariates import lavaan_rows

    folder = BLANKS.parent / "twolevel_blanks_covariates"
    config = tmp_path / "xw.yaml"
    config.write_text(
        f"name: xw\ndata:\n  path: {folder / 'data_mcar05.csv'}\n  cluster: cluster\n"
        "constructs: {F: [y1, y2, y3]}\nobserved: [xw, x2, x3, w2]\n"
        "paths: {F: [xw, x2, x3, w2]}\nengine: bayes\n"
        "bayes:\n  within_only: [x2, x3]\n  chains: 2\n  draws: 1000\n  tune: 700\n"
        f"output: {tmp_path}\n"
    )
    result = fit(load_inputs(config), progress=False)
    assert (
        result.info["missing"].startswith("exact likelihood")
        and "left out" not in (result.info["missing"])
    )
    assert result.diagnostics["divergences"] == 0 and result.diagnostics["max_rhat"] < 1.01
    ours = result.estimates.set_index(["lhs", "op", "rhs", "level"])
    ours = ours.rename(index={"": "within"}, level="level")  # loadings: shared by both levels
    checked = fixed = 0
    for row in lavaan_rows(folder / "estimates_fiml.csv").itertuples():
        rhs = "" if pd.isna(row.rhs) else row.rhs
        key = (row.lhs, row.op, rhs, "within" if row.op == "=~" else row.level)
        if row.se == 0:
            if key in ours.index and row.lhs in ("xw", "x2", "x3", "w2"):
                assert abs(ours.loc[key, "est"] - row.est) < 0.003, key
                fixed += 1
            continue
        est = ours.loc[key, "est"]
        assert abs(est - row.est) < row.se, (*key, est, row.est)
        checked += 1
    assert checked == 20 and fixed >= 10  # 9 within, 11 between
