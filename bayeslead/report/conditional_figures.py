"""Figures of latent interactions: simple slopes and Johnson-Neyman plots, drawn from the
`conditional_effects` and `johnson_neyman` tables of a fit (standardised values)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def simple_slopes_figure(conditional: pd.DataFrame, estimates: pd.DataFrame) -> Figure:
    """Predicted (standardised) outcome against the focal construct at each moderator value:
    ``y = slope(w) x + b_W w`` with the moderator's own standardised path b_W."""
    slopes = conditional[conditional.kind == "simple_slope"]
    panels = list(dict.fromkeys(slopes.effect))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    axes = axes[0]
    x = np.linspace(-2.0, 2.0, 2)
    for ax, key in zip(axes, panels, strict=True):
        rows = slopes[slopes.effect == key]
        outcome = key.split(" ~ ")[0]
        focal = rows.path.iloc[0].split(" -> ")[0]
        moderator = rows.moderator.iloc[0]
        own = estimates[
            (estimates.lhs == outcome) & (estimates.op == "~") & (estimates.rhs == moderator)
        ]
        b_w = float(own.std_est.iloc[0]) if len(own) else 0.0
        colours = ["#8fb3d9", "#1f4e79", "#b03a2e", "#4d9f5b", "#7d5ba6"]
        for k, row in enumerate(rows.itertuples()):
            label = f"{moderator} at {row.value_sd:+.2g} SD (slope {row.std_est:.2f})"
            ax.plot(x, row.std_est * x + b_w * row.value_sd, color=colours[k % 5], label=label)
        ax.set(
            title=f"{focal} -> {outcome} by {moderator}",
            xlabel=f"{focal} (SD)",
            ylabel=f"predicted {outcome} (SD)",
        )
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def johnson_neyman_figure(grid: pd.DataFrame, interval: str) -> Figure:
    """Each conditional (indirect) effect over the moderator with its interval; the shaded
    region is where the interval excludes zero (Johnson-Neyman)."""
    keys = list(dict.fromkeys(zip(grid.effect, grid.kind, grid.moderator, strict=True)))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    axes = axes[0]
    for ax, (effect, kind, moderator) in zip(axes, keys, strict=True):
        part = grid[(grid.effect == effect) & (grid.kind == kind) & (grid.moderator == moderator)]
        z = part.value_sd.to_numpy()
        ax.fill_between(z, part.ci_lower, part.ci_upper, color="#8fb3d9", alpha=0.5, lw=0)
        ax.plot(z, part.est, color="#1f4e79")
        ax.axhline(0, color="grey", lw=0.8, ls=":")
        low, high = ax.get_ylim()
        ax.fill_between(
            z, low, high, where=part.significant.to_numpy(), color="#4d9f5b", alpha=0.08, lw=0
        )
        ax.set_ylim(low, high)
        what = "simple slope" if kind == "simple_slope" else "conditional indirect effect"
        ax.set(
            title=f"{effect}: {what}",
            xlabel=f"{moderator} (SD from its mean)",
            ylabel=f"standardised ({interval})",
        )
    fig.tight_layout()
    return fig


def conditional_figures(tables: dict, estimates: pd.DataFrame, interval: str) -> dict[str, Figure]:
    """The simple-slopes and Johnson-Neyman figures of a fit with latent interactions (none
    without them), by file name."""
    if "conditional_effects" not in tables:
        return {}
    return {
        "simple_slopes.png": simple_slopes_figure(tables["conditional_effects"], estimates),
        "johnson_neyman.png": johnson_neyman_figure(tables["johnson_neyman"], interval),
    }
