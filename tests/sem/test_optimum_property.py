"""Property: for random valid models and data drawn from them (`simulate`), ML fits from
bayeslead's starts and from perturbed starts end at the same optimum (within 1e-5 on lavaan's
objective, F_ML / 2) or report non-convergence; the engine never raises an internal error."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslead.config import SemConfig, TruthConfig
from bayeslead.core.ml import fit_ml, positive_definite_start
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import Factor, ModelSpec, Regression
from bayeslead.data import ResponseData
from bayeslead.sem.engine import fit_sem
from bayeslead.simulate import ItemScale, simulate_responses


def random_model(rng: np.random.Generator) -> tuple[ModelSpec, TruthConfig]:
    """2-4 constructs of 3-5 items, random forward paths, maybe a residual covariance."""
    n_factors = int(rng.integers(2, 5))
    factors, loadings = [], {}
    for f in range(n_factors):
        items = tuple(f"f{f}_{i}" for i in range(int(rng.integers(3, 6))))
        factors.append(Factor(f"F{f}", items))
        loadings |= {item: float(rng.uniform(0.45, 0.9)) for item in items}
    regressions, paths = [], {}
    for out in range(1, n_factors):
        for pred in range(out):
            if rng.random() < 0.5:
                regressions.append(Regression(f"F{out}", f"F{pred}"))
                paths[f"F{out} ~ F{pred}"] = float(rng.uniform(-0.4, 0.4))
    covariances = ()
    if rng.random() < 0.5:
        covariances = ((factors[0].indicators[0], factors[1].indicators[0]),)
    spec = ModelSpec(
        factors=tuple(factors), regressions=tuple(regressions), covariances=covariances
    )
    return spec, TruthConfig(loadings=loadings, paths=paths)


@pytest.mark.parametrize("seed", range(12))
def test_same_optimum_from_perturbed_starts(seed):
    rng = np.random.default_rng(seed)
    spec, truth = random_model(rng)
    scales = {item: ItemScale(1, 7) for item in spec.items}
    n = int(rng.integers(120, 600))
    frame = simulate_responses(spec, truth, scales, n, seed, continuous=True)[list(spec.items)]
    data = ResponseData(frame=frame, raw=frame, path=None, sha256="", ranges={})
    result = fit_sem(spec, data, SemConfig(bootstrap=0), progress=False)  # no exception
    table = build_partable(spec)
    cov = np.cov(frame.to_numpy(float).T, bias=True)
    start = table.start_values(cov)
    base = fit_ml(table, cov, start)
    assert base.converged == result.info["converged"] or not base.converged
    for _ in range(3):
        perturbed = positive_definite_start(table, start * np.exp(rng.normal(0, 0.4, len(start))))
        other = fit_ml(table, cov, perturbed)
        if base.converged and other.converged:
            assert abs(base.fmin - other.fmin) / 2 < 1e-5
        else:
            assert other.message or base.message  # non-convergence says why
    if result.info["converged"]:
        assert abs(result.fit["chisq"] / n - base.fmin) / 2 < 1e-5 or not base.converged
