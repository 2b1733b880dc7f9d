"""Figures of a fit. Every function returns a matplotlib Figure; `save_figure` writes them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
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


def _interval_plot(ax, labels, est, lower, upper, credible):
    y = np.arange(len(labels))[::-1]
    colors = np.where(credible, "#1f4e79", "#9a9a9a")
    ax.hlines(y, lower, upper, colors=colors, lw=2)
    ax.scatter(est, y, c=colors, zorder=3, s=18)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_yticks(y, labels, fontsize=8)


def _suffix(table: pd.DataFrame, k: int) -> str:
    """' [group]' for row k of a multi-group fit's table (else empty)."""
    group = table["group"].iloc[k] if "group" in table else ""
    return f" [{group}]" if group else ""


def forest_figure(estimates, effects, interval_name: str, labels: dict | None = None) -> Figure:
    """Structural paths (as ``predictor -> outcome`` with `labels` for ids) and named effects
    with their intervals (dark: interval excludes 0)."""
    labels = labels or {}
    paths = estimates[estimates.op == "~"]
    eff = effects[effects.kind == "indirect"] if len(effects) else effects
    n_rows = len(paths) + len(eff)
    fig, axes = plt.subplots(
        1,
        2 if len(eff) else 1,
        figsize=(10 if len(eff) else 6, 1.2 + 0.32 * max(n_rows, 3)),
        squeeze=False,
    )
    if len(paths):
        credible = (paths.ci_lower > 0) | (paths.ci_upper < 0)
        _interval_plot(
            axes[0, 0],
            [
                f"{labels.get(b, b)} \u2192 {labels.get(a, a)}{_suffix(paths, k)}"
                for k, (a, b) in enumerate(zip(paths.lhs, paths.rhs, strict=True))
            ],
            paths.est,
            paths.ci_lower,
            paths.ci_upper,
            credible,
        )
    axes[0, 0].set(title="Structural paths", xlabel=f"estimate ({interval_name})")
    if len(eff):
        credible = (eff.ci_lower > 0) | (eff.ci_upper < 0)
        names = [f"{name}{_suffix(eff, k)}" for k, name in enumerate(eff.effect)]
        _interval_plot(axes[0, 1], names, eff.est, eff.ci_lower, eff.ci_upper, credible)
        axes[0, 1].set(title="Indirect effects", xlabel=f"estimate ({interval_name})")
    fig.tight_layout()
    return fig


def effect_distribution_figure(draws: dict[str, np.ndarray], kind: str) -> Figure:
    """Distribution of each indirect effect over posterior draws or bootstrap replicates."""
    names = list(draws)
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        values = draws[name]
        ax.hist(values, bins=50, color="#8fb3d9", density=True)
        lower, upper = np.quantile(values, [0.025, 0.975])
        ax.axvspan(lower, upper, color="#1f4e79", alpha=0.12)
        ax.axvline(0, color="grey", lw=0.8, ls=":")
        ax.set(title=name, xlabel=f"indirect effect ({kind})", yticks=[])
    fig.tight_layout()
    return fig


def arviz_figure(kind: str, idata, coords: dict | None = None) -> Figure:
    """ArviZ trace, rank or energy plot of the structural paths (on lavaan's metric)."""
    import arviz as az

    if kind == "energy":
        axes = az.plot_energy(idata)
    elif kind == "trace":
        axes = az.plot_trace(
            idata,
            var_names=["estimate"],
            coords=coords,
            compact=False,
            figsize=(10, 1.8 * len(coords["estimate_dim"])),
        )
    else:
        axes = az.plot_rank(
            idata,
            var_names=["estimate"],
            coords=coords,
            figsize=(10, 1.8 * len(coords["estimate_dim"])),
        )
    fig = np.ravel(axes)[0].figure
    fig.tight_layout()
    return fig


def ppc_figure(tables: dict) -> Figure:
    """Posterior predictive checks: observed vs replicated correlations (continuous items) or
    category shares (ordinal items)."""
    if "ppc_pairs" in tables:
        pairs = tables["ppc_pairs"]
        fig, ax = plt.subplots(figsize=(5.5, 5))
        middle = (pairs.replicated_lower + pairs.replicated_upper) / 2
        ax.errorbar(
            middle,
            pairs.observed_corr,
            xerr=[middle - pairs.replicated_lower, pairs.replicated_upper - middle],
            fmt="none",
            ecolor="#8fb3d9",
            lw=1,
        )
        ax.scatter(
            middle,
            pairs.observed_corr,
            c=np.where(pairs.outside, "#c0392b", "#1f4e79"),
            s=12,
            zorder=3,
        )
        low, high = (
            float(pairs[["replicated_lower", "observed_corr"]].min().min()),
            float(pairs[["replicated_upper", "observed_corr"]].max().max()),
        )
        ax.plot([low, high], [low, high], color="grey", lw=0.8)
        ax.set(
            title="Inter-item correlations", xlabel="replicated (95% interval)", ylabel="observed"
        )
    else:
        cats = tables["ppc_categories"]
        items = list(dict.fromkeys(cats.item))
        ncol = min(5, len(items))
        nrow = int(np.ceil(len(items) / ncol))
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(2.6 * ncol, 2.1 * nrow), squeeze=False, sharey=True
        )
        for ax, item in zip(axes.ravel(), items, strict=False):
            rows = cats[cats.item == item]
            x = np.arange(len(rows))
            ax.vlines(x, rows.replicated_lower, rows.replicated_upper, color="#8fb3d9", lw=6)
            ax.scatter(
                x,
                rows.observed_share,
                c=np.where(rows.outside, "#c0392b", "#1f4e79"),
                s=14,
                zorder=3,
            )
            ax.set_xticks(x, [f"{v:g}" for v in rows.category], fontsize=7)
            ax.set_title(item, fontsize=9)
        for ax in axes.ravel()[len(items) :]:
            ax.axis("off")
        fig.suptitle("Category shares: observed (dots) vs replicated 95% intervals")
    fig.tight_layout()
    return fig
