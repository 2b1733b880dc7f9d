"""A fit summarised the way lavaan users read one: ``summary(fit, standardized = TRUE,
fit.measures = TRUE, rsquare = TRUE)``, for both engines, as plain text or Markdown.

`RunView` gathers what the summary shows from a saved run folder (`view_of_run`) or from a
`FitResult` in memory (`view_of_result`, for the Python API); `render_summary` renders it in full
or, with ``compact=True``, the short form that `bayeslead fit` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayeslead.report.blocks import block_heading, estimate_blocks, first_block, place_of
from bayeslead.report.convergence import convergence_verdict
from bayeslead.report.labels import Labels
from bayeslead.report.markdown import markdown_table
from bayeslead.report.numbers import DASH, NUMERIC, missing, p_value
from bayeslead.results import FitResult
from bayeslead.runs import SavedRun


@dataclass
class RunView:
    """What a summary shows of one fit (engine-agnostic; every table may be empty)."""

    name: str
    engine: str
    info: dict[str, Any]
    fit: dict[str, Any]
    estimates: pd.DataFrame
    effects: pd.DataFrame
    n_used: int | None = None
    n_total: int | None = None
    hypotheses: pd.DataFrame | None = None
    diagnostics: dict[str, Any] | None = None
    priors: pd.DataFrame | None = None
    reliability: pd.DataFrame | None = None
    htmt: pd.DataFrame | None = None
    latent_correlations: pd.DataFrame | None = None
    labels: Labels = field(default_factory=Labels)
    problems: list[str] = field(default_factory=list)

    @property
    def bayesian(self) -> bool:
        return self.engine == "bayes"


def view_of_run(run: SavedRun) -> RunView:
    """The summary's view of a saved run folder."""
    m = run.manifest
    return RunView(
        name=m["name"],
        engine=m["engine"],
        info=m.get("info", {}),
        fit=run.json("fit") or {},
        estimates=run.table("estimates"),
        effects=run.table("effects"),
        n_used=m.get("n_used", m.get("info", {}).get("n")),
        n_total=m.get("n_total", m.get("n_obs")),
        hypotheses=run.table("hypotheses"),
        diagnostics=run.json("diagnostics"),
        priors=run.table("priors"),
        reliability=run.table("reliability"),
        htmt=run.table("htmt"),
        latent_correlations=run.table("latent_correlations"),
        labels=Labels(run.table("labels")),
        problems=list(m.get("problems", [])) + list(m.get("warnings", [])),
    )


def view_of_result(
    result: FitResult, name: str = "", labels: Labels | None = None, n_total: int | None = None
) -> RunView:
    """The summary's view of a `FitResult` in memory (no run folder needed)."""
    return RunView(
        name=name,
        engine=result.engine,
        info=result.info,
        fit=result.fit,
        estimates=result.estimates,
        effects=result.effects,
        n_used=result.info.get("n"),
        n_total=n_total if n_total is not None else result.info.get("n_input"),
        hypotheses=result.extra_tables.get("hypotheses"),
        diagnostics=result.diagnostics,
        priors=result.extra_tables.get("priors"),
        reliability=result.reliability,
        htmt=result.htmt,
        latent_correlations=result.extra_tables.get("latent_correlations"),
        labels=labels or Labels(),
        problems=[str(p) for p in result.problems],
    )


# --- content ---------------------------------------------------------------------------------
def _num(value: object, digits: int = 3) -> str:
    return "" if missing(value) else f"{float(value):.{digits}f}"


def header_lines(view: RunView) -> list[tuple[str, str]]:
    """(label, value) pairs of the summary's header: engine, estimator, N, missing data."""
    info = view.info
    used = "" if view.n_used is None else str(view.n_used)
    if view.n_total is not None and view.n_total != view.n_used:
        used += f" of {view.n_total}"
    lines = [
        ("Engine", "Bayesian (PyMC, nutpie)" if view.bayesian else "maximum likelihood"),
        ("Estimator", str(info.get("estimator", ""))),
        ("Number of observations used", used),
        ("Missing data", str(info.get("missing", ""))),
    ]
    if info.get("estimator") == "WLSMV":  # not maximum likelihood
        lines[0] = ("Engine", "limited information (DWLS on polychoric correlations)")
    if info.get("ordinal_estimator_reason"):
        lines.append(("Ordinal estimator", str(info["ordinal_estimator_reason"])))
    if view.bayesian:
        lines.append(
            (
                "Chains x draws (tune)",
                f"{info.get('chains')} x {info.get('draws')} ({info.get('tune')})",
            )
        )
    else:
        lines.append(("Standard errors", str(info.get("se", ""))))
    return lines


def fit_lines(view: RunView) -> list[tuple[str, str]]:
    """(measure, value) pairs: chi-square test, CFI/TLI, RMSEA with its 90% interval, SRMR, PPP."""
    f = view.fit
    out = []
    if not missing(f.get("chisq")):
        out.append(
            (
                "Chi-square (df), p",
                f"{_num(f['chisq'])} ({f.get('df', 0):g}), p = {p_value(f.get('pvalue'))}",
            )
        )
    for key, name in (("cfi", "CFI"), ("tli", "TLI")):
        if not missing(f.get(key)):
            out.append((name, _num(f[key])))
    if not missing(f.get("rmsea")):
        ci = ""
        if not missing(f.get("rmsea_ci_lower")):
            ci = f" [{_num(f['rmsea_ci_lower'])}, {_num(f.get('rmsea_ci_upper'))}]"
        out.append(("RMSEA [90% CI]", _num(f["rmsea"]) + ci))
    if not missing(f.get("chisq_scaled")):  # WLSMV: lavaan's scaled (robust) column
        chisq = f"{_num(f['chisq_scaled'])} ({f.get('df', 0):g}), p = "
        low, high = _num(f.get("rmsea_ci_lower_scaled")), _num(f.get("rmsea_ci_upper_scaled"))
        out += [
            ("Chi-square scaled-shifted (df), p", chisq + p_value(f.get("pvalue_scaled"))),
            ("CFI (scaled)", _num(f.get("cfi_scaled"))),
            ("TLI (scaled)", _num(f.get("tli_scaled"))),
            ("RMSEA (scaled) [90% CI]", f"{_num(f.get('rmsea_scaled'))} [{low}, {high}]"),
        ]
    if not missing(f.get("srmr")):
        out.append(("SRMR", _num(f["srmr"])))
    if not missing(f.get("ppp")):
        out.append(("Posterior predictive p (PPP)", _num(f["ppp"])))
    if not missing(f.get("elpd_loo")):
        out.append(
            ("ELPD (PSIS-LOO), SE", f"{_num(f['elpd_loo'], 1)} ({_num(f.get('se_elpd_loo'), 1)})")
        )
    return out


SECTIONS = (
    ("Latent variables", "=~"),
    ("Regressions", "~"),
    ("Covariances", "cov"),
    ("Variances", "var"),
    ("R-Square", "r2"),
)


def _rows(e: pd.DataFrame, kind: str) -> pd.DataFrame:
    if kind == "cov":
        return e[(e.op == "~~") & (e.lhs != e.rhs)]
    if kind == "var":
        return e[(e.op == "~~") & (e.lhs == e.rhs)]
    return e[e.op == kind]


def parameter_table(
    view: RunView,
    kind: str,
    grouped: bool = False,
    named: bool = False,
    block: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One section of the summary as display strings: the parameter, estimate, SE (or posterior
    SD), 95% interval, p (or probability of direction) and std.all; fixed parameters show dashes.
    `grouped` writes loadings and regressions as lavaan prints them: ``lhs op`` on a line of its
    own, then each right-hand side indented; `named` writes labels instead of ids. `block`: the
    rows of one group or level (`estimate_blocks`); by default the first block."""
    rows = _rows(first_block(view.estimates) if block is None else block, kind)
    out: list[dict[str, str]] = []
    for r in rows.itertuples():
        fixed = not missing(r.se) and float(r.se) == 0
        if kind == "r2":
            name = view.labels.with_id(r.lhs) if r.lhs in view.labels.constructs else r.lhs
            out.append({"variable": name, "R2": _num(r.est)})
            if view.bayesian:
                out[-1] |= {"95% interval": _interval(r.ci_lower, r.ci_upper)}
            continue
        name = f"{r.lhs} {r.op} {r.rhs}"
        if named:
            name = f"{view.labels.name(r.lhs)} {r.op} {view.labels.name(r.rhs)}"
        if grouped and kind in ("=~", "~"):
            if not out or out[-1].get("_lhs") != r.lhs:
                out.append({"parameter": f"{r.lhs} {r.op}", "_lhs": r.lhs})
            name = f"  {r.rhs}"
        entry = {
            "_lhs": r.lhs,
            "parameter": name,
            "estimate": _num(r.est),
            "post. SD" if view.bayesian else "SE": DASH if fixed else _num(r.se),
            "95% interval": DASH if fixed else _interval(r.ci_lower, r.ci_upper),
        }
        if view.bayesian:
            entry["pd"] = DASH if fixed else _num(getattr(r, "p_direction", np.nan))
            entry["R-hat"] = DASH if fixed else _num(getattr(r, "rhat", np.nan))
        else:
            entry["p"] = DASH if fixed else p_value(getattr(r, "pvalue", np.nan))
        entry["std.all"] = _num(r.std_est)
        out.append(entry)
    frame = pd.DataFrame(out).fillna("")
    return frame.drop(columns=["_lhs"], errors="ignore")


def _interval(lower: object, upper: object) -> str:
    return DASH if missing(lower) else f"[{_num(lower)}, {_num(upper)}]"


def effects_table(view: RunView) -> pd.DataFrame:
    """Indirect, direct and total effects with their interval method and std.all."""
    out = []
    for r in view.effects.itertuples():
        entry = {
            "effect": r.effect + place_of(r),
            "kind": r.kind,
            "estimate": _num(r.est),
            "post. SD" if view.bayesian else "SE": _num(r.se),
            "95% interval": _interval(r.ci_lower, r.ci_upper),
            "method": r.ci_method,
        }
        if view.bayesian:
            entry["p direction"] = _num(getattr(r, "p_direction", np.nan))
        else:
            entry["p"] = p_value(getattr(r, "pvalue", np.nan))
        entry["std.all"] = _num(r.std_est)
        out.append(entry)
    return pd.DataFrame(out)


def hypotheses_table(view: RunView) -> pd.DataFrame:
    h = view.hypotheses
    if h is None or h.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "hypothesis": h.hypothesis,
            "statement": h.statement,
            "estimate": [_num(v) for v in h.estimate],
            "95% interval": [_interval(a, b) for a, b in zip(h.ci_lower, h.ci_upper, strict=True)],
            ("probability" if view.bayesian else "p (one-sided)"): [
                _num(v) if view.bayesian else p_value(v)
                for v in (h.probability if view.bayesian else h.pvalue)
            ],
            "verdict": h.supported,
        }
    )


def priors_display(view: RunView) -> pd.DataFrame:
    if view.priors is None or view.priors.empty:
        return pd.DataFrame()
    return view.priors.fillna("")


# --- rendering -------------------------------------------------------------------------------
def summary_of_run(path, fmt: str = "text", compact: bool = False) -> str:
    """`bayeslead summary RUN`: the summary of the run folder at `path`."""
    from bayeslead.runs import load_run

    return render_summary(view_of_run(load_run(path)), fmt, compact)


def render_summary(view: RunView, fmt: str = "text", compact: bool = False) -> str:
    """The summary as ``"text"`` (aligned columns, as lavaan prints) or ``"markdown"``.

    `compact` keeps the header, fit, convergence, R-squared of the constructs, paths and effects.
    """
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown summary format {fmt!r}; use 'text' or 'markdown'")
    blocks: list[tuple[str, pd.DataFrame | list[tuple[str, str]] | str]] = []
    title = f"bayeslead {'Bayesian' if view.bayesian else 'ML'} fit" + (
        f": {view.name}" if view.name else ""
    )
    blocks.append(("", header_lines(view)))
    fit = fit_lines(view)
    if fit:
        blocks.append(("Model fit", fit))
    verdict = convergence_verdict(view.diagnostics)
    if verdict:
        blocks.append(("Convergence", verdict))
    sections = SECTIONS
    if compact:
        sections = (("Regressions", "~"), ("R-Square (constructs)", "r2"))
    loadings = _rows(view.estimates, "=~")
    items = set(loadings.rhs) - set(loadings.lhs)
    for name, kind in sections:
        for where, block in estimate_blocks(view.estimates):
            table = parameter_table(view, kind, grouped=fmt == "text", block=block)
            if compact and kind == "r2" and len(table):
                table = table[~table.variable.isin(items)]
            if len(table):
                blocks.append((block_heading(name, where), table))
    if len(view.effects):
        blocks.append(("Effects", effects_table(view)))
    hypotheses = hypotheses_table(view)
    if len(hypotheses):
        blocks.append(("Hypotheses", hypotheses))
    if not compact and view.bayesian and len(priors_display(view)):
        blocks.append(("Priors", priors_display(view)))
    render = _markdown_block if fmt == "markdown" else _text_block
    heading = f"# {title}\n" if fmt == "markdown" else f"{title}\n"
    return heading + "".join(render(name, body) for name, body in blocks)


def _text_block(name: str, body) -> str:
    out = f"\n{name}:\n" if name else ""
    if isinstance(body, str):
        return out + f"  {body}\n"
    if isinstance(body, list):
        width = max(len(k) for k, _ in body)
        return out + "".join(f"  {k:<{width}}  {v}\n" for k, v in body)
    return out + text_table(body)


def _markdown_block(name: str, body) -> str:
    out = f"\n## {name}\n\n" if name else "\n"
    if isinstance(body, str):
        return out + body + "\n"
    if isinstance(body, list):
        body = pd.DataFrame(body, columns=["", "value"])
    return out + markdown_table(body)


def text_table(frame: pd.DataFrame, indent: int = 2) -> str:
    """Columns aligned as lavaan prints them: numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in frame.columns]] + [[str(v) for v in row] for row in frame.values]
    widths = [max(len(r[k]) for r in cells) for k in range(len(cells[0]))]
    right = [
        k > 0 and all(NUMERIC.match(r[k]) or not r[k] for r in cells[1:])
        for k in range(len(widths))
    ]
    lines = []
    for row in cells:
        parts = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(row, widths, right, strict=True)
        ]
        lines.append(" " * indent + "  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"
