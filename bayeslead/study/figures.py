"""Figures of a study: the power curve and the SBC rank histograms (functions return figures;
`bayeslead.report.figures.save_figure` writes them)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import stats  # noqa: E402

from bayeslead.study.summary import SBC_BINS, ok_records, rank_histogram  # noqa: E402


def power_curve_figure(power: pd.DataFrame, level: float = 0.8) -> Figure:
    """Power against sample size per effect and hypothesis, with +-1.96 Monte Carlo SE bars."""
    targets = [t for t in ("effect", "hypothesis") if (power.target == t).any()]
    fig, axes = plt.subplots(1, len(targets), figsize=(6 * len(targets), 4.2), squeeze=False)
    for ax, target in zip(axes[0], targets, strict=True):
        for name, grp in power[power.target == target].groupby("name", sort=False):
            grp = grp.sort_values("n")
            ax.errorbar(grp.n, grp.power, yerr=1.96 * grp.mcse, marker="o", capsize=3, label=name)
        ax.axhline(level, color="grey", lw=0.8, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xscale("log")
        sizes = sorted(power.n.unique())
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("sample size (respondents)")
        ax.set_ylabel("P(interval excludes 0)" if target == "effect" else "P(hypothesis supported)")
        ax.set_title("named effects" if target == "effect" else "hypotheses")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def sbc_rank_figure(records: list[dict], draws: int, table: pd.DataFrame) -> Figure:
    """Rank histogram per parameter with the 99% band of a uniform histogram."""
    good = [r for r in ok_records(records) if "ranks" in r]
    keys = list(table.parameter)
    cols = min(6, len(keys))
    rows = int(np.ceil(len(keys) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 1.9 * rows), squeeze=False)
    expected = len(good) / SBC_BINS
    band = stats.binom.interval(0.99, len(good), 1 / SBC_BINS)
    for ax, row in zip(axes.ravel(), table.itertuples(), strict=False):
        counts = rank_histogram(np.array([r["ranks"][row.parameter] for r in good]), draws)
        ax.axhspan(*band, color="#dddddd")
        ax.axhline(expected, color="grey", lw=0.8)
        ax.bar(np.arange(SBC_BINS), counts, color="#4c72b0" if row.passes else "#c44e52")
        ax.set_title(row.parameter, fontsize=7)
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
    for ax in axes.ravel()[len(keys) :]:
        ax.set_visible(False)
    fig.suptitle(f"SBC rank histograms ({len(good)} replicates; red: fails uniformity)")
    fig.tight_layout()
    return fig
