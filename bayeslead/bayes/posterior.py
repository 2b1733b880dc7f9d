"""Summaries of posterior draws (numpy arrays with leading chain and draw axes).

Pure functions: posterior mean/SD, equal-tailed and highest-density intervals, probability of
direction, and the rank-normalised split R-hat, bulk and tail ESS and MCSE of the mean of
Vehtari et al. (2021), for any stack of quantities (parameters on lavaan's metric, standardised
values, effects).

The convergence statistics are ArviZ's (0.23: `az.rhat`, `az.ess(method="bulk" | "tail")`,
`az.mcse`, `az.hdi`, `az.bfmi`) computed for every column at once: ArviZ runs its algorithm once per
parameter in a Python loop (ranks, FFT autocovariance, Geyer's sequences), about 1.5 CPU
seconds of the bundled study's fit, and its variance helper is a numba function compiled in
every process (about 1.3 CPU s more). The same formulas here (ArviZ's variance formula, R's type-7
quantile as `scipy.stats.mstats.mquantiles` writes it, Geyer's initial positive and monotone
sequences) agree with ArviZ's values to 1e-12 (`tests/bayes/test_posterior.py`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from arviz import autocov
from scipy import stats

TAIL_PROBS = (0.05, 0.95)  # ArviZ's tail ESS: the smaller ESS of these two quantiles


def convergence(draws: np.ndarray) -> pd.DataFrame:
    """R-hat (rank-normalised, split), bulk and tail ESS, MCSE of the mean per column of draws
    shaped (chain, draw, k)."""
    out = pd.DataFrame(
        np.nan, index=range(draws.shape[-1]), columns=["rhat", "ess_bulk", "ess_tail", "mcse_mean"]
    )
    varying = np.flatnonzero(np.ptp(draws.reshape(-1, draws.shape[-1]), axis=0) > 0)
    if varying.size and draws.shape[1] >= 4:  # constant columns (fixed parameters): none
        x = np.asarray(draws[..., varying], dtype=float)
        out.loc[varying, "rhat"] = rank_rhat(x)
        out.loc[varying, "ess_bulk"] = ess_bulk(x)
        out.loc[varying, "ess_tail"] = ess_tail(x)
        out.loc[varying, "mcse_mean"] = mcse_mean(x)
    return out


def summarize(draws: np.ndarray, hdi_prob: float = 0.95) -> pd.DataFrame:
    """Mean, SD, equal-tailed and HDI intervals and convergence of draws (chain, draw, k)."""
    flat = draws.reshape(-1, draws.shape[-1])
    tail = (1.0 - hdi_prob) / 2.0
    hdi = highest_density_interval(draws, hdi_prob)
    out = pd.DataFrame(
        {
            "est": flat.mean(axis=0),
            "se": flat.std(axis=0, ddof=1),
            "ci_lower": np.quantile(flat, tail, axis=0),
            "ci_upper": np.quantile(flat, 1.0 - tail, axis=0),
            "hdi_lower": hdi[:, 0],
            "hdi_upper": hdi[:, 1],
        }
    )
    return pd.concat([out, convergence(draws)], axis=1)


def probability_of_direction(draws: np.ndarray) -> np.ndarray:
    """max(P(x > 0), P(x < 0)) per column of draws (chain, draw, k)."""
    flat = draws.reshape(-1, draws.shape[-1])
    positive = np.mean(flat > 0, axis=0)
    return np.maximum(positive, 1.0 - positive)


def highest_density_interval(draws: np.ndarray, hdi_prob: float = 0.95) -> np.ndarray:
    """The narrowest interval holding `hdi_prob` of the draws (chain, draw, k), (k, 2): the
    first of equally narrow ones, as `az.hdi`."""
    ordered = np.sort(draws.reshape(-1, draws.shape[-1]), axis=0)
    n = len(ordered)
    inc = int(np.floor(hdi_prob * n))
    width = np.subtract(ordered[inc:], ordered[: n - inc], dtype=np.float64)
    low = np.argmin(width, axis=0)
    columns = np.arange(ordered.shape[1])
    return np.stack([ordered[low, columns], ordered[low + inc, columns]], axis=1)


def rank_rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat per column of (chain, draw, k): the larger of the bulk and
    the folded (tail) R-hat. NaN with fewer than two chains."""
    if draws.shape[0] < 2:
        return np.full(draws.shape[-1], np.nan)
    split = split_chains(draws)
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[-1]), axis=0))
    return np.maximum(_rhat(z_scale(split)), _rhat(z_scale(folded)))


def ess_bulk(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size per column of (chain, draw, k): ESS of the rank-normalised
    split chains."""
    return _ess(z_scale(split_chains(draws)))


def ess_tail(draws: np.ndarray) -> np.ndarray:
    """Tail effective sample size per column: the smaller ESS of the indicators of the 5% and
    95% quantiles (R's type-7 quantiles of all draws)."""
    flat = np.sort(draws.reshape(-1, draws.shape[-1]), axis=0)
    n = len(flat)
    values = []
    for prob in TAIL_PROBS:
        aleph = n * prob + (1.0 - prob)  # mquantiles with alphap = betap = 1
        k = int(np.floor(np.clip(aleph, 1, n - 1)))
        gamma = float(np.clip(aleph - k, 0, 1))
        quantile = (1.0 - gamma) * flat[k - 1] + gamma * flat[k]
        values.append(_ess(split_chains((draws <= quantile).astype(float))))
    low, high = values
    return np.where(high < low, high, low)  # Python's min(low, high), as ArviZ


def mcse_mean(draws: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean per column: SD / sqrt(split ESS)."""
    sd = np.sqrt(_variance(draws.reshape(-1, draws.shape[-1]), axis=0, ddof=1))
    return sd / np.sqrt(_ess(split_chains(draws)))


def relative_ess(arrays: list[np.ndarray]) -> float:
    """PSIS-LOO's relative efficiency as `az.loo` computes it when not given one: the mean, over
    every element of the posterior's arrays (each (chain, draw, ...)), of the ESS of the mean
    divided by the number of draws (1 with one chain)."""
    chains, draws = arrays[0].shape[:2]
    if chains == 1:
        return 1.0
    flat = [np.asarray(a, dtype=float).reshape(chains, draws, -1) for a in arrays]
    ess = np.concatenate([_ess(split_chains(a)) for a in flat if a.shape[-1]])
    return float(ess.mean() / (chains * draws))


def bfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain of the sampler's energy (chain, draw), as `az.bfmi`."""
    energy = np.atleast_2d(np.asarray(energy, dtype=float))
    return np.square(np.diff(energy, axis=1)).mean(axis=1) / _variance(energy, axis=1, ddof=1)


def split_chains(draws: np.ndarray) -> np.ndarray:
    """(chain, draw, k) -> (2 chain, draw // 2, k): the first halves of the chains, then the
    second halves (the middle draw of an odd length left out)."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]], axis=0)


def z_scale(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks per column (ties averaged, Blom's offset 3/8)."""
    flat = draws.reshape(-1, draws.shape[-1])
    rank = stats.rankdata(flat, method="average", axis=0)
    return stats.norm.ppf((rank - 3 / 8) / (len(flat) - 2 * 3 / 8 + 1)).reshape(draws.shape)


def _variance(x: np.ndarray, axis: int, ddof: int) -> np.ndarray:
    """ArviZ's variance formula (`stats_variance_1d`: mean of squares minus squared mean, the
    sums accumulated in order, as its numba loop does)."""
    n = x.shape[axis]
    total = np.take(np.cumsum(x, axis=axis), -1, axis=axis)
    squares = np.take(np.cumsum(x * x, axis=axis), -1, axis=axis)
    var = squares / n - (total / n) ** 2
    return var * (n / (n - ddof))


def _rhat(x: np.ndarray) -> np.ndarray:
    """Gelman-Rubin R-hat per column of (chain, draw, k)."""
    lanes = _lanes(x)
    n = lanes.shape[-1]
    between = n * _variance(lanes.mean(axis=-1), axis=-1, ddof=1)
    within = np.mean(_variance(lanes, axis=-1, ddof=1), axis=-1)
    return np.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size per column of (chain, draw, k) with Geyer's initial positive and
    initial monotone sequences of autocorrelation pairs (ArviZ's `_ess`)."""
    lanes = _lanes(x)
    acov = autocov(lanes, axis=-1)  # (k, chain, lag)
    with np.errstate(divide="ignore", invalid="ignore"):  # constant columns: set below
        return _geyer_ess(lanes, acov)


def _geyer_ess(lanes: np.ndarray, acov: np.ndarray) -> np.ndarray:
    k, m, n = lanes.shape
    mean_var = np.mean(acov[..., 0], axis=-1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if m > 1:
        var_plus = var_plus + _variance(lanes.mean(axis=-1), axis=-1, ddof=1)
    lag_mean = np.ascontiguousarray(np.swapaxes(acov, 1, 2)).mean(axis=-1)  # (k, lag)
    rho = (1.0 - (mean_var[:, None] - lag_mean) / var_plus[:, None]).T  # (lag, k)
    rho[0] = 1.0
    last = _last_pair(n)
    sums = rho[0 : 2 * last + 2 : 2] + rho[1 : 2 * last + 2 : 2]  # pairs (last + 1, k)
    stop = ~(sums > 0)
    stop[last] = True
    end = np.argmax(stop, axis=0)  # the last pair the positive sequence reads
    columns = np.arange(k)
    monotone = np.minimum.accumulate(sums, axis=0)
    body = np.where(np.arange(last + 1)[:, None] < end, monotone, 0.0).sum(axis=0)
    even = rho[2 * end, columns]
    keep = (end == 0) | (sums[end, columns] >= 0) | (even > 0)
    tau = -1.0 + 2.0 * body + np.where(keep, even, 0.0)
    size = m * n
    ess = size / np.maximum(tau, 1 / np.log10(size))
    read = np.arange(n)[:, None] <= 2 * end + 1
    ess[np.any(np.isnan(rho) & read, axis=0)] = np.nan
    ess[np.ptp(lanes.reshape(k, -1), axis=-1) < np.finfo(float).resolution] = size  # constant
    return ess


def _lanes(x: np.ndarray) -> np.ndarray:
    """(chain, draw, k) -> contiguous (k, chain, draw): each column's chains in the memory order
    ArviZ reduces them in (its sums and means then match to the last bits)."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 0))


def _last_pair(n: int) -> int:
    """The last autocorrelation pair (2m, 2m + 1) ArviZ's positive sequence may read for n
    draws per chain: it reads pair m >= 1 while 2m - 1 < n - 3."""
    last = 0
    while 2 * (last + 1) - 1 < n - 3:
        last += 1
    return last
