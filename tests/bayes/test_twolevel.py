"""Two-level models: the cluster likelihood against the full multivariate normal, its gradient,
average indirect effects (Isserlis), cluster checks, and (slow) recovery of the shared
two-level truth, agreement with lavaan's two-level fit and interval coverage by simulation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayeslead.bayes.kernels.twolevel import cluster_moments
from bayeslead.bayes.kernels.twolevel_terms import twolevel_terms
from bayeslead.bayes.models.twolevel.fit import check_clusters
from bayeslead.bayes.models.twolevel.level3 import level3_units
from bayeslead.bayes.models.twolevel.summaries import expected_product
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder
from bayeslead.report.summary import summary_of_run
from bayeslead.simulate import ItemScale
from tests.bayes.twolevel_density import cluster_covariances
from tests.conftest import REFERENCE, reference_table

FIXTURES = REFERENCE.parent / "fixtures" / "configs"


def _model(rng, p=4, m=2):
    lam = np.zeros((p, m))
    lam[:2, 0] = [0.9, 0.7]
    lam[2:, 1] = [0.8, 0.6]
    beta = np.array([[0.0, 0.0], [0.4, 0.0]])  # construct 2 on construct 1
    return dict(
        lam=lam,
        theta_w=rng.uniform(0.3, 0.6, p),
        theta_b=rng.uniform(0.02, 0.1, p),
        psi_w=np.eye(m),
        psi_b=np.diag([0.3, 0.2]),
        beta_w=beta,
        beta_b=np.array([[0.0, 0.0], [0.6, 0.0]]),
    )


def _args(par, slopes, mu, moments, offsets=None):
    return (
        par["lam"],
        par["theta_w"],
        par["theta_b"],
        par["psi_w"],
        par["psi_b"],
        par["beta_w"],
        par["beta_b"],
        slopes,
        np.array([1]),
        np.array([0]),
        mu,
        np.zeros(moments.means.shape) if offsets is None else offsets,
        moments.counts,
        moments.means,
        moments.centred,
        np.zeros(0, dtype=np.int64),  # no blank answers' expected-scatter additions
        np.zeros((0, 0, 0)),
        np.zeros((0, 0, 0)),
        2,
    )


def test_cluster_likelihood_is_the_joint_normal_density():
    """Closed form: the stacked responses of cluster j are N(mu, I (x) Sigma_W,j + J (x) Sigma_B);
    log L_j = logpdf + (n_j p log(2 pi) + p log n_j) / 2."""
    rng = np.random.default_rng(1)
    par = _model(rng)
    sizes = [3, 5, 1]
    y = rng.normal(size=(sum(sizes), 4))
    cluster = np.repeat([10, 20, 30], sizes)
    moments = cluster_moments(y, cluster)
    slopes = np.array([[0.1], [-0.2], [0.05]])
    mu = rng.normal(size=4)
    offsets = rng.normal(size=(3, 4))  # e.g. level-3 intercepts: cluster j's mean mu + offset_j
    total = twolevel_terms(*_args(par, slopes, mu, moments, offsets))[0]
    expected = 0.0
    for j, n in enumerate(sizes):
        sigma_w, sigma_b = cluster_covariances(par, slopes, j)
        full = np.kron(np.eye(n), sigma_w) + np.kron(np.ones((n, n)), sigma_b)
        rows = y[cluster == [10, 20, 30][j]].ravel()
        mean = np.tile(mu + offsets[j], n)
        expected += stats.multivariate_normal(mean, full).logpdf(rows) + 0.5 * (
            n * 4 * np.log(2 * np.pi) + 4 * np.log(n)
        )
    np.testing.assert_allclose(total, expected, rtol=1e-10)


def test_cluster_likelihood_gradient_by_finite_differences():
    rng = np.random.default_rng(2)
    par = _model(rng)
    y = rng.normal(size=(12, 4))
    moments = cluster_moments(y, np.repeat([1, 2, 3], 4))
    slopes = np.array([[0.1], [-0.2], [0.05]])
    mu = rng.normal(size=4)
    result = twolevel_terms(*_args(par, slopes, mu, moments))
    names = ["lam", "theta_w", "theta_b", "psi_w", "psi_b", "beta_w", "beta_b"]
    h = 1e-6
    for name, index in [
        ("lam", (1, 0)),
        ("theta_w", (2,)),
        ("theta_b", (0,)),
        ("psi_b", (1, 1)),
        ("beta_w", (1, 0)),
        ("beta_b", (1, 0)),
    ]:
        up, down = {**par, name: par[name].copy()}, {**par, name: par[name].copy()}
        up[name][index] += h
        down[name][index] -= h
        numeric = (
            twolevel_terms(*_args(up, slopes, mu, moments))[0]
            - twolevel_terms(*_args(down, slopes, mu, moments))[0]
        ) / (2 * h)
        analytic = result[1 + names.index(name)][index]
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7, err_msg=name)
    bumped = slopes.copy()
    bumped[1, 0] += h
    lower = slopes.copy()
    lower[1, 0] -= h
    numeric = (
        twolevel_terms(*_args(par, bumped, mu, moments))[0]
        - twolevel_terms(*_args(par, lower, mu, moments))[0]
    ) / (2 * h)
    np.testing.assert_allclose(result[8][1, 0], numeric, rtol=1e-5)
    offsets = rng.normal(size=(3, 4))
    result = twolevel_terms(*_args(par, slopes, mu, moments, offsets))
    for j, k in [(0, 1), (2, 3)]:
        up, down = offsets.copy(), offsets.copy()
        up[j, k] += h
        down[j, k] -= h
        numeric = (
            twolevel_terms(*_args(par, slopes, mu, moments, up))[0]
            - twolevel_terms(*_args(par, slopes, mu, moments, down))[0]
        ) / (2 * h)
        np.testing.assert_allclose(result[10][j, k], numeric, rtol=1e-5, err_msg="offsets")
        np.testing.assert_allclose(result[9], result[10].sum(axis=0), rtol=1e-12)  # d mu


def test_average_indirect_effect_is_exact():
    """Bauer, Preacher & Gil (2006): E[(a + u_a)(b + u_b)] = ab + cov(u_a, u_b); for three
    random links Isserlis adds a cov(b, c) + b cov(a, c) + c cov(a, b)."""
    cov = np.array([[0.04, 0.01, -0.02], [0.01, 0.09, 0.03], [-0.02, 0.03, 0.16]])
    means = np.array([0.4, 0.3, 0.5])
    np.testing.assert_allclose(expected_product(means[:2], cov[:2, :2], [0, 1]), 0.4 * 0.3 + 0.01)
    three = 0.4 * 0.3 * 0.5 + 0.4 * 0.03 + 0.3 * -0.02 + 0.5 * 0.01
    np.testing.assert_allclose(expected_product(means, cov, [0, 1, 2]), three)
    draws = np.random.default_rng(3).multivariate_normal(means, cov, size=400_000)
    np.testing.assert_allclose(np.prod(draws, axis=1).mean(), three, atol=2e-3)
    # only the middle link random: no covariance term can enter
    np.testing.assert_allclose(expected_product(means, cov[1:2, 1:2], [1]), 0.4 * 0.3 * 0.5)


def _responses(clusters: list) -> ResponseData:
    frame = pd.DataFrame({"x": np.arange(len(clusters), dtype=float)})
    return ResponseData(frame, frame, None, "", {}, clusters=pd.DataFrame({"firm": clusters}))


def test_cluster_column_problems():
    with pytest.raises(
        InputError, match=r"column 'firm': missing cluster ids in rows 4 \(the header is row 1\)"
    ):
        check_clusters(_responses([1, 1, None, 2]), "firm")
    with pytest.raises(InputError, match="every cluster has a single respondent"):
        check_clusters(_responses([1, 2, 3, 4]), "firm")
    ids, problems = check_clusters(_responses([1, 1, 2, 3, 4]), "firm")
    assert (
        list(ids) == [1, 1, 2, 3, 4]
        and "3 of 4 clusters have one respondent" in problems[0].message
    )


def test_level3_column_problems():
    firms = np.array([1, 1, 2, 2, 3, 3])
    frame = pd.DataFrame({"x": np.arange(6.0)})

    def check(industries):
        clusters = pd.DataFrame({"firm": firms, "industry": industries})
        data = ResponseData(frame, frame, None, "", {}, clusters=clusters)
        return level3_units(data, "industry", firms, np.array([1, 2, 3]))

    with pytest.raises(InputError, match=r"missing level-3 ids in rows 4 \(the header is row 1\)"):
        check(["a", "a", None, "b", "b", "b"])
    with pytest.raises(InputError, match="clusters 2 belong to more than one level-3 unit"):
        check(["a", "a", "a", "b", "b", "b"])
    with pytest.raises(InputError, match="a single level-3 unit"):
        check(["a"] * 6)
    level3, problems = check(["b", "b", "a", "a", "b", "b"])
    assert list(level3.labels) == ["a", "b"] and list(level3.unit_of_cluster) == [1, 0, 1]
    assert "only 2 level-3 units" in problems[0].message


def _fit(tmp_path, replace=None, data=None):
    text = (FIXTURES / "two_level.yaml").read_text().replace("../../reference", str(REFERENCE))
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    config = tmp_path / "two_level.yaml"
    config.write_text(text)
    return fit_to_run_folder(config, data_path=data, out=tmp_path / "out", progress=False)


@pytest.mark.slow
def test_two_level_recovery_and_agreement_with_lavaan(tmp_path):
    """truth.json: within paths .40/.35/.15, between .60/.50/.10, slope SD .15, latent ICC .20;
    R: sem(model.lav, data, cluster = 'firm_id') within paths and loadings (within 0.1)."""
    folder, result = _fit(tmp_path)
    d = result.diagnostics
    assert d["max_rhat"] <= 1.01 and d["min_ess_bulk"] >= 400 and d["divergences"] == 0
    truth = json.loads((REFERENCE / "two_level" / "truth.json").read_text())
    est = result.estimates
    for level in ("within", "between"):
        rows = est[(est.op == "~") & (est.level == level)].set_index(["lhs", "rhs"])
        for (lhs, rhs), key in {
            ("SENS", "TL"): "TL_SENS",
            ("BI", "SENS"): "SENS_BI",
            ("BI", "TL"): "TL_BI",
        }.items():
            draws_lower, draws_upper = rows.loc[(lhs, rhs), ["ci_lower", "ci_upper"]]
            scale = rows.loc[(lhs, rhs), "std_est"] / rows.loc[(lhs, rhs), "est"]
            assert draws_lower * scale <= truth[level][key] <= draws_upper * scale, (
                f"{level} {lhs} ~ {rhs}"
            )
            std_lower, std_upper = rows.loc[(lhs, rhs), ["std_ci_lower", "std_ci_upper"]]
            assert std_lower <= truth[level][key] <= std_upper, f"{level} {lhs} ~ {rhs}"
        # TL_SENS (.40 within, .60 between): positive with posterior probability near 1
        assert rows.loc[("SENS", "TL"), "p_direction"] >= 0.99, level
        assert rows.p_direction.between(0.5, 1.0).all(), level
    summary = summary_of_run(folder)
    assert summary.index("Regressions (within level):") < summary.index(
        "Regressions (between level):"
    )
    slope = est[(est.label == "sd")].iloc[0]
    assert slope.ci_lower <= truth["random_slope"]["sd"] <= slope.ci_upper
    icc = pd.read_csv(folder / "icc.csv").set_index("construct")
    assert ((icc.ci_lower <= 0.2) & (icc.ci_upper >= 0.2)).all()
    lavaan = reference_table("two_level", "estimates.csv")
    lav = lavaan[lavaan.level == 1]
    mine = est[est.level.isin(["", "within"])]
    for _, row in mine[mine.op.isin(["~", "=~"])].iterrows():
        ref = lav[
            (lav.lhs == row.lhs + "w")
            & (lav.op == row.op)
            & (lav.rhs == (row.rhs + "w" if row.op == "~" else row.rhs))
        ]
        assert len(ref) == 1 and abs(row.est - ref.est.iloc[0]) <= 0.1, (
            f"{row.lhs} {row.op} {row.rhs}"
        )


@pytest.mark.slow
def test_average_indirect_effect_coverage_by_simulation(tmp_path):
    """20 simulated data sets (120 firms x 8, ICC .2, slope SD .15) fitted with shorter chains:
    the 90% interval of the standardised average indirect effect covers the population value
    (.40 x .35 = .14; every within variance is .8) in 75-100% of them."""
    from bayeslead.pipeline import simulate_to_file

    reps, covered = 20, 0
    for rep in range(reps):
        data = tmp_path / f"sim{rep}.csv"
        simulate_to_file(FIXTURES / "two_level.yaml", 960, 1000 + rep, data)
        _, result = _fit(
            tmp_path,
            {
                "  random_slopes: [[TL, SENS]]": "  random_slopes: [[TL, SENS]]\n  chains: 2\n  draws: 500\n  tune: 500\n  hdi_prob: 0.9",
                "name: two_level": f"name: rep{rep}",
            },
            data=data,
        )
        row = result.effects[
            (result.effects.level == "average") & (result.effects.kind == "indirect")
        ].iloc[0]
        covered += row.std_ci_lower <= 0.14 <= row.std_ci_upper
    assert 0.75 <= covered / reps <= 1.0


@pytest.mark.slow
def test_three_level_recovery(tmp_path):
    """three_level.yaml truth: 200 firms x 8 respondents in 20 industries, continuous items,
    latent ICC .3 of which .1 between industries, standardised paths .40/.35/.15 at the within
    and between-firm levels: default settings pass the gates and the 95% intervals cover the
    ICCs, the level-3 shares and the within paths."""
    from bayeslead.pipeline import load_inputs
    from bayeslead.simulate import simulate_responses

    config = FIXTURES / "three_level.yaml"
    inputs = load_inputs(config, need_data=False)
    scales = {item: ItemScale(1, 7) for item in inputs.spec.items}
    data = tmp_path / "three_level.csv"
    frame = simulate_responses(inputs.spec, inputs.config.truth, scales, 1600, 5, continuous=True)
    frame.to_csv(data, index=False)
    folder, result = fit_to_run_folder(config, data_path=data, out=tmp_path, progress=False)
    d = result.diagnostics
    assert d["max_rhat"] <= 1.01 and d["min_ess_bulk"] >= 400 and d["divergences"] == 0
    icc = pd.read_csv(folder / "icc.csv")
    assert ((icc.ci_lower <= 0.3) & (icc.ci_upper >= 0.3)).all(), icc
    assert ((icc.level3_ci_lower <= 0.1) & (icc.level3_ci_upper >= 0.1)).all(), icc
    est = result.estimates
    assert len(est[est.level == "level3"]) == 3
    within = est[(est.op == "~") & (est.level == "within")].set_index(["lhs", "rhs"])
    for (lhs, rhs), value in {
        ("SENS", "TL"): 0.40,
        ("BI", "SENS"): 0.35,
        ("BI", "TL"): 0.15,
    }.items():
        row = within.loc[(lhs, rhs)]
        scale = row.std_est / row.est
        assert row.ci_lower * scale <= value <= row.ci_upper * scale, f"{lhs} ~ {rhs}"
