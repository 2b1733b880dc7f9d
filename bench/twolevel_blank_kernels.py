"""Benchmark: one evaluation of the two-level log-likelihood and gradient with blank answers
integrated out vs complete data of the same size (issue 21), the least thread-CPU microseconds
over repeats (steady on a busy machine).

Complete: the two-level kernel (`bayes/kernels/twolevel.py`). Blanks: the same kernel on the
clusters filled in at the blank answers' conditional means plus the log-determinant correction
(`bayes/kernels/twolevel_blanks.py`). Designs: the `bench/bayes_missing.py --only levels` shape
(50 clusters x 10, 5 constructs x 4 items, serial paths) with 5% and 20% blanks completely at
random, and 200 clusters x 8 with 5%. Not timed: the graph around the kernels (the symbolic
within and between covariance matrices, the same few p x p products with and without blanks).

    .venv/bin/python bench/twolevel_blank_kernels.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from bayeslead.bayes.kernels.twolevel import cluster_moments, twolevel_terms
from bayeslead.bayes.kernels.twolevel_blanks import blank_cells, blank_terms

sys.path.insert(0, str(Path(__file__).parent))
from missing_kernels import timed  # noqa: E402

DESIGNS = [(50, 10, 0.05), (50, 10, 0.20), (200, 8, 0.05)]


def parameters(factors: int = 5, per: int = 4) -> dict:
    p = factors * per
    lam = np.zeros((p, factors))
    for f in range(factors):
        lam[f * per : (f + 1) * per, f] = 0.7
    beta = np.diag(np.full(factors - 1, 0.45), -1)
    return dict(
        lam=lam,
        theta_w=np.full(p, 0.5),
        theta_b=np.full(p, 0.05),
        psi_w=np.eye(factors) * 0.8,
        psi_b=np.eye(factors) * 0.3,
        beta_w=beta,
        beta_b=beta,
    )


def covariances(par: dict) -> tuple[np.ndarray, np.ndarray]:
    m = len(par["beta_w"])
    t_w, t_b = (np.linalg.inv(np.eye(m) - par[k]) for k in ("beta_w", "beta_b"))
    lam = par["lam"]
    sigma_w = lam @ t_w @ par["psi_w"] @ t_w.T @ lam.T + np.diag(par["theta_w"])
    sigma_b = lam @ t_b @ par["psi_b"] @ t_b.T @ lam.T + np.diag(par["theta_b"])
    return sigma_w, sigma_b


def design(clusters: int, size: int, rate: float) -> None:
    par = parameters()
    sigma_w, sigma_b = covariances(par)
    p = len(sigma_w)
    rng = np.random.default_rng(21)
    between = rng.multivariate_normal(np.zeros(p), sigma_b, size=clusters)
    y = np.repeat(between, size, axis=0) + rng.multivariate_normal(
        np.zeros(p), sigma_w, size=clusters * size
    )
    cluster = np.repeat(np.arange(clusters), size)
    moments = cluster_moments(y, cluster)
    args = [par[k] for k in ("lam", "theta_w", "theta_b", "psi_w", "psi_b", "beta_w", "beta_b")]
    empty = np.zeros((clusters, 0)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    mu, offsets = np.zeros(p), np.zeros((clusters, p))

    def kernel():
        twolevel_terms(
            *args, *empty, mu, offsets, moments.counts, moments.means, moments.centred, 4, False
        )

    base = timed(kernel)
    blank = rng.random(y.shape) < rate
    blank[blank.all(axis=1), 0] = False
    members = np.ones((clusters, size))
    index, member = np.nonzero(blank)
    cells, _ = blank_cells(cluster[index], index % size, member, members, p)
    resid = np.where(blank, 0.0, y).reshape(clusters, size, p)
    sigma_w1 = sigma_w[None]

    def correction():
        blank_terms(sigma_w1, sigma_b, moments.counts, resid, cells.start, cells.member, cells.item)

    extra = timed(correction)
    print(
        f"{clusters} clusters x {size}, p = {p}, {rate:.0%} blank ({blank.sum()} cells, at most "
        f"{np.diff(cells.start).max()} per cluster): complete kernel {base:7.1f} us | correction "
        f"{extra:7.1f} us | with blanks {(base + extra) / base:4.2f} x",
        flush=True,
    )


def main() -> None:
    print(os.popen("uptime").read().strip())
    for clusters, size, rate in DESIGNS:
        design(clusters, size, rate)
    print(os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
