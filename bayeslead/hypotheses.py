"""Hypotheses written in the config, tested on the fit, reported as a journal table.

Grammar (closed; nothing is evaluated as code)::

    hypothesis := term ("<" | ">") (term | number)
    term       := NAME ("~" | "=~" | "~~") NAME      a parameter, lavaan notation
                | NAME                               a named effect (indirect), NAME_direct,
                                                     NAME_total, a `:=` defined parameter or a
                                                     label of the model syntax (``a``)

Examples: ``"SENS ~ TL > 0"``, ``"serial > 0"``, ``"serial > via_seizing"``,
``"SEIZ ~ SENS > SEIZ ~ TL"``, ``"BI ~ RECO:ENV > 0"``, ``"imm_serial > 0"`` (an index of moderated
mediation). Effects and parameters are on lavaan's (unstandardised) metric.

Bayesian fits report the posterior probability that the inequality holds; a hypothesis is
supported when that probability is at least 0.95. ML fits report the one-sided p-value of the
delta-method z test of the difference; supported when p < 0.05. Intervals are 95%: posterior
equal-tailed, bootstrap percentile when the fit has bootstrap replicates, else Wald.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from bayeslead.core.conditional import imm_draws
from bayeslead.core.effects import defined_name, raw_effect_draws
from bayeslead.core.keys import parse_key
from bayeslead.core.partable import ParameterTable
from bayeslead.core.spec import ModelSpec
from bayeslead.errors import InputError, Problem
from bayeslead.results import FitResult

PROBABILITY = 0.95
ALPHA = 0.05
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Term:
    kind: str  # "parameter", "effect", "index" (of moderated mediation) or "number"
    text: str


@dataclass(frozen=True)
class Hypothesis:
    key: str
    statement: str
    left: Term
    direction: str  # ">" or "<"
    right: Term


def parse_hypotheses(
    hypotheses: dict[str, str], spec: ModelSpec, table: ParameterTable
) -> list[Hypothesis]:
    """Parse and check every hypothesis; raise `InputError` listing all that cannot be read."""
    indices = {imm.name for imm in spec.moderated_mediations()}
    effects = (
        {defined_name(e.name, k) for e in spec.effects for k in ("indirect", "direct", "total")}
        | {d.name for d in spec.definitions}
        | indices
    )
    parameters = {p.key for p in table.params}
    labels = {p.label: p.key for p in reversed(table.params) if p.label}  # a label: its first row
    out, problems = [], []
    for key, statement in hypotheses.items():
        where = f"hypotheses.{key}"
        parts = re.split(r"\s*([<>])\s*", statement.strip())
        if len(parts) != 3:
            problems.append(
                Problem(
                    where, f"{statement!r} must be 'TERM > TERM' or 'TERM < TERM' (one comparison)"
                )
            )
            continue
        terms = []
        for text in (parts[0], parts[2]):
            term = _term(text, effects, indices, parameters, labels)
            if term is None:
                known = ", ".join(sorted(effects)) or "(no named effects)"
                problems.append(
                    Problem(
                        where,
                        f"unknown term {text!r}: use a parameter such as 'SENS ~ TL' (or its label), a number, or an effect or defined parameter: {known}",
                    )
                )
            terms.append(term)
        if None in terms:
            continue
        if terms[0].kind == "number":
            problems.append(
                Problem(where, f"{statement!r}: the left side must be a parameter or effect")
            )
            continue
        out.append(Hypothesis(key, statement, terms[0], parts[1], terms[1]))
    if problems:
        raise InputError("Config: hypotheses cannot be read:", problems)
    return out


def _term(
    text: str, effects: set[str], indices: set[str], parameters: set[str], labels: dict[str, str]
) -> Term | None:
    text = text.strip()
    if _NUMBER.match(text):
        return Term("number", text)
    if text in labels and text not in effects:  # a lavaan label ('a > 0')
        return Term("parameter", labels[text])
    parts = parse_key(text)
    if parts:
        lhs, op, rhs = parts
        key = f"{lhs} {op} {rhs}"
        if op == "~~" and key not in parameters:
            key = f"{rhs} ~~ {lhs}"
        return Term("parameter", key) if key in parameters else None
    if text in indices:
        return Term("index", text)
    return Term("effect", text) if text in effects else None


def _values(term: Term, spec: ModelSpec, table: ParameterTable, theta: np.ndarray) -> np.ndarray:
    """Value of a term for a batch of marker-metric parameter vectors."""
    theta = np.atleast_2d(theta)
    if term.kind == "number":
        return np.full(theta.shape[0], float(term.text))
    if term.kind == "parameter":
        row = next(k for k, p in enumerate(table.params) if p.key == term.text)
        return table.values(theta)[:, row]
    if term.kind == "index":
        return imm_draws(spec, table, theta)[term.text]
    return raw_effect_draws(spec, table, theta)[term.text]


def evaluate(
    hypotheses: list[Hypothesis], spec: ModelSpec, table: ParameterTable, result: FitResult
) -> pd.DataFrame:
    """The hypotheses table: estimate of the difference, interval, probability or p-value, verdict."""
    rows = []
    for h in hypotheses:
        sign = 1.0 if h.direction == ">" else -1.0

        def diff(theta, h=h):
            return _values(h.left, spec, table, theta) - _values(h.right, spec, table, theta)

        row = {"hypothesis": h.key, "statement": h.statement}
        if result.draws_kind == "posterior":
            d = diff(result.draws)
            prob = float(np.mean(sign * d > 0))
            row |= {
                "estimate": float(d.mean()),
                "ci_lower": float(np.quantile(d, 0.025)),
                "ci_upper": float(np.quantile(d, 0.975)),
                "ci_method": "posterior-eti",
                "probability": prob,
                "pvalue": np.nan,
                "supported": prob >= PROBABILITY,
            }
        else:
            est = float(diff(result.theta)[0])
            se = _delta_se(diff, result.theta, result.theta_cov)
            z = sign * est / se if se > 0 else np.nan
            if result.draws is not None and len(result.draws):
                d = diff(result.draws)
                lower, upper, method = (
                    float(np.quantile(d, 0.025)),
                    float(np.quantile(d, 0.975)),
                    "bootstrap-percentile",
                )
            else:
                lower, upper, method = est - 1.959964 * se, est + 1.959964 * se, "wald"
            pvalue = float(stats.norm.sf(z)) if np.isfinite(z) else np.nan
            row |= {
                "estimate": est,
                "ci_lower": lower,
                "ci_upper": upper,
                "ci_method": method,
                "probability": np.nan,
                "pvalue": pvalue,
                "supported": bool(pvalue < ALPHA),
            }
        row["supported"] = "supported" if row["supported"] else "not supported"
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=[
            "hypothesis",
            "statement",
            "estimate",
            "ci_lower",
            "ci_upper",
            "ci_method",
            "probability",
            "pvalue",
            "supported",
        ],
    )


def _delta_se(function, theta: np.ndarray, cov: np.ndarray) -> float:
    steps = 1e-6 * np.maximum(1.0, np.abs(theta))
    grad = (function(theta + np.diag(steps)) - function(theta - np.diag(steps))) / (2 * steps)
    return float(np.sqrt(max(grad @ cov @ grad, 0.0)))
