"""The robustness corpus: public models with lavaan 0.6-14 reference values
(tests/reference/ml_corpus, made by its make_all.R). Every converged lavaan fit is matched within
0.002 on every free estimate and standard error and 0.01 on the chi-square; a model lavaan does
not fit to convergence is reported as not converged; none raises an internal error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.sem.engine import fit_sem
from tests.conftest import REFERENCE

CORPUS = REFERENCE / "ml_corpus"
SLOW = pytest.mark.slow  # FIML with 20% missing responses: thousands of patterns
CONVERGED = [
    "political_democracy_full",  # all six residual covariances (y4 ~~ y8 included)
    "hs_cfa_correlated_residuals",
    "hs_second_order",
    "heywood",  # y1 ~~ y1 = -0.1147
    "large_variances",  # item variances from 1 to 1500
    "observed_with_latent",  # single-item observed controls (fixed.x as lavaan)
    "tal_or_mediation",  # PROCESS model 4 on observed scores
    "tal_or_serial_mediation",  # PROCESS model 6
    "bfi_fiml_native",  # 2,800 x 25, native missing responses, negative loadings
    "bfi_fiml_complete",
    "bfi_fiml_mcar01",
    "bfi_fiml_mcar05",
    "bfi_fiml_mar05",
    pytest.param("bfi_fiml_mcar20", marks=SLOW),
    pytest.param("bfi_fiml_mar20", marks=SLOW),
]


def corpus_fit(folder: str):
    """bayeslead's fit with lavaan's settings of this folder (missing = "ml" is FIML)."""
    options = json.loads((CORPUS / folder / "meta.json").read_text())["options"]
    missing = "fiml" if options["missing"] == "ml" else "auto"
    spec = build_spec(RunConfig(name=folder, model=(CORPUS / folder / "model.lav").read_text()))
    frame = pd.read_csv(CORPUS / folder / "data.csv")[list(spec.manifest)].astype(float)
    data = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    return fit_sem(spec, data, SemConfig(bootstrap=0, missing=missing), progress=False)


def lavaan_free_rows(folder: str) -> pd.DataFrame:
    """lavaan's free parameters: every row but fixed ones (se 0) and `:=` rows."""
    est = pd.read_csv(CORPUS / folder / "estimates.csv", keep_default_na=False, na_values=["NA"])
    return est[(est.op != ":=") & ~(est.se == 0)]


def matching_row(estimates: pd.DataFrame, lhs: str, op: str, rhs: str) -> pd.Series:
    rows = estimates[(estimates.lhs == lhs) & (estimates.op == op) & (estimates.rhs == rhs)]
    if rows.empty and op == "~~":
        rows = estimates[(estimates.lhs == rhs) & (estimates.op == op) & (estimates.rhs == lhs)]
    assert len(rows) == 1, f"{lhs} {op} {rhs}: {len(rows)} rows in bayeslead's estimates"
    return rows.iloc[0]


@pytest.mark.parametrize("folder", CONVERGED)
def test_matches_lavaan(folder):
    result = corpus_fit(folder)
    assert result.info["converged"] and result.info["max_gradient"] <= 1e-6
    estimates = result.estimates.fillna({"rhs": ""})
    for _, ref in lavaan_free_rows(folder).iterrows():
        row = matching_row(estimates, ref.lhs, ref.op, ref.rhs)
        key = f"{folder}: {ref.lhs} {ref.op} {ref.rhs}"
        np.testing.assert_allclose(row.est, ref.est, atol=0.002, err_msg=key)
        np.testing.assert_allclose(row.se, ref.se, atol=0.002, err_msg=f"se {key}")
    fit = dict(pd.read_csv(CORPUS / folder / "fit.csv").itertuples(index=False))
    np.testing.assert_allclose(result.fit["chisq"], fit["chisq"], atol=0.01)
    assert result.fit["df"] == fit["df"] and result.fit["npar"] == fit["npar"]
    for key in ("cfi", "tli", "rmsea", "srmr"):
        np.testing.assert_allclose(result.fit[key], fit[key], atol=0.001, err_msg=key)
    np.testing.assert_allclose(result.fit["logl"], fit["logl"], atol=0.01)
    errors = [p for p in result.problems if not p.message.startswith("Heywood case")]
    assert not errors, errors


def test_heywood_case_is_reported():
    result = corpus_fit("heywood")
    problem = next(p for p in result.problems if p.where == "y1 ~~ y1")
    assert "Heywood case: negative variance estimate -0.1147" in problem.message


def test_model_lavaan_cannot_fit_is_reported_as_not_converged():
    """N = 40, two 2-indicator factors with a ~0 path: lavaan stops after 1371 iterations with
    'the optimizer warns that a solution has NOT been found' (meta.json: converged false)."""
    assert json.loads((CORPUS / "not_converged" / "meta.json").read_text())["converged"] is False
    result = corpus_fit("not_converged")
    assert not result.info["converged"] and not result.ok
    assert any("did not converge" in p.message for p in result.problems)
