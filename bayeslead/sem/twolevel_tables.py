"""Two-level ML tables: lavaan's SRMR per level and the latent and item ICCs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayeslead.core.twolevel_ml import ClusterStats


def force_pd(s: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """lavaan's ``lav_mat_sym_force_pd``: eigenvalues below tol x the largest raised to it."""
    if s.shape[0] == 1:
        return np.array([[max(s[0, 0], tol)]])
    vals, vecs = np.linalg.eigh(s)
    top = abs(vals[-1])
    vals = np.where(vals / top < tol, tol * top, vals)
    return (vecs * vals) @ vecs.T


def correlation(s: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(s))
    return s / np.outer(sd, sd)


def level_matrices(model, stats: ClusterStats, theta: np.ndarray) -> dict[str, pd.DataFrame]:
    """Implied within and between covariances of a model, labelled by variable."""
    tw, tb, _ = model.expand(theta)
    within, between = model.within.sigma(tw), model.between.sigma(tb)
    return {
        "within": pd.DataFrame(within, model.within.manifest, model.within.manifest),
        "between": pd.DataFrame(between, model.between.manifest, model.between.manifest),
    }


def srmr_levels(specs, stats: ClusterStats, observed: dict, h0_theta: np.ndarray) -> dict:
    """lavaan's srmr_within and srmr_between (correlation residuals of the structured model
    against the saturated two-level model `observed`; the between implied matrix forced
    positive definite) and their sum, lavaan's srmr."""
    implied = level_matrices(specs.h0, stats, h0_theta)
    out = {}
    for level in ("within", "between"):
        names = list(observed[level].index)
        s = observed[level].to_numpy()
        sigma = implied[level].loc[names, names].to_numpy()
        if level == "between":
            sigma = force_pd(sigma)
        resid = correlation(s) - correlation(sigma)
        rows, cols = np.tril_indices_from(resid)
        out[f"srmr_{level}"] = float(np.sqrt(np.mean(resid[rows, cols] ** 2)))
    out["srmr"] = out["srmr_within"] + out["srmr_between"]
    return out


def icc_table(specs, stats: ClusterStats, theta: np.ndarray, saturated: dict) -> pd.DataFrame:
    """Latent ICCs (model-implied between variance / total, constructs present at both levels)
    and item ICCs of the saturated model (lavaan's ``lavInspect(fit, "icc")``)."""
    h0 = specs.h0
    tw, tb, _ = h0.expand(theta)
    within = dict(zip(h0.within.variables, np.diag(h0.within.implied(tw)), strict=True))
    between = dict(zip(h0.between.variables, np.diag(h0.between.implied(tb)), strict=True))
    rows = []
    for name in specs.within_spec.latents:
        if name in between:
            rows.append(("latent", name, within[name], between[name]))
    w_items, b_items = saturated["within"], saturated["between"]
    for name in specs.within_spec.items:
        rows.append(("item", name, w_items.loc[name, name], b_items.loc[name, name]))
    table = pd.DataFrame(rows, columns=["kind", "construct", "within_variance", "between_variance"])
    table["icc"] = table.between_variance / (table.between_variance + table.within_variance)
    return table[["construct", "kind", "icc", "between_variance", "within_variance"]]
