"""The method-variance report (`bayeslead cmv`): tables and the sentence on the key effect."""

from __future__ import annotations

import html

import pandas as pd

from bayeslead.report.html import CSS, table_html

NEGLIGIBLE = 0.01
"""A change of a standardised indirect effect below which a correction is called negligible."""
LABELS = {
    "marker": "controlling for the marker's method variance (CFA marker technique, method-U block)",
    "ulmc": "with an unmeasured latent method construct (equal loadings on every item)",
    "bayes": "with a Bayesian method factor",
    "bayes (not converged)": "with a Bayesian method factor (convergence gates failed: not converged)",
}


def effect_sentence(effects: pd.DataFrame, name: str) -> str:
    """How much the standardised indirect effect `name` moves under each correction, in words."""
    rows = effects[(effects.effect == name) & (effects.kind == "indirect")].set_index("model")
    plain = float(rows.loc["plain", "std_est"])
    parts = []
    for model, label in LABELS.items():
        if model in rows.index:
            value = float(rows.loc[model, "std_est"])
            change = value - plain
            share = f", {100 * abs(change) / abs(plain):.0f}% of its size" if plain else ""
            parts.append(f"{label} it is {value:.3f} (change {change:+.3f}{share})")
    if not parts:
        return (
            f"The standardised indirect effect '{name}' is {plain:.3f}; no correction was fitted."
        )
    largest = max(abs(float(rows.loc[m, "std_est"]) - plain) for m in LABELS if m in rows.index)
    verdict = (
        f"Every correction moves it by less than {NEGLIGIBLE}: common-method variance does not "
        "explain this effect."
        if largest < NEGLIGIBLE
        else f"The largest correction moves it by {largest:.3f}: part of the effect may be "
        "shared method variance; report the corrected estimate alongside the plain one."
    )
    return (
        f"The standardised indirect effect '{name}' is {plain:.3f} without a method correction; "
        + "; ".join(parts)
        + ". "
        + verdict
    )


def cmv_report(
    name: str,
    models: pd.DataFrame,
    tests: pd.DataFrame,
    summary: pd.DataFrame,
    sentence: str,
    n: int,
) -> str:
    """report.html of a method-variance run."""
    harman = summary[summary.section == "harman"][["name", "statistic", "value"]]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bayeslead method variance: {html.escape(name)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Common-method variance: {html.escape(name)}</h1>",
        f"<p>{n} respondents with complete answers to the model's and the marker's items.</p>",
        "<h2>Key indirect effect</h2>",
        f"<p><b>{html.escape(sentence or 'The model names no indirect effect.')}</b></p>",
        "<h2>Harman's single-factor test</h2>",
        table_html(harman),
        '<p class="note">A first factor carrying most of the variance (conventionally above '
        "50%) or a one-factor CFA that fits as well as the measurement model would signal "
        "pervasive method variance; the test is weak (Podsakoff et al. 2003) and only a "
        "screen.</p>",
        "<h2>CFA marker technique and model comparisons</h2>",
        table_html(tests),
        '<p class="note">Williams, Hartman &amp; Cavazotte (2010): baseline vs method-C tests '
        "whether method variance exists (equal marker loadings), method-C vs method-U whether "
        "it is unequal across items, method-R vs method-U whether it biases the substantive "
        "correlations.</p>",
        "<h2>Models</h2>",
        table_html(models),
        "</body></html>",
    ]
    return "\n".join(parts)
