"""The self-contained HTML report of a run, built from the files of its run folder.

Building from the folder (not from objects in memory) means `bayeslead report RUN` rebuilds
exactly what `bayeslead fit` wrote. Figures are embedded as base64 PNGs; no external resources.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from bayeslead.report.blocks import block_heading, estimate_blocks
from bayeslead.report.journal import (
    JournalTable,
    discriminant_tables,
    effects_table,
    fit_table,
    hypotheses_table,
    measurement_table,
    paths_table,
    priors_table,
    reliability_table,
)
from bayeslead.report.numbers import NUMERIC
from bayeslead.report.summary import convergence_verdict, parameter_table, view_of_run
from bayeslead.runs import SavedRun

SECTIONS = (
    "Data",
    "Measurement model",
    "Structural model",
    "Effects",
    "Hypotheses",
    "Diagnostics",
    "Posterior predictive checks",
    "Provenance",
)
CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { color: #1f4e79; margin-bottom: 0.2em; } h2 { color: #1f4e79; border-bottom: 2px solid #d6e2ef;
padding-bottom: 0.2em; margin-top: 2em; } h3 { color: #333; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 9px; text-align: right; }
th { background: #eaf1f8; } td:first-child, th:first-child { text-align: left; }
.status-ok { color: #1e7b34; font-weight: bold; } .status-problems { color: #b03a2e; font-weight: bold; }
.note { color: #555; font-style: italic; } figure { margin: 1em 0; } img { max-width: 100%; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
ul.problems li { color: #b03a2e; }
td.n { white-space: nowrap; } td.t { text-align: left; }
"""


def _table(frame: pd.DataFrame | None, digits: int = 3, columns: list[str] | None = None) -> str:
    if frame is None or frame.empty:
        return '<p class="note">(none)</p>'
    if columns:
        frame = frame[[c for c in columns if c in frame.columns]]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for value in row:
            if isinstance(value, (float, np.floating)):
                text = "" if np.isnan(value) else f"{value:.{digits}f}"
            else:
                text = html.escape(str(value))
            numeric = isinstance(value, (int, float, np.number)) or NUMERIC.match(str(value))
            cells.append(f'<td class="{"n" if numeric else "t"}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def table_html(
    frame: pd.DataFrame | None, digits: int = 3, columns: list[str] | None = None
) -> str:
    """An HTML table in the report's style, for other report pages (e.g. `report.cmv`)."""
    return _table(frame, digits, columns)


def _used(frame: pd.DataFrame | None, column: str) -> bool:
    """True when `frame` has `column` with at least one non-empty value."""
    if frame is None or column not in frame:
        return False
    return bool(frame[column].dropna().astype(str).str.strip().ne("").any())


def _figure(run: SavedRun, name: str, caption: str) -> str:
    path = run.path / "figures" / name
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _journal(table: JournalTable | None, heading: bool = True) -> str:
    """A journal table with its title (as h3) and its note."""
    if table is None or table.frame.empty:
        return ""
    title = f"<h3>{html.escape(table.title)}</h3>" if heading else ""
    note = f'<p class="note">Note. {html.escape(table.note)}</p>' if table.note else ""
    return title + _table(table.frame) + note


def _na(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


FIT_SHOWN = {"chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper"}
FIT_SHOWN |= {"srmr", "ppp"}


def build_report(run: SavedRun) -> str:
    """The report's HTML text."""
    m = run.manifest
    bayes = run.engine == "bayes"
    view = view_of_run(run)
    estimates = run.table("estimates")
    fit = run.json("fit") or {}
    # level (two-level fits) and group (multi-group fits) only where they say something
    labels = [c for c in ("level", "group") if _used(estimates, c)]
    value_cols = ["lhs", "op", "rhs", *labels, "est", "se", "ci_lower", "ci_upper", "std_est"]
    value_cols += ["rhat", "ess_bulk"] if bayes else ["pvalue"]
    n_text = f"{view.n_used}" + (
        f" of {view.n_total} (N used of N total)" if view.n_total not in (None, view.n_used) else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>bayeslead report: {html.escape(m['name'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{html.escape(m['name'])}</h1>",
        f"<p>Engine: <b>{html.escape(m['engine'])}</b> ({html.escape(str(m['info'].get('estimator', '')))}); "
        f"N = {n_text}; created {html.escape(m['created_utc'])}; status "
        f'<span class="status-{m["status"]}">{html.escape(m["status"])}</span></p>',
    ]
    if m["info"].get("ordinal_estimator_reason"):
        parts.append(
            f"<p>Ordinal estimator: {html.escape(m['info']['ordinal_estimator_reason'])}.</p>"
        )
    if m["problems"] or m["warnings"]:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in m["problems"])
        items += "".join(f'<li class="note">{html.escape(w)}</li>' for w in m["warnings"])
        parts.append(f'<ul class="problems">{items}</ul>')

    # Data
    quality = m.get("data_quality", {})
    parts += [
        "<h2>Data</h2>",
        f"<p>File <code>{html.escape(m['data_file'])}</code> (sha256 {m['data_sha256'][:16]}...): "
        f"{quality.get('respondents')} respondents, {quality.get('variables')} model variables, "
        f"{quality.get('missing_cells')} missing responses ({100 * quality.get('missing_share', 0):.1f}%), "
        f"{quality.get('missing_patterns')} missing-data patterns. Missing data: "
        f"{html.escape(str(m['info'].get('missing', 'n/a')))}.</p>",
    ]
    if quality.get("reversed_items"):
        parts.append(
            f"<p>Reverse-scored items: {html.escape(', '.join(quality['reversed_items']))}.</p>"
        )
    flags = pd.DataFrame(
        {
            "flag": list(quality.get("flagged", {})),
            "respondents": list(quality.get("flagged", {}).values()),
        }
    )
    parts += ["<h3>Respondent quality flags</h3>", _table(flags)]

    # Measurement model
    parts += ["<h2>Measurement model</h2>", _journal(measurement_table(view))]
    thresholds = estimates[estimates.op == "|"]
    if len(thresholds):
        parts += [
            "<h3>Thresholds (standardised latent-response scale)</h3>",
            _table(thresholds, columns=value_cols),
        ]
    compact = reliability_table(view)
    parts.append(
        _journal(compact)
        if compact is not None
        else "<h3>Reliability and convergent validity</h3>"
        + _na(
            "Not computed for ordinal indicators (reliability coefficients here assume continuous items)."
        )
    )
    parts += [_journal(t) for t in discriminant_tables(view)]

    # Structural model
    parts += ["<h2>Structural model</h2>", _journal(fit_table(view))]
    other = {k: v for k, v in fit.items() if k not in FIT_SHOWN}
    if other:
        values = [np.nan if v is None else float(v) for v in other.values()]
        rows = pd.DataFrame({"measure": list(other), "value": values})
        parts += ["<h3>Other fit information</h3>", _table(rows)]
    parts += [_figure(run, "path_diagram.png", "Path diagram with standardised estimates")]
    parts.append(_journal(paths_table(view)))
    for title, kind in (("R-squared", "r2"), ("Covariances", "cov"), ("Variances", "var")):
        for where, block in estimate_blocks(estimates):
            table = parameter_table(view, kind, named=kind != "r2", block=block)
            if len(table) or not where:
                parts += [f"<h3>{block_heading(title, where)}</h3>", _table(table)]
    if labels:
        parts += [
            "<h3>All parameters by level and group</h3>",
            _table(estimates[estimates.op.isin(["~", "~~", "=~"])], columns=value_cols),
        ]

    # Effects
    parts.append("<h2>Effects</h2>")
    parts += [
        _journal(effects_table(view), heading=False),
        _figure(run, "forest.png", "Paths and indirect effects with intervals"),
    ]
    parts.append(_figure(run, "effects.png", "Distribution of each indirect effect"))
    icc = run.table("icc")
    if icc is not None:
        parts += ["<h3>Latent intraclass correlations (share of variance between clusters)</h3>"]
        parts.append(_table(icc))
    agreement = run.table("agreement")
    if agreement is not None:
        shown = ["construct", "n_firms", "informants_mean", "rwg_j_uniform_mean"]
        shown += ["rwg_j_uniform_median", "rwg_j_uniform_share_gt_70", "rwg_j_slight_skew_mean"]
        parts += [
            "<h3>Agreement within clusters (can informants be aggregated?)</h3>",
            _table(agreement, columns=[*shown, "awg_mean", "ICC1", "ICC2"]),
            '<p class="note">rwg(j) against the uniform and the slightly skewed null (LeBreton &amp; '
            "Senter 2008), share of clusters above .70; awg (Brown &amp; Hauenstein 2005); ICC(1) "
            "and ICC(2) of the construct means (Bliese 2000), negative values kept.</p>",
        ]
    differences = run.table("group_differences")
    if differences is not None:
        kind = (
            "Posterior differences" if bayes else "Differences (delta-method SEs, Wald intervals)"
        )
        parts += [
            "<h2>Group comparison</h2>",
            f"<p>{kind} (group minus versus) on lavaan's metric; reference group "
            f"{html.escape(str(m['info'].get('reference_group', '')))}; "
            f"{html.escape(str(m['info'].get('invariance', '')))}.</p>",
            _table(differences),
        ]
    deviations = run.table("invariance_deviations")
    if deviations is not None:
        parts += [
            "<h3>Approximate invariance: deviations from the groups' common values</h3>",
            _table(deviations),
            '<p class="note">Standardised scale; flagged: the 95% interval excludes 0 (the '
            "parameter differs between groups). Flagged items freed and the model refitted "
            "(bayes.refit; freed_at: which refit, manifest info.refit: why); first_*: first fit.</p>",
        ]

    conditional = run.table("conditional_effects")
    if conditional is not None:
        parts += _conditional_section(run, conditional, bayes)

    # Hypotheses
    parts.append("<h2>Hypotheses</h2>")
    hypotheses = hypotheses_table(view)
    if hypotheses is None:
        parts.append(_na("The config states no hypotheses."))
    else:
        parts.append(_journal(hypotheses, heading=False))

    # Diagnostics
    parts.append("<h2>Diagnostics</h2>")
    if bayes:
        diag = run.json("diagnostics") or {}
        gates = pd.DataFrame(
            [
                {
                    "gate": k,
                    "threshold": g["threshold"],
                    "value": g["value"],
                    "result": "pass" if g["pass"] else "FAIL",
                    "failed parameters": ", ".join(g["failed"][:6]),
                }
                for k, g in diag.get("gates", {}).items()
            ]
        )
        parts += [f"<p><b>Convergence:</b> {html.escape(convergence_verdict(diag))}.</p>"]
        parts += [_table(gates, digits=4)]
        parts.append(_journal(priors_table(view)))
        for name, caption in (
            ("trace.png", "Trace plots of the structural paths"),
            ("rank.png", "Rank plots"),
            ("energy.png", "Energy plot (E-BFMI)"),
        ):
            parts.append(_figure(run, name, caption))
    else:
        info = m["info"]
        parts.append(
            f"<p>ML optimiser converged: {info.get('converged')} in {info.get('iterations')} iterations "
            f"(max |gradient| {info.get('max_gradient', float('nan')):.2g}); standard errors: "
            f"{html.escape(str(info.get('se')))}.</p>"
        )
        parts.append(
            _na(
                "MCMC convergence diagnostics (R-hat, ESS, divergences) apply to Bayesian runs only."
            )
        )

    # PPC
    parts.append("<h2>Posterior predictive checks</h2>")
    if bayes:
        if "ppp" in fit:
            parts.append(
                f"<p>Posterior predictive p-value of the {html.escape(m['info'].get('ppp_discrepancy', 'chi-square discrepancy'))} "
                f"(PPP): <b>{fit['ppp']:.3f}</b> (values near 0 signal misfit).</p>"
            )
        else:
            parts.append(
                _na("The chi-square PPP needs complete continuous data; item-level checks below.")
            )
        parts.append(_figure(run, "ppc.png", "Observed vs replicated data"))
        pairs = run.table("ppc_pairs")
        if pairs is not None:
            parts.append(
                f"<p>{int(pairs.outside.sum())} of {len(pairs)} inter-item correlations lie outside their 95% predictive interval.</p>"
            )
        cats = run.table("ppc_categories")
        if cats is not None:
            parts.append(
                f"<p>{int(cats.outside.sum())} of {len(cats)} category shares lie outside their 95% predictive interval.</p>"
            )
    else:
        parts.append(
            _na(
                "Not applicable to ML fits; see the chi-square test and fit measures under Structural model."
            )
        )

    # Provenance
    versions = pd.DataFrame(
        {"package": list(m["versions"]), "version": list(m["versions"].values())}
    )
    # report_s and total_s are known only after the report is written; the manifest records them
    shown = {k: v for k, v in m["timings"].items() if k not in ("report_s", "total_s")}
    timings = pd.DataFrame({"step": list(shown), "seconds": list(shown.values())})
    parts += [
        "<h2>Provenance</h2>",
        f"<p>Command: <code>{html.escape(m['command'])}</code>; seed {m['seed']}; config sha256 "
        f"{m['config_sha256'][:16]}...; data sha256 {m['data_sha256']}.</p>",
        "<h3>Config</h3>",
        f"<pre>{html.escape(run.config_text)}</pre>",
        "<h3>Software</h3>",
        _table(versions),
        "<h3>Timings</h3>",
        _table(timings, digits=2),
        "<h3>Model (lavaan syntax)</h3>",
        f"<pre>{html.escape((run.path / 'model.lav').read_text())}</pre>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _conditional_section(run: SavedRun, conditional: pd.DataFrame, bayes: bool) -> list[str]:
    """Latent interactions: simple slopes, conditional indirect effects, indices of moderated
    mediation and the Johnson-Neyman regions, with their figures."""
    interval = "posterior (equal-tailed)" if bayes else str(conditional.ci_method.iloc[0])
    columns = ["effect", "path", "moderator", "value_sd", "moderator_value", "est", "se"]
    columns += ["ci_lower", "ci_upper", "std_est", "std_ci_lower", "std_ci_upper", "p_direction"]
    bounds = run.table("johnson_neyman_bounds")
    return [
        "<h2>Conditional effects</h2>",
        f"<p>Moderator values in SD units of the latent moderator (its mean is 0); standardised "
        f"values after Wen, Marsh &amp; Hau (2010); 95% intervals: {html.escape(interval)}. "
        f"{html.escape(str(run.manifest['info'].get('interactions', '')))}</p>",
        "<h3>Index of moderated mediation (Hayes 2015)</h3>",
        _table(
            conditional[conditional.kind == "imm"], columns=[c for c in columns if "value" not in c]
        ),
        "<h3>Conditional indirect effects</h3>",
        _table(conditional[conditional.kind == "conditional_indirect"], columns=columns),
        "<h3>Simple slopes</h3>",
        _table(conditional[conditional.kind == "simple_slope"], columns=columns),
        _figure(run, "simple_slopes.png", "Simple slopes at the moderator values"),
        "<h3>Johnson-Neyman regions</h3>",
        _table(bounds),
        '<p class="note">bounds_sd: moderator values (SD) where the interval starts or stops '
        "excluding zero; significant_share: share of the range -3..+3 SD where it excludes zero.</p>",
        _figure(
            run, "johnson_neyman.png", "Conditional effects over the moderator (Johnson-Neyman)"
        ),
    ]


def write_report(run_path: Path | str) -> Path:
    """`bayeslead report RUN`: rebuild report.html from a saved run, replacing it atomically."""
    from bayeslead.atomic import atomic_write_text
    from bayeslead.runs import load_run

    run = load_run(run_path)
    return atomic_write_text(run.path / "report.html", build_report(run))
