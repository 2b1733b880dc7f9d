"""Journal tables of a fit: what a results section prints, with the instrument's labels and APA
number style (no leading zero where a value cannot exceed 1, ``p < .001``, an em dash for what a
fixed parameter does not have).

Every function returns a `JournalTable` of display strings; `bayeslead.report.table_files`
writes them as Markdown, LaTeX and Word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from bayeslead.report.blocks import (
    block_columns,
    block_values,
    estimate_blocks,
    first_block,
    place_of,
)
from bayeslead.report.numbers import DASH, interval, missing, number, p_value
from bayeslead.report.summary import RunView


@dataclass(frozen=True)
class JournalTable:
    """A titled table of display strings with the note printed under it."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""


def _interval_label(view: RunView) -> str:
    return "95% CrI" if view.bayesian else "95% CI"


def measurement_table(view: RunView) -> JournalTable:
    """Constructs, items (wording where the instrument gives it), standardised loadings with
    their intervals, and each first-order construct's alpha, omega, CR and AVE."""
    e = first_block(view.estimates)
    loadings = e[e.op == "=~"]
    reliability = view.reliability
    rel = reliability.set_index("construct") if reliability is not None else pd.DataFrame()
    wording = any(view.labels.text(i) for i in loadings.rhs)
    rows = []
    for construct, block in loadings.groupby("lhs", sort=False):
        for k, r in enumerate(block.itertuples()):
            fixed = not missing(r.se) and float(r.se) == 0
            row = {
                "Construct": view.labels.name(construct) if k == 0 else "",
                "Item": view.labels.name(r.rhs),
            }
            if wording:
                row["Wording"] = view.labels.text(r.rhs)
            row["\u03bb"] = number(r.std_est, 2, bounded=True, typeset=True)
            row[_interval_label(view)] = (
                DASH
                if fixed
                else interval(
                    getattr(r, "std_ci_lower", None), getattr(r, "std_ci_upper", None), 2, True
                )
            )
            for column, key in (("\u03b1", "alpha"), ("\u03c9", "omega"), ("CR", "cr")):
                value = rel.loc[construct, key] if k == 0 and construct in rel.index else None
                row[column] = number(value, 2, bounded=True)
            value = rel.loc[construct, "ave"] if k == 0 and construct in rel.index else None
            row["AVE"] = number(value, 2, bounded=True)
            rows.append(row)
    note = (
        "\u03bb = standardised loading (std.all). " + DASH + " = first loading of the construct, "
        "fixed at 1 for identification (unstandardised). \u03b1 = Cronbach's alpha, \u03c9 = "
        "McDonald's omega, CR = composite reliability, AVE = average variance extracted."
    )
    return JournalTable("measurement", "Measurement model", pd.DataFrame(rows), note)


def reliability_table(view: RunView) -> JournalTable | None:
    """A compact reliability and convergent-validity table: one row per first-order construct."""
    r = view.reliability
    if r is None or r.empty:
        return None
    frame = pd.DataFrame(
        {
            "Construct": [view.labels.name(c) for c in r.construct],
            "Items": [str(int(n)) for n in r.n_items],
            "\u03b1": [number(v, 2, bounded=True) for v in r.alpha],
            "\u03c9": [number(v, 2, bounded=True) for v in r.omega],
            "CR": [number(v, 2, bounded=True) for v in r.cr],
            "AVE": [number(v, 2, bounded=True) for v in r.ave],
            "\u221aAVE": [number(v, 2, bounded=True) for v in r.sqrt_ave],
        }
    )
    note = "Common thresholds: \u03b1, \u03c9 and CR above .70; AVE above .50."
    return JournalTable("reliability", "Reliability and convergent validity", frame, note)


def _lower_triangle(matrix: pd.DataFrame, view: RunView, diagonal: dict | None) -> pd.DataFrame:
    names = list(matrix.columns)
    rows = []
    for i, a in enumerate(names):
        if diagonal is None and i == 0:
            continue
        row = {"Construct": view.labels.name(a)}
        for j, b in enumerate(names[: i + (diagonal is not None)]):
            value = diagonal.get(a) if j == i else matrix.loc[a, b]
            row[str(j + 1)] = number(value, 2, bounded=True, typeset=True)
        rows.append(row)
    out = pd.DataFrame(rows).fillna("")
    numbered = [f"{k + 1}. {view.labels.name(n)}" for k, n in enumerate(names)]
    return out.assign(Construct=numbered[1:] if diagonal is None else numbered)


def discriminant_tables(view: RunView) -> list[JournalTable]:
    """HTMT (lower triangle, no diagonal) and Fornell-Larcker (sqrt(AVE) on the diagonal,
    latent correlations below it)."""
    out = []
    if view.htmt is not None and len(view.htmt) > 1:
        matrix = view.htmt.set_index("construct")
        out.append(
            JournalTable(
                "htmt",
                "Discriminant validity: heterotrait-monotrait ratios (HTMT)",
                _lower_triangle(matrix, view, None),
                "HTMT2 (semTools). Values above .85 (conservative) or .90 question the "
                "discriminant validity of a pair of constructs; no intervals are computed.",
            )
        )
    corr, rel = view.latent_correlations, view.reliability
    if corr is not None and rel is not None and len(corr) > 1:
        matrix = corr.set_index("construct")
        diagonal = dict(zip(rel.construct, rel.sqrt_ave, strict=True))
        out.append(
            JournalTable(
                "fornell_larcker",
                "Discriminant validity: Fornell-Larcker criterion",
                _lower_triangle(matrix, view, diagonal),
                "Diagonal: square root of AVE; below it: latent correlations. The criterion holds "
                "when each diagonal value exceeds the correlations in its row and column.",
            )
        )
    return out


def fit_table(view: RunView) -> JournalTable:
    """Model fit: N, chi-square test, CFI, TLI, RMSEA with its 90% interval, SRMR, PPP."""
    f = view.fit
    rows = []
    if view.n_used is not None:
        total = f" of {view.n_total}" if view.n_total not in (None, view.n_used) else ""
        rows.append(("N", f"{view.n_used}{total}"))
    if not missing(f.get("chisq")):
        rows.append(("\u03c7\u00b2 (df)", f"{number(f['chisq'], 2)} ({f.get('df', 0):g})"))
        rows.append(("p", p_value(f.get("pvalue"))))
    for key, name in (("cfi", "CFI"), ("tli", "TLI"), ("srmr", "SRMR")):
        if not missing(f.get(key)):
            rows.append((name, number(f[key], 3, bounded=f[key] <= 1)))
    if not missing(f.get("rmsea")):
        rows.append(
            (
                "RMSEA [90% CI]",
                f"{number(f['rmsea'], 3, True)} "
                + interval(f.get("rmsea_ci_lower"), f.get("rmsea_ci_upper"), 3, True),
            )
        )
    if not missing(f.get("ppp")):
        rows.append(("Posterior predictive p", number(f["ppp"], 3, bounded=True)))
    frame = pd.DataFrame(rows, columns=["Measure", "Value"])
    return JournalTable("fit", "Model fit", frame)


def _arrow(path: str, view: RunView) -> str:
    """A path such as ``TL -> SENS`` (or a lavaan term ``SENS ~ TL``) with labels for ids."""
    path = re.sub(r"(\w+)\s*~\s*(\w+)", r"\2 -> \1", path).replace("=>", "->")
    named = re.sub(r"[A-Za-z_]\w*", lambda m: view.labels.name(m.group(0)), path)
    return named.replace("->", "\u2192")


def paths_table(view: RunView) -> JournalTable | None:
    """Structural paths: unstandardised B, SE (posterior SD), interval, beta, p (or pd); with
    a first column "Level" / "Group" when the fit has several levels or groups."""
    blocks = [(where, e[e.op == "~"]) for where, e in estimate_blocks(view.estimates)]
    blocks = [(where, paths) for where, paths in blocks if len(paths)]
    if not blocks:
        return None
    rows = []
    for _, paths in blocks:
        rows += [_path_row(view, r) for r in paths.itertuples()]
    note = "B = unstandardised, \u03b2 = standardised coefficient (std.all). " + (
        "pd = posterior probability of direction; 95% CrI: equal-tailed credible interval."
        if view.bayesian
        else "p: two-sided Wald test."
    )
    frame = pd.DataFrame(rows)
    if len(blocks) == 1:
        frame = frame.drop(columns="Block")
    else:
        heading = ", ".join(c.title() for c in block_columns(view.estimates))
        frame = frame.rename(columns={"Block": heading})
    return JournalTable("paths", "Structural paths", frame, note)


def _path_row(view: RunView, r) -> dict[str, str]:
    """One row of the paths table; "Block": its group or level (`block_values`)."""
    row = {
        "Block": ", ".join(block_values(r)),
        "Path": f"{view.labels.name(r.rhs)} \u2192 {view.labels.name(r.lhs)}",
        "B": number(r.est, 2, typeset=True),
        "Posterior SD" if view.bayesian else "SE": number(r.se, 2),
        _interval_label(view): interval(r.ci_lower, r.ci_upper),
        "\u03b2": number(r.std_est, 2, bounded=True, typeset=True),
    }
    if view.bayesian:
        row["pd"] = _direction(view, r)
    else:
        row["p"] = p_value(r.pvalue)
    return row


def _direction(view: RunView, row) -> str:
    """Posterior probability of direction of a path."""
    return number(getattr(row, "p_direction", None), 3, bounded=True)


def effects_table(view: RunView) -> JournalTable | None:
    """Indirect, direct and total effects with intervals, beta and the interval method."""
    if view.effects is None or view.effects.empty:
        return None
    rows = []
    for r in view.effects.itertuples():
        row = {
            "Effect": r.effect + place_of(r),
            "Kind": r.kind,
            "Path": _arrow(str(r.path), view),
            "Estimate": number(r.est, 3, typeset=True),
            _interval_label(view): interval(r.ci_lower, r.ci_upper, 3),
            "\u03b2": number(r.std_est, 3, bounded=True, typeset=True),
            "Method": str(r.ci_method),
        }
        if view.bayesian:
            row["pd"] = number(getattr(r, "p_direction", None), 3, bounded=True)
        rows.append(row)
    note = "Intervals by the method named in each row (percentile bootstrap, Wald or posterior)."
    return JournalTable("effects", "Indirect, direct and total effects", pd.DataFrame(rows), note)


def hypotheses_table(view: RunView) -> JournalTable | None:
    h = view.hypotheses
    if h is None or h.empty:
        return None
    frame = pd.DataFrame(
        {
            "Hypothesis": h.hypothesis,
            "Statement": [_arrow(s, view) for s in h.statement],
            "Estimate": [number(v, 3, typeset=True) for v in h.estimate],
            _interval_label(view): [
                interval(a, b, 3) for a, b in zip(h.ci_lower, h.ci_upper, strict=True)
            ],
            ("P(direction)" if view.bayesian else "p (one-sided)"): [
                number(v, 3, bounded=True) if view.bayesian else p_value(v)
                for v in (h.probability if view.bayesian else h.pvalue)
            ],
            "Decision": h.supported,
        }
    )
    rule = (
        "Supported when the posterior probability is at least .95."
        if view.bayesian
        else "Supported when the one-sided p is below .05."
    )
    return JournalTable("hypotheses", "Hypotheses", frame, rule)


def priors_table(view: RunView) -> JournalTable | None:
    if view.priors is None or view.priors.empty:
        return None
    frame = view.priors.fillna("").rename(columns=str.capitalize)
    return JournalTable(
        "priors",
        "Prior distributions",
        frame,
        "Priors act on the sampled scale named in each row; reported estimates are on lavaan's "
        "marker metric.",
    )


def journal_tables(view: RunView) -> list[JournalTable]:
    """Every journal table a run has, in the order of a results section."""
    tables = [measurement_table(view), reliability_table(view), *discriminant_tables(view)]
    tables += [fit_table(view), paths_table(view), effects_table(view), hypotheses_table(view)]
    tables.append(priors_table(view))
    return [t for t in tables if t is not None and not t.frame.empty]
