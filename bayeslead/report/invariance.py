"""The invariance-ladder page (`bayeslead invariance`): one table of the levels, the plot of
the fit measures across them, and the score tests of a failed level."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

from bayeslead.report.figures import plt
from bayeslead.report.html import CSS, table_html

SHOWN = {
    "level": "level",
    "chisq": "chi-square",
    "df": "df",
    "cfi": "CFI",
    "tli": "TLI",
    "rmsea": "RMSEA",
    "rmsea_ci_lower": "RMSEA lower",
    "rmsea_ci_upper": "RMSEA upper",
    "srmr": "SRMR",
    "aic": "AIC",
    "bic": "BIC",
    "chisq_diff": "delta chi-square",
    "df_diff": "delta df",
    "p_diff": "p",
    "delta_cfi": "delta CFI",
    "delta_rmsea": "delta RMSEA",
    "delta_srmr": "delta SRMR",
    "decision": "decision",
    "reason": "reason",
}


def ladder_figure_png(table: pd.DataFrame) -> bytes:
    """CFI, RMSEA (with its 90% interval) and SRMR across the levels, as PNG bytes."""
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    x = range(len(table))
    panels = [("CFI", "cfi", None), ("RMSEA (90% CI)", "rmsea", "rmsea_ci"), ("SRMR", "srmr", None)]
    for ax, (title, column, interval) in zip(axes, panels, strict=True):
        ax.plot(x, table[column], marker="o", color="#2b5d8a")
        if interval:
            ax.fill_between(
                x,
                table[f"{interval}_lower"],
                table[f"{interval}_upper"],
                alpha=0.2,
                color="#2b5d8a",
            )
        failed = table.decision == "fails"
        ax.scatter(
            [k for k in x if failed.iloc[k]], table[column][failed], color="#b03030", zorder=3
        )
        ax.set_xticks(list(x), list(table.level), rotation=20)
        ax.set_title(title)
    fig.suptitle("Fit across the invariance levels (red: the level fails against the one before)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def invariance_report(
    name: str,
    table: pd.DataFrame,
    scores: pd.DataFrame,
    groups: dict[str, int],
    rule: str,
    figure: bytes,
) -> str:
    """report.html of an invariance ladder."""
    sizes = ", ".join(f"{html.escape(str(g))} (n = {n})" for g, n in groups.items())
    image = base64.b64encode(figure).decode("ascii")
    estimation = (
        "WLSMV on each group's polychorics (blank answers pairwise, Wu & Estabrook's "
        "identification)"
        if "estimator" in table
        else "ML (FIML with blank answers)"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bayeslead invariance: {html.escape(name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Measurement invariance: {html.escape(name)}</h1>",
        f"<p>Groups: {sizes}; the first is the reference group. {estimation}, lavaan's "
        "multi-group definitions.</p>",
        table_html(table[[c for c in SHOWN if c in table]].rename(columns=SHOWN)),
        f'<p class="note">{html.escape(rule)}</p>',
        f'<figure><img alt="fit across levels" src="data:image/png;base64,{image}">'
        "<figcaption>CFI, RMSEA and SRMR per level</figcaption></figure>",
    ]
    if len(scores) and "estimator" in table:  # ordinal items (WLSMV)
        parts += [
            "<h2>Parameters to free (score tests of the failed level)</h2>",
            table_html(scores),
            '<p class="note">WLSMV: lavaan\'s lavTestScore (each equality constraint; the '
            "level's total as rank 0) and modindices (an intercept the scalar level fixes in "
            "every group): the ordinary score test, as lavaan computes it for WLSMV fits (it "
            "has no robust one). Add the top parameters of the failed level (new_at_level) to "
            "<code>group_partial</code> one at a time and rerun: the ladder then gives the "
            "scaled-shifted difference test of the partial model.</p>",
        ]
    elif len(scores):
        parts += [
            "<h2>Parameters to free (score tests of the failed level)</h2>",
            table_html(scores),
            '<p class="note">lavaan\'s lavTestScore: the chi-square drop expected from freeing '
            "each constrained parameter in every group. Add the top parameters of the failed "
            "level (new_at_level) to <code>group_partial</code> one at a time and rerun.</p>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
