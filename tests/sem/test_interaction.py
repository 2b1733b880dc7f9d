"""Latent interactions in the ML engine: double-mean-centred product indicators against lavaan
0.6-14 + semTools::indProd on the same data (tests/reference/latent_interaction_pi, make.R).

Tolerance 0.002 for estimates, standard errors and defined parameters (the issue's target)."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.engine import fit_sem
from bayeslead.sem.product_indicators import product_factors, with_products
from tests.conftest import reference_table

FOLDER = "latent_interaction_pi"
CONSTRUCTS = {k: [f"{k.lower()}{i}" for i in range(1, 4)] for k in "XMWY"}
PATHS = {"M": ["X"], "Y": ["M", "W", "M:W", "X"]}
# lavaan's names -> bayeslead's
NAMES = {"MW": "M:W", "m1.w1": "m1_x_w1", "m2.w2": "m2_x_w2", "m3.w3": "m3_x_w3"}


def _fit(data: str, bootstrap: int = 0):
    spec = build_spec(
        RunConfig(name="q", constructs=CONSTRUCTS, paths=PATHS, effects={"ind": ["X", "M", "Y"]})
    )
    frame = reference_table(FOLDER, f"data_{data}.csv")[list(spec.manifest)].astype(float)
    responses = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    return spec, fit_sem(spec, responses, SemConfig(bootstrap=bootstrap, seed=1), progress=False)


@pytest.fixture(scope="module")
def continuous():
    return _fit("continuous")


def test_products_are_double_mean_centred_matched_pairs():
    spec = build_spec(RunConfig(name="q", constructs=CONSTRUCTS, paths=PATHS))
    (factor,) = product_factors(spec)
    assert factor.pairs == (("m1", "w1"), ("m2", "w2"), ("m3", "w3"))
    frame = reference_table(FOLDER, "data_continuous.csv")
    products = with_products(frame, [factor])
    m, w = frame.m2 - frame.m2.mean(), frame.w2 - frame.w2.mean()
    np.testing.assert_allclose(products.m2_x_w2, m * w - (m * w).mean(), atol=1e-12)


@pytest.mark.parametrize("data", ["continuous", "5pt"])
def test_every_parameter_matches_lavaan(data, continuous):
    _, result = continuous if data == "continuous" else _fit(data)
    reference = reference_table(FOLDER, f"estimates_{data}_matched.csv")
    ours = result.estimates.set_index(["lhs", "op", "rhs"])
    for row in reference.itertuples():
        lhs, rhs = NAMES.get(row.lhs, row.lhs), NAMES.get(row.rhs, row.rhs)
        if row.op == ":=":
            continue
        if (lhs, row.op, rhs) not in ours.index:
            lhs, rhs = rhs, lhs
        mine = ours.loc[(lhs, row.op, rhs)]
        assert abs(mine.est - row.est) < 0.002, (row.lhs, row.op, row.rhs)
        assert abs(mine.se - row.se) < 0.002, (row.lhs, row.op, row.rhs)
    fit = reference_table(FOLDER, "fit_continuous_matched.csv").set_index("measure").value
    if data == "continuous":
        assert abs(result.fit["chisq"] - fit["chisq"]) < 0.01
        assert result.fit["df"] == fit["df"]


def test_index_and_conditional_indirect_effects_match_lavaan(continuous):
    """imm := a*b3 (per unit of latent W) 0.1166 (SE 0.0332); a*(b1 + b3 z sqrt(vW))."""
    _, result = continuous
    key = reference_table(FOLDER, "key_effects.csv")
    wald = key[(key.fit == "continuous_matched") & (key.ci == "wald")].set_index("label")
    imm = result.estimates.set_index("lhs").loc["imm_ind"]
    assert abs(imm.est - wald.loc["imm", "est"]) < 0.002
    assert abs(imm.se - wald.loc["imm", "se"]) < 0.002
    assert imm.rhs == "Y_on_M_x_W*M_on_X"
    table = result.extra_tables["conditional_effects"]
    indirect = table[table.kind == "conditional_indirect"].set_index("value_sd").est
    slopes = table[table.kind == "simple_slope"].set_index("value_sd").est
    for z, name in [(-1.0, "minus1sd"), (0.0, "mean"), (1.0, "plus1sd")]:
        assert abs(indirect[z] - wald.loc[f"ind_w_{name}", "est"]) < 0.002
    assert abs(slopes[-1.0] - wald.loc["slope_MY_w_minus1sd", "est"]) < 0.002
    assert abs(slopes[1.0] - wald.loc["slope_MY_w_plus1sd", "est"]) < 0.002
    (row,) = result.effects[result.effects.kind == "imm"].itertuples()
    assert row.effect == "imm_ind" and row.path == "X -> M -> Y | W"
    # per SD of W, standardised (Wen, Marsh & Hau 2010): a_std * gamma_std
    assert 0.05 < row.std_est < 0.15


def test_fit_is_on_the_specs_parameter_table(continuous):
    """theta and draws are the spec's own parameters (Y ~ M:W included), so hypotheses,
    figures and studies read them as for a Bayesian fit; Monte Carlo draws without bootstrap."""
    spec, result = continuous
    from bayeslead.core.partable import build_partable

    table = build_partable(spec)
    assert result.theta.shape == (table.n_free,)
    gamma = result.theta[table.index("Y ~ M:W")]
    assert abs(gamma - 0.29445068637977656) < 0.002
    conditional = result.extra_tables["conditional_effects"]
    assert set(conditional.ci_method) == {"monte-carlo"}
    # effects.csv: the index's percentile interval of the Monte Carlo draws (asymmetric, as the
    # product's sampling distribution), around lavaan's 0.1166 +- 1.96 x 0.0332
    (row,) = result.effects[result.effects.kind == "imm"].itertuples()
    (mc,) = conditional[conditional.kind == "imm"].itertuples()
    assert row.ci_method == "monte-carlo" and (row.ci_lower, row.ci_upper) == (
        mc.ci_lower,
        mc.ci_upper,
    )
    assert abs(row.ci_lower - (0.1166 - 1.96 * 0.0332)) < 0.01
    assert row.ci_upper - row.est > row.est - row.ci_lower  # skewed to the right
    bounds = result.extra_tables["johnson_neyman_bounds"]
    assert set(bounds.kind) == {"simple_slope", "conditional_indirect"}


def test_second_order_component_is_refused():
    constructs = dict(CONSTRUCTS, X=["x1", "x2"], W1=["w1", "w2"], W2=["w3", "x3"])
    spec = build_spec(
        RunConfig(
            name="q",
            constructs={k: v for k, v in constructs.items() if k != "W"},
            second_order={"W": ["W1", "W2"]},
            paths=PATHS,
        )
    )
    frame = reference_table(FOLDER, "data_continuous.csv").astype(float)
    responses = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    with pytest.raises(InputError, match="W is a second-order construct"):
        fit_sem(spec, responses, SemConfig(bootstrap=0), progress=False)


@pytest.mark.slow
def test_bootstrap_interval_of_the_index_matches_lavaan():
    """1000 replicates, rows of items and products resampled (lavaan's bootstrap does not
    re-centre the products either): percentile bounds within max(0.005, 0.4 x se.boot)."""
    _, result = _fit("continuous", bootstrap=1000)
    key = reference_table(FOLDER, "key_effects.csv")
    boot = key[(key.fit == "continuous_matched") & (key.ci == "bootstrap_perc_1000")]
    imm = boot.set_index("label").loc["imm"]
    (row,) = result.effects[result.effects.kind == "imm"].itertuples()
    tolerance = max(0.005, 0.4 * imm.se)
    assert row.ci_method == "bootstrap-percentile"
    assert abs(row.ci_lower - imm["ci.lower"]) < tolerance
    assert abs(row.ci_upper - imm["ci.upper"]) < tolerance
    assert abs(row.se - imm.se) < 0.1 * imm.se
