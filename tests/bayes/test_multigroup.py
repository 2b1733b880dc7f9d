"""Multi-group Bayesian SEM: the pooled-path prior against numerical integration, group-column
checks, simulated groups, and recovery of a known group difference in a path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import integrate, stats

from bayeslead.bayes.models.multigroup.build import group_data, pooled_paths
from bayeslead.bayes.models.multigroup.summaries import POOLED
from bayeslead.bayes.priors import prior_set
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder, item_scales, load_inputs
from bayeslead.simulate import simulate_responses
from tests.conftest import REFERENCE

CONFIG = REFERENCE.parent / "fixtures" / "configs" / "multigroup.yaml"


def _inputs():
    return load_inputs(CONFIG, need_data=False)


def test_pooled_paths_prior_is_the_integral_over_the_population_path():
    """log p(beta_1..G | tau) with beta ~ N(m, s) integrated out, against scipy quad of
    N(beta; m, s) prod_g N(beta_g; beta, tau): equal up to one constant for any values."""
    spec = _inputs().spec
    priors = prior_set({"paths": "normal(0.2, 0.8)"}, {r.key for r in spec.regressions})
    groups = ["a", "b", "c"]
    with pm.Model(coords={"group": groups, "path": [r.key for r in spec.regressions]}) as model:
        pooled_paths(spec, priors, len(groups))
    (potential,) = model.replace_rvs_by_values([model.potentials[0]])
    density = model.compile_fn(potential, inputs=model.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(5)
    gaps = []
    for _ in range(3):
        paths = rng.normal(0.3, 0.3, (len(groups), len(spec.regressions)))
        tau = rng.uniform(0.05, 0.6, len(spec.regressions))
        point = {
            "group_paths": paths,
            "group_path_sd_log__": np.log(tau),
            "population_z": np.zeros(len(tau)),
        }
        exact = 0.0
        for k in range(len(tau)):
            column, sd = paths[:, k], tau[k]
            value, _ = integrate.quad(
                lambda b, column=column, sd=sd: (
                    stats.norm.pdf(b, 0.2, 0.8) * np.prod(stats.norm.pdf(column, b, sd))
                ),
                -10,
                10,
                points=[column.mean()],
                epsabs=0,
                limit=200,
            )
            exact += np.log(value)
        gaps.append(density(point) - exact)
    # the constant: (G - 1)/2 log(2 pi) + 1/2 log G per path
    constant = len(spec.regressions) * (np.log(2 * np.pi) + 0.5 * np.log(3))
    np.testing.assert_allclose(gaps, constant, rtol=1e-8)


def test_pooled_paths_need_normal_path_priors():
    spec = _inputs().spec
    priors = prior_set({"paths": "student_t(3, 0, 1)"}, {r.key for r in spec.regressions})
    coords = {"group": ["a", "b"], "path": [r.key for r in spec.regressions]}
    with (
        pm.Model(coords=coords),
        pytest.raises(InputError, match="multi-group models need normal priors on paths"),
    ):
        pooled_paths(spec, priors, 2)


def test_group_column_problems():
    x = np.random.default_rng(1).normal(size=(8, 2))
    where = "Data file d.csv, column 'region'"
    labels = pd.DataFrame({"region": ["a", "a", None, "b", "b", "a", "b", "b"]})
    frame = pd.DataFrame(x)
    responses = ResponseData(frame, frame, "d.csv", "", {}, clusters=labels)
    with pytest.raises(InputError, match=r"missing group labels in rows 4 \(the header is row 1\)"):
        responses.id_column("region", "group labels")
    with pytest.raises(InputError, match="only one group"):
        group_data(x, pd.Series(["a"] * 8), where)
    data, problems = group_data(x, pd.Series(["b", "a"] * 4), where)
    assert data.labels == ["a", "b"] and list(data.counts) == [4, 4]
    assert "group 'a' has 4 respondents" in problems[0].message
    np.testing.assert_allclose(data.z.mean(axis=0), 0.0, atol=1e-12)  # pooled standardisation


def test_simulated_groups_have_their_own_paths():
    inputs = _inputs()
    frame = simulate_responses(
        inputs.spec, inputs.config.truth, item_scales(inputs), 20000, 7, continuous=True
    )
    assert list(frame.columns[:2]) == ["ownership", "respondent_id"]
    assert frame.ownership.value_counts().to_dict() == {"private": 10000, "state": 10000}
    assert list(frame.respondent_id) == list(range(1, 20001))
    # SEIZ ~ SENS is .6 (private) vs .2 (state); SENS ~ TL is .5 in both: the correlation of the
    # item sums follows (loadings .75, four items: composite reliability .837)
    for label, path in (("private", 0.6), ("state", 0.2)):
        group = frame[frame.ownership == label]
        sens = group[[f"sens{i}" for i in range(1, 5)]].sum(axis=1)
        seiz = group[[f"seiz{i}" for i in range(1, 5)]].sum(axis=1)
        tl = group[[f"tl{i}" for i in range(1, 5)]].sum(axis=1)
        implied = (path + 0.1 * 0.5) * 0.8372
        assert abs(np.corrcoef(sens, seiz)[0, 1] - implied) < 0.03
        assert abs(np.corrcoef(tl, sens)[0, 1] - 0.5 * 0.8372) < 0.03
    truth = inputs.config.truth.model_copy(update={"groups": {}})
    with pytest.raises(InputError, match="truth.groups: simulating a multi-group design"):
        simulate_responses(inputs.spec, truth, item_scales(inputs), 100, 1)


@pytest.mark.slow  # a full fit: 4 chains x 2000 iterations on 1200 respondents
def test_multigroup_fit_recovers_a_group_difference(tmp_path):
    """600 respondents per group, continuous items; truth (standardised, every latent variance 1
    in both groups, loadings .75, so lavaan's marker metric equals the standardised one): SEIZ ~
    SENS .6 (private) vs .2 (state), every other path equal, latent means equal."""
    inputs = _inputs()
    data = tmp_path / "groups.csv"
    simulate_responses(
        inputs.spec, inputs.config.truth, item_scales(inputs), 1200, 11, continuous=True
    ).to_csv(data, index=False)
    config = tmp_path / "multigroup.yaml"  # continuous items: no response scale
    config.write_text(CONFIG.read_text().replace("  scale: [1, 5]\n", ""))
    folder, result = fit_to_run_folder(config, data_path=data, out=tmp_path, progress=False)
    d = result.diagnostics
    assert d["max_rhat"] <= 1.01 and d["min_ess_bulk"] >= 400 and d["divergences"] == 0
    assert result.fit["ppp"] > 0.05  # the model is the population model: no misfit signal
    est = result.estimates
    paths = est[est.op == "~"].set_index(["group", "lhs", "rhs"])
    truth = {("private", "SEIZ", "SENS"): 0.6, ("state", "SEIZ", "SENS"): 0.2}
    for (group, lhs, rhs), value in truth.items():
        row = paths.loc[(group, lhs, rhs)]
        assert row.ci_lower <= value <= row.ci_upper, group
        assert abs(row.std_est - value) < 0.1, group
        assert row.std_ci_lower <= value <= row.std_ci_upper and row.p_direction > 0.99, group
    assert set(est.group) == {"", "private", "state", POOLED}
    differences = pd.read_csv(folder / "group_differences.csv").set_index(["quantity", "kind"])
    seiz = differences.loc[("SEIZ ~ SENS", "path")]
    assert seiz.group == "private" and seiz.versus == "state"
    assert seiz.ci_lower > 0 and seiz.ci_lower <= 0.4 <= seiz.ci_upper and seiz.p_direction > 0.99
    same = differences.xs("path", level="kind").drop("SEIZ ~ SENS")
    assert (same.est.abs() < 3 * same.se).all()
    means = differences.xs("latent_mean", level="kind")
    assert len(means) == 5 and (means.est.abs() < 3 * means.se).all()
    effects = pd.read_csv(folder / "effects.csv", keep_default_na=False)
    serial = effects[(effects.effect == "ind_serial") & (effects.kind == "indirect")]
    assert list(serial.group) == ["private", "state", POOLED]
    # standardised serial indirect: .5 x .6 x .55 x .4 (private) and .5 x .2 x .55 x .4 (state)
    for group, value in (("private", 0.066), ("state", 0.022)):
        row = serial[serial.group == group].iloc[0]
        assert row.std_ci_lower <= value <= row.std_ci_upper, group
    assert "Group comparison" in (folder / "report.html").read_text()
    from bayeslead.compare import compare_runs

    with pytest.raises(InputError, match="is a multi-group fit; PSIS-LOO from its saved draws"):
        compare_runs([folder, folder])


@pytest.mark.slow
def test_item_intercepts_are_on_the_reference_groups_origin(tmp_path):
    """Holzinger-Swineford by school, equal loadings and intercepts (lavaan:
    tests/reference/ml_corpus/hs_multigroup_intercepts, Grant-White as the reference group as in
    bayeslead's sorted order). Implied item means per group (intercept + loading x latent mean)
    are within one lavaan SE of lavaan's and as close to the observed means as lavaan's."""
    folder = REFERENCE / "ml_corpus" / "hs_multigroup_intercepts"
    config = tmp_path / "hs_groups.yaml"
    config.write_text(
        f"name: hs_groups\ndata: {{path: {folder / 'data.csv'}, group: school}}\n"
        "constructs: {visual: [x1, x2, x3], textual: [x4, x5, x6], speed: [x7, x8, x9]}\n"
        "engine: bayes\nbayes: {chains: 2, draws: 1000, tune: 1000}\n"
    )
    result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)[1]
    est = result.estimates
    lavaan = pd.read_csv(folder / "estimates_ref_grant_white.csv")
    lavaan_means = pd.read_csv(folder / "implied_means.csv").set_index(["group", "variable"])
    items = [f"x{k}" for k in range(1, 10)]
    item_se = lavaan[(lavaan.op == "~1") & (lavaan.group == 1) & lavaan.lhs.isin(items)]
    item_se = item_se.set_index("lhs").se
    intercepts = est[(est.op == "~1") & (est.group == "")].set_index("lhs").est
    loadings = est[(est.op == "=~") & (est.group == "Grant-White")].set_index("rhs")
    for group in ("Grant-White", "Pasteur"):
        means = est[(est.op == "~1") & (est.group == group)].set_index("lhs").est
        if group == "Grant-White":
            assert np.allclose(means, 0.0)
        for item, se in item_se.items():
            factor = loadings.loc[item, "lhs"]
            implied = intercepts[item] + loadings.loc[item, "est"] * means[factor]
            ref = lavaan_means.loc[(group, item)]
            assert abs(implied - ref.implied_mean) <= se, (group, item, implied)
            observed_gap = abs(implied - ref.sample_mean)
            assert observed_gap <= abs(ref.implied_mean - ref.sample_mean) + se, (group, item)
