"""Simulation from a config's truth block: determinism, category probabilities, recovery."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig, SemConfig, TruthConfig, load_config
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.pipeline import load_inputs, simulate_to_file
from bayeslead.sem.engine import fit_sem
from bayeslead.simulate import (
    ItemScale,
    default_thresholds,
    simulate_responses,
    standardized_matrices,
)
from tests.conftest import REFERENCE, ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "configs"
SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}
PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}
TRUTH_PATHS = {
    "SENS ~ TL": 0.5,
    "SEIZ ~ SENS": 0.45,
    "SEIZ ~ TL": 0.10,
    "RECO ~ SEIZ": 0.55,
    "BI ~ RECO": 0.40,
    "BI ~ TL": 0.20,
}


def test_same_seed_same_file_byte_for_byte(tmp_path):
    a = simulate_to_file(FIXTURES / "serial.yaml", 300, 7, tmp_path / "a.csv")
    b = simulate_to_file(FIXTURES / "serial.yaml", 300, 7, tmp_path / "b.csv")
    c = simulate_to_file(FIXTURES / "serial.yaml", 300, 8, tmp_path / "c.csv")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize(
    ("config", "n", "data"),
    [
        ("tl_dc_bi_sem.yaml", 500, "tl_dc_bi_example.csv"),
        ("leading_innovation_sem.yaml", 400, "leading_innovation_example.csv"),
        ("tl_dc_bi_hierarchical.yaml", 750, "tl_dc_bi_firms_example.csv"),
        ("tl_dc_bi_cmv.yaml", 500, "tl_dc_bi_cmv_example.csv"),
        ("tl_dc_bi_moderated_sem.yaml", 500, "tl_dc_bi_env_example.csv"),
    ],
)
def test_bundled_example_data_is_reproducible(tmp_path, config, n, data):
    """README: bayeslead simulate configs/<config> --n <n> --seed 20261124 -o data/<data>"""
    out = simulate_to_file(ROOT / "configs" / config, n, 20261124, tmp_path / "x.csv")
    assert out.read_bytes() == (ROOT / "data" / data).read_bytes()


def test_standardised_truth_has_unit_variances():
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    table, a, s = standardized_matrices(spec, TruthConfig(loadings=0.7, paths=TRUTH_PATHS))
    b = np.linalg.inv(np.eye(len(a)) - a)
    np.testing.assert_allclose(np.diag(b @ s @ b.T), 1.0, atol=1e-12)
    truth = json.loads((REFERENCE / "serial_mediation" / "truth.json").read_text())
    latent = {n: table.variables.index(n) for n in SERIAL}
    for name, value in truth["residual_variances"].items():
        np.testing.assert_allclose(s[latent[name], latent[name]], value, atol=1e-4)


def test_category_probabilities_match_the_thresholds():
    """truth.json population_category_probs: Phi differences at -1.6, -0.7, 0.25, 1.2."""
    truth = json.loads((REFERENCE / "serial_mediation" / "truth.json").read_text())
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    frame = simulate_responses(
        spec,
        TruthConfig(loadings=0.75, paths=TRUTH_PATHS, thresholds=truth["thresholds_ystar"]),
        {i: ItemScale(1, 5) for i in spec.items},
        100_000,
        seed=3,
    )
    shares = frame["tl1"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, truth["population_category_probs"], atol=0.005)


def test_structural_paths_are_recovered():
    """Near-continuous items (101 points) and N = 20,000: ML standardised paths recover truth."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    frame = simulate_responses(
        spec,
        TruthConfig(loadings=0.8, paths=TRUTH_PATHS),
        {i: ItemScale(0, 100) for i in spec.items},
        20_000,
        seed=11,
    )
    data = frame[list(spec.items)].astype(float)
    result = fit_sem(
        spec, ResponseData(data, data, None, "", {}), SemConfig(bootstrap=0), progress=False
    )
    paths = result.estimates[result.estimates.op == "~"]
    for _, row in paths.iterrows():
        np.testing.assert_allclose(row.std_est, TRUTH_PATHS[f"{row.lhs} ~ {row.rhs}"], atol=0.025)
    loadings = result.estimates[result.estimates.op == "=~"].std_est
    np.testing.assert_allclose(loadings, 0.8, atol=0.03)


def test_reverse_keyed_items_are_written_reverse_coded():
    inputs = load_inputs(ROOT / "configs" / "tl_dc_bi_sem.yaml")
    raw = inputs.data.raw
    scored = inputs.data.frame
    assert "sens4" in inputs.data.reversed_items
    assert np.corrcoef(raw["sens4"], raw["sens1"])[0, 1] < -0.2
    assert np.corrcoef(scored["sens4"], scored["sens1"])[0, 1] > 0.2


def test_truth_problems_name_the_key():
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    partial = {k: v for k, v in TRUTH_PATHS.items() if k != "BI ~ TL"}
    with pytest.raises(InputError, match="no true value for 'BI ~ TL'"):
        standardized_matrices(spec, TruthConfig(paths=partial))
    too_big = dict(TRUTH_PATHS, **{"SEIZ ~ SENS": 0.9, "SEIZ ~ TL": 0.6})
    with pytest.raises(InputError, match="explain 1.*of the variance of SEIZ"):
        standardized_matrices(spec, TruthConfig(paths=too_big))
    with pytest.raises(
        InputError, match="truth.thresholds has 4 cut points but item 'tl1' has a 7-point scale"
    ):
        simulate_responses(
            spec,
            TruthConfig(paths=TRUTH_PATHS, thresholds=[-1, 0, 1, 2]),
            {i: ItemScale(1, 7) for i in spec.items},
            10,
            1,
        )


def test_simulate_needs_a_truth_block(tmp_path):
    config = load_config(FIXTURES / "serial.yaml")
    text = (FIXTURES / "serial.yaml").read_text().split("truth:")[0]
    path = tmp_path / "c.yaml"
    path.write_text(text.replace("../../reference", str(REFERENCE)))
    with pytest.raises(InputError, match="truth: simulation needs a truth: block"):
        simulate_to_file(path, 10, 1, tmp_path / "x.csv")
    assert config.truth is not None
    assert pd.read_csv(
        simulate_to_file(FIXTURES / "serial.yaml", 12, 1, tmp_path / "y.csv")
    ).shape == (12, 21)


def test_three_level_simulation_splits_the_construct_variance():
    """Firms (8 respondents) in industries (10 firms); latent ICC .3 of which .1 between
    industries. With continuous items (y* = .75 eta + e, Var e = .4375) and 2,000 industries,
    the industry means of an item vary by .75^2 x .1 plus what firm and respondent parts leave
    in a mean of 80 (.75^2 x .2 / 10 + (.75^2 x .7 + .4375) / 80)."""
    inputs = load_inputs(FIXTURES / "three_level.yaml", need_data=False)
    scales = {item: ItemScale(1, 7) for item in inputs.spec.items}
    frame = simulate_responses(
        inputs.spec, inputs.config.truth, scales, 160_000, 3, continuous=True
    )
    assert list(frame.columns[:3]) == ["industry", "firm_id", "respondent_id"]
    assert frame.groupby("industry").firm_id.nunique().eq(10).all()
    industry = frame.groupby("industry")[list(inputs.spec.items)].mean().var()
    expected = 0.5625 * 0.1 + 0.5625 * 0.2 / 10 + (0.5625 * 0.7 + 0.4375) / 80
    np.testing.assert_allclose(industry, expected, rtol=0.08)
    firm = frame.groupby("firm_id")[list(inputs.spec.items)].mean().var()
    expected_firm = 0.5625 * 0.3 + (0.5625 * 0.7 + 0.4375) / 8
    np.testing.assert_allclose(firm, expected_firm, rtol=0.05)
    truth = inputs.config.truth.model_copy(update={"level3_icc": 0.3})
    with pytest.raises(InputError, match=r"truth.level3_icc \(0.3\) must be below truth.icc"):
        simulate_responses(inputs.spec, truth, scales, 100, 1)


def test_between_path_problems_name_the_key():
    """`truth.between_paths` needs a cluster column and paths of the model; without it the
    clusters' latent means follow `truth.paths` (the bundled firm data stay byte for byte)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    scales = {i: ItemScale(1, 5) for i in spec.items}
    truth = TruthConfig(paths=TRUTH_PATHS, between_paths={"SENS ~ TL": 0.6})
    with pytest.raises(InputError, match=r"truth.between_paths needs a cluster column"):
        simulate_responses(spec, truth, scales, 10, 1)
    clustered = dataclasses.replace(spec, cluster="firm_id")
    wrong = truth.model_copy(update={"between_paths": {"TL ~ BI": 0.3}})
    with pytest.raises(InputError, match=r"truth.between_paths.TL ~ BI: not a path of the model"):
        simulate_responses(clustered, wrong, scales, 16, 1)
    with pytest.raises(ValueError, match="must look like 'OUTCOME ~ PREDICTOR'"):
        TruthConfig(between_paths={"SENS": 0.6})
    frame = simulate_responses(clustered, truth, scales, 16, 1)
    plain = simulate_responses(clustered, TruthConfig(paths=TRUTH_PATHS), scales, 16, 1)
    assert frame.shape == plain.shape and not frame.equals(plain)


MODERATED = {k: [f"{k.lower()}{i}" for i in range(1, 4)] for k in "XMWY"}
MODERATED_PATHS = {"M": ["X"], "Y": ["M", "W", "M:W", "X"]}  # second stage: W moderates M -> Y
MODERATED_TRUTH = TruthConfig(
    loadings=0.8,
    paths={"M ~ X": 0.5, "Y ~ M": 0.4, "Y ~ W": 0.2, "Y ~ M:W": 0.2, "Y ~ X": 0.1},
    correlations={"X ~~ W": 0.2},
)


def test_interaction_truth_and_draws():
    """Products of standardised components: Var(M W) = 1 + Cov(M, W)^2 counts in Y's explained
    variance (every item keeps variance 1), and an ML fit of a large sample recovers the index
    of moderated mediation a * gamma = 0.10 (standardised) and gamma."""
    spec = build_spec(
        RunConfig(
            name="q",
            constructs=MODERATED,
            paths=MODERATED_PATHS,
            effects={"ind": ["X", "M", "Y"]},
        )
    )
    table, a, s = standardized_matrices(spec, MODERATED_TRUTH)
    product = table.variables.index("M:W")
    np.testing.assert_allclose(s[product, product], 1 + (0.5 * 0.2) ** 2)
    frame = simulate_responses(spec, MODERATED_TRUTH, {}, 20000, 3, continuous=True)
    np.testing.assert_allclose(frame[list(spec.items)].var(), 1.0, atol=0.03)
    data = frame[list(spec.items)]
    result = fit_sem(
        spec,
        ResponseData(frame=data, raw=data, path=None, sha256="", ranges={}),
        SemConfig(bootstrap=0),
        progress=False,
    )
    imm = result.effects.set_index("effect").loc["imm_ind"]
    assert abs(imm.std_est - 0.10) < 0.01
    gamma = result.extra_tables["conditional_effects"]
    slopes = gamma[gamma.kind == "simple_slope"].set_index("value_sd").std_est
    assert abs((slopes[1.0] - slopes[-1.0]) / 2 - 0.2) < 0.02


def test_likert_answers_are_the_continuous_responses_cut_at_the_thresholds():
    """The same seed draws the same y* whether they are written as they are or cut into
    categories (reverse-keyed items reverse-coded): the 5-point recovery studies' true values are
    the continuous design's, and `bench/interaction.py --paired` refits ML on the very y* a
    5-point replicate was cut from."""
    spec = build_spec(RunConfig(name="q", constructs=MODERATED, paths=MODERATED_PATHS))
    scales = {i: ItemScale(1, 5, reverse=i == "m2") for i in spec.items}
    ystar = simulate_responses(spec, MODERATED_TRUTH, {}, 2000, 11, continuous=True)
    answers = simulate_responses(spec, MODERATED_TRUTH, scales, 2000, 11)
    cuts = default_thresholds(5)
    for item in spec.items:
        category = 1 + np.searchsorted(cuts, ystar[item].to_numpy(), side="right")
        expected = 6 - category if item == "m2" else category
        np.testing.assert_array_equal(answers[item].to_numpy(), expected)


def test_method_share_makes_the_marker_measure_the_method():
    """truth.method 0.4 on the substantive items; `method_share: {MK: 1}`: the marker's items
    (loading 0.7) measure the method factor only, so each correlates 0.7 * 0.4 = 0.28 with every
    substantive item and every y* keeps unit variance; share 0: no method in the marker."""
    constructs = SERIAL | {"MK": ["mk1", "mk2", "mk3", "mk4"]}
    spec = build_spec(RunConfig(name="s", constructs=constructs, paths=PATHS))
    scales = {i: ItemScale(1, 7) for i in spec.items}
    items = list(spec.items)
    marker = [items.index(f"mk{k}") for k in range(1, 5)]
    tl = [items.index(f"tl{k}") for k in range(1, 5)]
    for share, between in ((1.0, 0.28), (0.0, 0.0)):
        truth = TruthConfig(loadings=0.7, paths=TRUTH_PATHS, method=0.4, method_share={"MK": share})
        frame = simulate_responses(spec, truth, scales, 40_000, seed=3, continuous=True)
        cov = np.cov(frame[items].to_numpy(float).T)
        np.testing.assert_allclose(np.diag(cov), 1.0, atol=0.03)
        np.testing.assert_allclose(cov[np.ix_(marker, tl)], between, atol=0.02)
        np.testing.assert_allclose(cov[marker[0], marker[1]], 0.49, atol=0.02)
    with pytest.raises(InputError, match="truth.method_share.XX: not a first-order construct"):
        simulate_responses(
            spec, TruthConfig(paths=TRUTH_PATHS, method_share={"XX": 1.0}), scales, 10, 1
        )
