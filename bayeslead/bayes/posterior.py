"""Summaries of posterior draws (numpy arrays with leading chain and draw axes).

Pure functions: posterior mean/SD, equal-tailed and highest-density intervals, probability of
direction, and ArviZ's rank-normalised R-hat and bulk/tail ESS, for any stack of quantities
(parameters on lavaan's metric, standardised values, effects).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr


def _dataset(draws: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"x": xr.DataArray(draws, dims=("chain", "draw", "k"))})


def convergence(draws: np.ndarray) -> pd.DataFrame:
    """R-hat (rank-normalised, split), bulk and tail ESS, MCSE of the mean per column of draws
    shaped (chain, draw, k)."""
    out = pd.DataFrame(
        np.nan, index=range(draws.shape[-1]), columns=["rhat", "ess_bulk", "ess_tail", "mcse_mean"]
    )
    varying = np.flatnonzero(np.ptp(draws.reshape(-1, draws.shape[-1]), axis=0) > 0)
    if varying.size:  # constant columns (fixed parameters) have no convergence statistics
        data = _dataset(draws[..., varying])
        out.loc[varying, "rhat"] = az.rhat(data)["x"].values
        out.loc[varying, "ess_bulk"] = az.ess(data, method="bulk")["x"].values
        out.loc[varying, "ess_tail"] = az.ess(data, method="tail")["x"].values
        out.loc[varying, "mcse_mean"] = az.mcse(data)["x"].values
    return out


def summarize(draws: np.ndarray, hdi_prob: float = 0.95) -> pd.DataFrame:
    """Mean, SD, equal-tailed and HDI intervals and convergence of draws (chain, draw, k)."""
    flat = draws.reshape(-1, draws.shape[-1])
    tail = (1.0 - hdi_prob) / 2.0
    hdi = az.hdi(_dataset(draws), hdi_prob=hdi_prob)["x"].values
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
