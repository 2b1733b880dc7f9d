"""ML R-squared rows against lavaan's lavInspect(fit, "r2") (tests/reference/political_democracy,
pd_r2.R; tolerance 0.002 as every ML estimate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.sem.engine import fit_sem
from tests.conftest import REFERENCE, reference_table
from tests.sem.test_engine import HS, fit, responses

PD = RunConfig(
    name="pd",
    constructs={
        "ind60": ["x1", "x2", "x3"],
        "dem60": ["y1", "y2", "y3", "y4"],
        "dem65": ["y5", "y6", "y7", "y8"],
    },
    paths={"dem60": ["ind60"], "dem65": ["ind60", "dem60"]},
    covariances=[("y1", "y5"), ("y2", "y4"), ("y2", "y6"), ("y3", "y7"), ("y6", "y8")],
)


def pd_fit(bootstrap: int = 0):
    spec = build_spec(PD)
    frame = pd.read_csv(REFERENCE / "political_democracy" / "pd_data.csv", index_col=0)
    settings = SemConfig(bootstrap=bootstrap, seed=3)
    return fit_sem(spec, responses(frame, list(spec.manifest)), settings, progress=False)


def test_r2_rows_match_lavaan():
    ref = pd.read_csv(REFERENCE / "political_democracy" / "pd_lavaan_r2.csv")
    rows = pd_fit().estimates.query("op == 'r2'")
    assert list(rows.lhs) == list(ref.variable)  # lavaan's order: items, then constructs
    assert (rows.lhs == rows.rhs).all()
    np.testing.assert_allclose(rows.est, ref.r2, atol=0.002)
    np.testing.assert_allclose(rows.std_est, ref.r2, atol=0.002)
    r2 = dict(zip(rows.lhs, rows.est, strict=True))
    assert abs(r2["dem60"] - 0.2029) < 0.002 and abs(r2["dem65"] - 0.9656) < 0.002


def test_r2_rows_have_bootstrap_intervals():
    rows = pd_fit(bootstrap=30).estimates.query("op == 'r2'")
    assert (rows.boot_lower <= rows.est + 1e-9).all() and (rows.est <= rows.boot_upper + 1e-9).all()
    assert (rows.se_boot > 0).all() and rows.se.isna().all()  # lavaan gives R2 no SE


def test_standardized_intervals_match_lavaan():
    """std.all delta-method intervals of lavaan's standardizedSolution (Holzinger-Swineford)."""
    ref = reference_table("holzinger1939", "standardized.csv")
    result = fit(HS, "holzinger1939")
    rows = result.estimates[result.estimates.op.isin(["=~", "~~"])]
    for r in rows.itertuples():
        match = ref[(ref.lhs == r.lhs) & (ref.op == r.op) & (ref.rhs == r.rhs)]
        np.testing.assert_allclose(
            [r.std_ci_lower, r.std_ci_upper],
            match[["ci.lower", "ci.upper"]].iloc[0].to_numpy(),
            atol=0.002,
            err_msg=f"{r.lhs} {r.op} {r.rhs}",
        )
