"""Reference algebra for the two-level likelihood tests: a cluster's model-implied covariance
matrices written out with numpy, independently of the numba kernel."""

from __future__ import annotations

import numpy as np


def cluster_covariances(par: dict, slopes: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Within and between covariance matrices of cluster ``j``, whose random slope ``slopes[j, 0]``
    shifts the path from the first to the second within factor.

    Parameters
    ----------
    par : dict
        ``lam``, ``beta_w``, ``beta_b``, ``psi_w``, ``psi_b``, ``theta_w``, ``theta_b``.
    slopes : ndarray
        Random slopes, (clusters, 1).
    j : int
        The cluster.
    """
    b = par["beta_w"].copy()
    b[1, 0] += slopes[j, 0]
    t = np.linalg.inv(np.eye(len(b)) - b)
    sigma_w = par["lam"] @ t @ par["psi_w"] @ t.T @ par["lam"].T + np.diag(par["theta_w"])
    tb = np.linalg.inv(np.eye(len(b)) - par["beta_b"])
    sigma_b = par["lam"] @ tb @ par["psi_b"] @ tb.T @ par["lam"].T + np.diag(par["theta_b"])
    return sigma_w, sigma_b
