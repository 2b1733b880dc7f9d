"""Measurement quality beside an ML fit: reliability (from the first-order CFA, as semTools),
HTMT and latent correlations, on the complete rows of the items."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.psychometrics.tables import htmt_table, latent_correlation_table, reliability_table


def measurement_quality(spec: ModelSpec, frame: pd.DataFrame):
    """Reliability (from the first-order CFA, as semTools) and HTMT, on complete rows; none for
    a path model on observed variables only."""
    if not spec.first_order:
        return None, None, None
    complete = frame[list(spec.items)].dropna()
    cfa = spec.measurement_model()
    table = build_partable(cfa)
    cov = np.cov(complete.to_numpy(dtype=float).T, bias=True)
    solution = fit_ml(table, cov, table.start_values(cov))
    if not solution.converged:
        return None, htmt_table(complete, spec), None
    return (
        reliability_table(table, solution.theta, complete, cfa),
        htmt_table(complete, spec),
        latent_correlation_table(table, solution.theta, cfa),
    )
