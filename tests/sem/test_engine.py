"""The ML engine against lavaan (tests/reference) and closed forms.

Tolerances are the reference README's "Suggested tolerances": ML estimates, standard errors and
std.all 0.002; chi-square and logl 0.01; CFI/TLI/RMSEA/SRMR 0.001; AIC/BIC 0.05; bootstrap
percentile bounds max(0.005, 0.4 x se.boot); bootstrap SEs 10% relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.engine import fit_sem
from bayeslead.sem.fiml import fit_fiml
from tests.conftest import reference_row, reference_table

HS = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}
SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}
SERIAL_PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}
SERIAL_EFFECTS = {
    "ind_serial": ["TL", "SENS", "SEIZ", "RECO", "BI"],
    "ind_tl_seiz": ["TL", "SEIZ", "RECO", "BI"],
}
LABELS = {
    "a": ("SENS", "TL"),
    "b": ("SEIZ", "SENS"),
    "g": ("SEIZ", "TL"),
    "c": ("RECO", "SEIZ"),
    "d": ("BI", "RECO"),
    "cp": ("BI", "TL"),
}


def responses(frame: pd.DataFrame, columns: list[str]) -> ResponseData:
    data = frame[columns].astype(float)
    return ResponseData(frame=data, raw=data, path=None, sha256="", ranges={})


def fit(constructs, folder, bootstrap=0, seed=1, **model):
    spec = build_spec(RunConfig(name="t", constructs=constructs, **model))
    frame = reference_table(folder, "data.csv")
    return fit_sem(
        spec,
        responses(frame, list(spec.manifest)),
        SemConfig(bootstrap=bootstrap, seed=seed),
        progress=False,
    )


@pytest.fixture(scope="module")
def hs():
    return fit(HS, "holzinger1939")


@pytest.fixture(scope="module")
def serial():
    return fit(
        SERIAL, "serial_mediation", bootstrap=1000, paths=SERIAL_PATHS, effects=SERIAL_EFFECTS
    )


def _compare_parameters(result, folder):
    est = reference_table(folder, "estimates.csv")
    std = reference_table(folder, "standardized.csv")
    rows = result.estimates[result.estimates.op.isin(["=~", "~", "~~"])]
    assert len(rows) == len(est[est.op.isin(["=~", "~", "~~"])])
    for _, row in rows.iterrows():
        ref = reference_row(est, row.lhs, row.op, row.rhs)
        ref_std = reference_row(std, row.lhs, row.op, row.rhs)
        np.testing.assert_allclose(
            row.est, ref.est, atol=0.002, err_msg=f"{row.lhs} {row.op} {row.rhs}"
        )
        np.testing.assert_allclose(
            row.se, ref.se, atol=0.002, err_msg=f"se {row.lhs} {row.op} {row.rhs}"
        )
        np.testing.assert_allclose(row.std_est, ref_std["est.std"], atol=0.002)


def _compare_fit(result, folder):
    ref = dict(reference_table(folder, "fit.csv").itertuples(index=False))
    fit = result.fit
    assert fit["df"] == ref["df"] and fit["npar"] == ref["npar"]
    np.testing.assert_allclose(fit["chisq"], ref["chisq"], atol=0.01)
    np.testing.assert_allclose(fit["logl"], ref["logl"], atol=0.01)
    for key in ("cfi", "tli", "rmsea", "srmr"):
        np.testing.assert_allclose(fit[key], ref[key], atol=0.001, err_msg=key)
    np.testing.assert_allclose(fit["rmsea_ci_lower"], ref["rmsea.ci.lower"], atol=0.001)
    np.testing.assert_allclose(fit["rmsea_ci_upper"], ref["rmsea.ci.upper"], atol=0.001)
    for key in ("aic", "bic"):
        np.testing.assert_allclose(fit[key], ref[key], atol=0.05, err_msg=key)


def test_holzinger_matches_lavaan(hs):
    """R: fit <- cfa(model.lav, HolzingerSwineford1939); parameterEstimates(fit);
    standardizedSolution(fit); fitMeasures(fit)."""
    _compare_parameters(hs, "holzinger1939")
    _compare_fit(hs, "holzinger1939")
    assert hs.info["converged"] and hs.info["se"] == "standard (expected information)"


def test_serial_mediation_matches_lavaan(serial):
    """R: sem(model.lav, data, estimator = 'ML'): estimates, std.all, fit measures, := rows."""
    _compare_parameters(serial, "serial_mediation")
    _compare_fit(serial, "serial_mediation")
    est = reference_table("serial_mediation", "estimates.csv")
    std = reference_table("serial_mediation", "standardized.csv")
    ours = serial.estimates.set_index("lhs")
    for mine, theirs in [
        ("ind_serial", "ind_serial"),
        ("ind_tl_seiz", "ind_tl_seiz"),
        ("ind_serial_total", "total"),
    ]:
        ref = est[est.lhs == theirs].iloc[0]
        np.testing.assert_allclose(ours.loc[mine, "est"], ref.est, atol=0.002)
        np.testing.assert_allclose(ours.loc[mine, "se"], ref.se, atol=0.002)  # delta method
        np.testing.assert_allclose(
            ours.loc[mine, "std_est"], std[std.lhs == theirs].iloc[0]["est.std"], atol=0.002
        )
    np.testing.assert_allclose(ours.loc["ind_serial", "est"], 0.04928, atol=1e-5)


def test_bootstrap_matches_lavaan(serial):
    """R: sem(model.lav, data, se = 'bootstrap', bootstrap = 1000, iseed = 1);
    parameterEstimates(fit, boot.ci.type = 'perc') and the std.all of each draw."""
    est = reference_table("serial_mediation", "estimates.csv")
    std = reference_table("serial_mediation", "standardized.csv")
    effects = serial.effects.set_index(["effect", "kind"])
    assert serial.info["bootstrap"] == {
        "requested": 1000,
        "failed": 0,
        "seed": 1,
        "seconds": serial.info["bootstrap"]["seconds"],
        "refit": "ML",
    }
    for (effect, kind), theirs in [
        (("ind_serial", "indirect"), "ind_serial"),
        (("ind_tl_seiz", "indirect"), "ind_tl_seiz"),
        (("ind_serial", "total"), "total"),
    ]:
        ref = est[est.lhs == theirs].iloc[0]
        ref_std = std[std.lhs == theirs].iloc[0]
        row = effects.loc[(effect, kind)]
        assert row.ci_method == "bootstrap-percentile"
        tol = max(0.005, 0.4 * ref["se.boot"])
        np.testing.assert_allclose(
            [row.ci_lower, row.ci_upper], [ref["ci.lower.boot"], ref["ci.upper.boot"]], atol=tol
        )
        tol_std = max(0.005, 0.4 * ref_std["se.boot"])
        np.testing.assert_allclose(
            [row.std_ci_lower, row.std_ci_upper],
            [ref_std["ci.lower.boot"], ref_std["ci.upper.boot"]],
            atol=tol_std,
        )
        np.testing.assert_allclose(row.se, ref["se.boot"], rtol=0.10)
        assert row.bc_lower < row.est < row.bc_upper
    for label, (lhs, rhs) in LABELS.items():
        ref = reference_row(est, lhs, "~", rhs)
        row = serial.estimates[(serial.estimates.lhs == lhs) & (serial.estimates.rhs == rhs)].iloc[
            0
        ]
        np.testing.assert_allclose(row.se_boot, ref["se.boot"], rtol=0.10, err_msg=label)
        tol = max(0.005, 0.4 * ref["se.boot"])
        np.testing.assert_allclose(
            [row.boot_lower, row.boot_upper], [ref["ci.lower.boot"], ref["ci.upper.boot"]], atol=tol
        )


def test_bootstrap_is_reproducible_and_seeded():
    kwargs = {"paths": SERIAL_PATHS, "effects": SERIAL_EFFECTS}
    first = fit(SERIAL, "serial_mediation", bootstrap=60, seed=5, **kwargs).effects
    again = fit(SERIAL, "serial_mediation", bootstrap=60, seed=5, **kwargs).effects
    other = fit(SERIAL, "serial_mediation", bootstrap=60, seed=6, **kwargs).effects
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first.ci_lower, other.ci_lower)


def test_second_order_with_three_dimensions_is_equivalent_to_correlated_factors():
    """A second-order factor over exactly three first-order factors is just-identified at the
    second level, so it reproduces the correlated-factor CFA: lavaan's chi-square 85.3055 and
    first-order loadings for Holzinger-Swineford."""
    result = fit(HS, "holzinger1939", second_order={"g": ["visual", "textual", "speed"]})
    ref = dict(reference_table("holzinger1939", "fit.csv").itertuples(index=False))
    np.testing.assert_allclose(result.fit["chisq"], ref["chisq"], atol=0.01)
    assert result.fit["df"] == ref["df"]
    est = reference_table("holzinger1939", "estimates.csv")
    for item in ["x2", "x3", "x5", "x6", "x8", "x9"]:
        row = result.estimates[(result.estimates.op == "=~") & (result.estimates.rhs == item)].iloc[
            0
        ]
        np.testing.assert_allclose(row.est, reference_row(est, row.lhs, "=~", item).est, atol=0.002)
    second = result.estimates[(result.estimates.lhs == "g") & (result.estimates.op == "=~")]
    assert len(second) == 3 and second.iloc[0].est == 1.0


def _holzinger_with_missing(share=0.1, seed=1):
    frame = reference_table("holzinger1939", "data.csv")[
        [i for its in HS.values() for i in its]
    ].astype(float)
    mask = np.random.default_rng(seed).random(frame.shape) < share
    return frame.mask(mask)


def test_fiml_matches_an_independent_implementation():
    """semopy's ModelMeans (ML with means, i.e. FIML; it matched lavaan's missing = 'ml' to 4
    decimals in the planning notes) on Holzinger-Swineford with 10% of responses removed."""
    import semopy

    frame = _holzinger_with_missing()
    spec = build_spec(RunConfig(name="hs", constructs=HS))
    result = fit_sem(
        spec, responses(frame, list(spec.manifest)), SemConfig(bootstrap=0), progress=False
    )
    assert (
        result.info["missing"].startswith("FIML")
        and result.info["se"] == "standard (observed information)"
    )
    model = semopy.ModelMeans(
        "\n".join(f"{k} =~ {' + '.join(v)}" for k, v in HS.items())
        + "\nvisual ~~ textual\nvisual ~~ speed\ntextual ~~ speed"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame)
    theirs = model.inspect()
    for _, row in result.estimates[result.estimates.se > 0].iterrows():
        if row.op == "=~":
            match = theirs[(theirs.lval == row.rhs) & (theirs.op == "~") & (theirs.rval == row.lhs)]
        elif row.op == "~1":
            match = theirs[(theirs.lval == row.lhs) & (theirs.op == "~") & (theirs.rval == "1")]
        else:
            match = theirs[
                (theirs.op == "~~")
                & (
                    ((theirs.lval == row.lhs) & (theirs.rval == row.rhs))
                    | ((theirs.lval == row.rhs) & (theirs.rval == row.lhs))
                )
            ]
        np.testing.assert_allclose(
            row.est, match.Estimate.iloc[0], atol=0.002, err_msg=f"{row.lhs} {row.op} {row.rhs}"
        )
    assert (result.estimates.op == "~1").sum() == 9


def test_fiml_on_complete_data_is_ml_with_saturated_means():
    """Closed form: with no missing values FIML's covariance-structure estimates equal ML's and
    the intercepts equal the sample means; chi-square is N F_ML."""
    frame = reference_table("holzinger1939", "data.csv")
    spec = build_spec(RunConfig(name="hs", constructs=HS))
    table = build_partable(spec)
    x = frame[list(spec.manifest)].to_numpy(float)
    fiml = fit_fiml(table, x)
    cov = np.cov(x.T, bias=True)
    ml = fit_ml(table, cov, table.start_values(cov))
    np.testing.assert_allclose(fiml.solution.theta[: table.n_free], ml.theta, atol=1e-4)
    np.testing.assert_allclose(fiml.solution.theta[table.n_free :], x.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(fiml.fit["chisq"], 85.3055, atol=0.01)


def test_not_identified_model_is_input_error():
    frame = reference_table("holzinger1939", "data.csv")
    spec = build_spec(RunConfig(name="x", constructs={"f": ["x1", "x2"]}))
    with pytest.raises(
        InputError,
        match="not identified: it has 4 free parameters but the 2 observed variables give only 3",
    ):
        fit_sem(spec, responses(frame, ["x1", "x2"]), SemConfig(bootstrap=0), progress=False)


def test_non_positive_definite_sample_covariance_names_columns():
    frame = reference_table("holzinger1939", "data.csv")
    frame["x4"] = frame["x1"] + frame["x2"]  # linearly dependent columns
    spec = build_spec(RunConfig(name="x", constructs=HS))
    with pytest.raises(InputError, match=r"not positive definite .* linearly dependent: .*x4"):
        fit_sem(spec, responses(frame, list(spec.manifest)), SemConfig(bootstrap=0), progress=False)


def test_heywood_case_is_reported_as_a_problem():
    """Three indicators with r12 = r13 = 0.8 and r23 = 0.4 imply a first loading of
    sqrt(0.8 * 0.8 / 0.4) > 1 on the standardised scale: a negative residual variance."""
    corr = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.4], [0.8, 0.4, 1.0]]) + 0.0
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    frame = pd.DataFrame(z @ np.linalg.cholesky(corr).T, columns=["a", "b", "c"])
    spec = build_spec(RunConfig(name="x", constructs={"f": ["a", "b", "c"]}))
    result = fit_sem(
        spec, responses(frame, ["a", "b", "c"]), SemConfig(bootstrap=0), progress=False
    )
    assert not result.ok
    problem = next(p for p in result.problems if p.where == "a ~~ a")
    assert "Heywood case: negative variance estimate -0.6000" in problem.message
