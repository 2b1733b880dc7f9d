"""The one-line convergence verdict of a Bayesian run: R-hat, ESS, divergences, the gates and
the draws per chain they read (with the rule when the chains drew until the gates passed)."""

from __future__ import annotations

from typing import Any

from bayeslead.config import DRAWS_BLOCK, DRAWS_MAX


def convergence_verdict(diagnostics: dict[str, Any] | None) -> str:
    """One line: max R-hat, min bulk/tail ESS, divergences and whether every gate passed."""
    if not diagnostics:
        return ""
    d = diagnostics
    failed = [k for k, g in d.get("gates", {}).items() if not g["pass"]]
    verdict = "all gates pass" if d.get("passed") else f"FAILED gates: {', '.join(failed)}"
    return (
        f"max R-hat {d['max_rhat']:.3f}, min ESS bulk {d['min_ess_bulk']:.0f} / tail "
        f"{d['min_ess_tail']:.0f}, {int(d['divergences'])} divergent transitions: {verdict}"
        + draws_sentence(d)
    )


def draws_sentence(d: dict[str, Any]) -> str:
    """The draws per chain the gates read, and the rule when drawn until they passed."""
    if not d.get("draws_per_chain"):  # runs written before the rule
        return ""
    at = ", ".join(f"{c['draws']:,}" for c in d.get("draws_checks", []))
    rule = (
        f"{DRAWS_BLOCK:,}, continued {DRAWS_BLOCK:,} at a time (the same chains, at most "
        f"{DRAWS_MAX:,}) while R-hat or ESS failed, checked at {at}"
    )
    return f"; {d['draws_per_chain']:,} draws per chain" + (f": {rule}" if at else " (fixed)")
