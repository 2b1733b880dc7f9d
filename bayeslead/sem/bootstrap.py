"""Nonparametric bootstrap of an ML fit, parallel over processes.

Each replicate resamples respondents with replacement, recomputes the sample covariance and
refits by Fisher scoring from the full-sample estimates; with missing responses the rows keep
their blank cells and each replicate is refitted by FIML. Replicate r draws its rows from its own
generator, spawned from the run seed (`numpy.random.SeedSequence(seed).spawn`), so results do not
depend on how replicates are spread over workers. Replicates that fail to converge are counted
and returned as NaN rows, never silently dropped.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import ParameterTable
from bayeslead.sem.fiml import refit_fiml

CHUNK = 50
STEP_TOL = 1e-5  # replicate estimates to about 5 digits: far below bootstrap Monte Carlo error


@dataclass(frozen=True)
class BootstrapDraws:
    theta: np.ndarray  # (replicates, n_free), NaN rows for failed replicates
    seed: int
    means: np.ndarray | None = None  # (replicates, p) item intercepts of FIML replicates

    @property
    def n_failed(self) -> int:
        return int(np.isnan(self.theta).any(axis=1).sum())

    @property
    def ok(self) -> np.ndarray:
        return ~np.isnan(self.theta).any(axis=1)


def _replicates(
    table: ParameterTable,
    x: np.ndarray,
    start: np.ndarray,
    seeds: list[np.random.SeedSequence],
    means: np.ndarray | None = None,
    inverse_hessian: np.ndarray | None = None,
) -> np.ndarray:
    phi0 = None if means is None else np.concatenate([start, means])
    out = np.full((len(seeds), len(start) if phi0 is None else len(phi0)), np.nan)
    n = x.shape[0]
    # small matrices: one BLAS thread per process, else parallel workers oversubscribe the cores
    with threadpool_limits(limits=1):
        for r, seq in enumerate(seeds):
            rows = np.random.default_rng(seq).integers(0, n, n)
            if phi0 is not None:  # rows keep their blank cells; the replicate is refitted by FIML
                phi = refit_fiml(table, x[rows], phi0, inverse_hessian)
                if phi is not None:
                    out[r] = phi
                continue
            cov = np.cov(x[rows].T, bias=True)
            solution = fit_ml(table, cov, start, max_iter=200, step_tol=STEP_TOL)
            if solution.converged:
                out[r] = solution.theta
    return out


def bootstrap(
    table: ParameterTable,
    x: np.ndarray,
    theta_hat: np.ndarray,
    replicates: int,
    seed: int,
    workers: int | None = None,
    progress: bool = True,
    means: np.ndarray | None = None,
    inverse_hessian: np.ndarray | None = None,
) -> BootstrapDraws:
    """Refit the model on `replicates` resamples of the rows of `x`.

    Complete data: each replicate's sample covariance is refitted by Fisher scoring. With
    `means` (the FIML intercepts) and `inverse_hessian` (of the FIML -2logL / n at the
    estimates), `x` may hold NaN: rows are resampled with their missing cells and each
    replicate is refitted by FIML from (`theta_hat`, `means`), as lavaan's
    ``se = "bootstrap", missing = "ml"``.
    """
    seeds = np.random.SeedSequence(seed).spawn(replicates)
    chunks = [(i, seeds[i : i + CHUNK]) for i in range(0, replicates, CHUNK)]
    workers = workers or os.cpu_count() or 1
    q = len(theta_hat)
    theta = np.full((replicates, q + (0 if means is None else len(means))), np.nan)
    bar = _progress(progress, replicates)
    if workers == 1 or len(chunks) == 1:
        for start, chunk in chunks:
            theta[start : start + len(chunk)] = _replicates(
                table, x, theta_hat, chunk, means, inverse_hessian
            )
            bar.advance(len(chunk))
    else:
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {
                pool.submit(_replicates, table, x, theta_hat, chunk, means, inverse_hessian): (
                    start,
                    len(chunk),
                )
                for start, chunk in chunks
            }
            for future in as_completed(futures):
                start, size = futures[future]
                theta[start : start + size] = future.result()
                bar.advance(size)
    bar.close()
    return BootstrapDraws(theta[:, :q], seed, None if means is None else theta[:, q:])


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over the first axis, ignoring failed (NaN) replicates."""
    tail = (1.0 - level) / 2.0
    return np.nanquantile(draws, tail, axis=0), np.nanquantile(draws, 1.0 - tail, axis=0)


def bias_corrected_interval(
    draws: np.ndarray, estimate: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected (BC) percentile interval (Efron 1987) over the first axis."""
    draws = np.asarray(draws, dtype=float)
    estimate = np.broadcast_to(np.asarray(estimate, dtype=float), draws.shape[1:])
    valid = ~np.isnan(draws)
    below = np.sum((draws < estimate) & valid, axis=0) + 0.5 * np.sum(
        (draws == estimate) & valid, axis=0
    )
    share = np.clip(below / np.maximum(valid.sum(axis=0), 1), 1e-6, 1 - 1e-6)
    z0 = stats.norm.ppf(share)
    z = stats.norm.ppf(1.0 - (1.0 - level) / 2.0)
    lower_q = stats.norm.cdf(2 * z0 - z)
    upper_q = stats.norm.cdf(2 * z0 + z)
    flat = draws.reshape(draws.shape[0], -1)
    lo = np.array([np.nanquantile(flat[:, k], q) for k, q in enumerate(np.ravel(lower_q))])
    hi = np.array([np.nanquantile(flat[:, k], q) for k, q in enumerate(np.ravel(upper_q))])
    return lo.reshape(draws.shape[1:]), hi.reshape(draws.shape[1:])


class _progress:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total: int):
        self._bar = None
        if enabled and total > 0:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("bootstrap", total=total)

    def advance(self, size: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, size)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
