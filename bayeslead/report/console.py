"""Terminal output of the CLI (rich tables), kept apart from the library's computations."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from bayeslead.instrument import Instrument


def _console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def print_instrument(instrument: Instrument, lang: str) -> None:
    """A tree of constructs, dimensions and items with their texts."""
    meta = instrument.meta
    title = meta.title_zh if lang == "zh" and meta.title_zh else meta.title
    tree = Tree(f"{title} ({meta.name} {meta.version}; languages: {', '.join(meta.languages)})")
    for construct in instrument.constructs:
        label = construct.label_zh if lang == "zh" and construct.label_zh else construct.label
        node = tree.add(f"{construct.id}: {label} [{construct.status}]")
        groups = [(node, construct.items)] + [
            (node.add(f"{d.id}: {instrument.label(d.id, lang)}"), d.items)
            for d in construct.dimensions
        ]
        for parent, items in groups:
            for item in items:
                text = item.text_zh if lang == "zh" and item.text_zh else item.text
                parent.add(f"{item.id}{' (R)' if item.reverse else ''} [{item.scale}]: {text}")
    for check in instrument.attention_checks:
        tree.add(f"attention check {check.id} (expects {check.expected}): {check.text}")
    _console().print(tree)


def print_quality(summary: dict) -> None:
    """The data-quality summary of `bayeslead data check`."""
    console = _console()
    console.print(
        f"{summary['respondents']} respondents, {summary['variables']} variables; "
        f"{summary['missing_cells']} missing cells ({100 * summary['missing_share']:.1f}%), "
        f"{summary['complete_rows']} complete rows, {summary['missing_patterns']} missing-data patterns"
    )
    if summary["reversed_items"]:
        console.print(f"reverse-scored items: {', '.join(summary['reversed_items'])}")
    converted = summary.get("converted") or {}
    tokens = converted.get("missing_tokens") or {}
    console.print(
        f"cells converted: {converted.get('anchor_labels', 0)} anchor labels to numbers; "
        f"{sum(tokens.values())} missing tokens to missing"
        + (" (" + ", ".join(f"'{t}' {n}" for t, n in tokens.items()) + ")" if tokens else "")
        + f"; {converted.get('missing_codes', 0)} missing codes to missing"
    )
    table = Table(title="quality flags", title_justify="left")
    table.add_column("flag")
    table.add_column("respondents", justify="right")
    for flag, count in summary["flagged"].items():
        table.add_row(flag, str(count))
    table.add_row("any", str(summary["flagged_any"]))
    console.print(table)


def print_diagnostics(report: dict, table) -> None:
    """Gates and the least converged parameters of a Bayesian run."""
    console = _console()
    gates = Table(title="diagnostics gates", title_justify="left")
    for col in ("gate", "threshold", "value", "result"):
        gates.add_column(col)
    for name, gate in report["gates"].items():
        gates.add_row(
            name,
            f"{gate['threshold']:g}",
            f"{gate['value']:.4g}",
            "pass" if gate["pass"] else "FAIL",
        )
    console.print(gates)
    worst = table.sort_values("ess_bulk").head(10)
    params = Table(title="lowest bulk ESS", title_justify="left")
    for col in ("parameter", "rhat", "ess_bulk", "ess_tail", "mcse_mean"):
        params.add_column(col)
    for name, row in worst.iterrows():
        params.add_row(
            str(name),
            f"{row.rhat:.4f}",
            f"{row.ess_bulk:.0f}",
            f"{row.ess_tail:.0f}",
            f"{row.mcse_mean:.4g}",
        )
    console.print(params)
