"""Figures of a fit. Every function returns a matplotlib Figure; `save_figure` writes them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bayeslead.atomic import atomic_path  # noqa: E402


def save_figure(fig: Figure, path: Path | str, dpi: int = 110) -> Path:
    """Write a figure as PNG (atomically) and close it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def prior_check_figure(check) -> Figure:
    """Prior predictive check: implied item correlations vs observed, and standardised
    paths and effects implied by the priors."""
    panels = 3 if check.category_shares is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    ax = axes[0]
    ax.hist(
        check.correlations.ravel(),
        bins=60,
        range=(-1, 1),
        color="#8fb3d9",
        density=True,
        label="prior predictive",
    )
    if check.observed_correlations is not None:
        ax.hist(
            check.observed_correlations,
            bins=30,
            range=(-1, 1),
            histtype="step",
            color="black",
            density=True,
            label="observed",
        )
    ax.set(title="Inter-item correlations", xlabel="correlation", ylabel="density")
    ax.legend(frameon=False)
    ax = axes[1]
    frame = check.paths.join(check.effects)
    ax.boxplot([frame[c].to_numpy() for c in frame.columns], vert=False, showfliers=False)
    ax.set_yticks(np.arange(1, frame.shape[1] + 1), frame.columns, fontsize=8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(title="Standardised paths and effects (prior)", xlabel="value")
    if check.category_shares is not None:
        ax = axes[2]
        shares = check.category_shares
        positions = np.arange(1, shares.shape[1] + 1)
        ax.boxplot(shares, positions=positions, showfliers=False)
        ax.plot(
            positions, check.observed_shares, "o-", color="black", label="observed (first item)"
        )
        ax.set(title="Category shares", xlabel="category", ylabel="share")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig
