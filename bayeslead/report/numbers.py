"""Numbers as journals print them (APA 7): two or three decimals, no leading zero where a value
cannot exceed 1 in absolute value (correlations, standardised loadings, p, R-squared), ``p < .001``,
an en dash for minus signs in typeset output and an em dash for what does not exist (the SE of a
fixed parameter)."""

from __future__ import annotations

import math
import re

DASH = "\u2014"  # em dash: a fixed parameter's SE, a value that does not exist
MINUS = "\u2212"  # the minus sign of typeset numbers
NUMERIC = re.compile("^[-\u2212\u2014.\\d\\[<]")  # a display cell holding a number or interval


def missing(value: object) -> bool:
    """True for None, NaN and empty strings."""
    if value is None or value == "":
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def number(value: object, digits: int = 2, bounded: bool = False, typeset: bool = False) -> str:
    """`value` rounded to `digits`; `bounded` drops the leading zero (|value| <= 1 by nature);
    `typeset` writes a true minus sign. Missing values give an empty string."""
    if missing(value):
        return ""
    text = f"{float(value):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    if bounded:
        text = text.replace("0.", ".", 1) if text.lstrip("-").startswith("0.") else text
    return text.replace("-", MINUS) if typeset else text


def p_value(value: object, typeset: bool = False) -> str:
    """A p-value in APA style: three decimals without the leading zero, ``< .001`` below."""
    if missing(value):
        return ""
    if float(value) < 0.001:
        return "< .001"
    return number(value, 3, bounded=True, typeset=typeset)


def interval(lower: object, upper: object, digits: int = 2, bounded: bool = False) -> str:
    """``[lower, upper]``, or an em dash when the interval does not exist."""
    if missing(lower) or missing(upper):
        return DASH
    return f"[{number(lower, digits, bounded)}, {number(upper, digits, bounded)}]"


def stars(p: object) -> str:
    """Significance stars: * p < .05, ** p < .01, *** p < .001 (empty when p is missing)."""
    if missing(p):
        return ""
    p = float(p)
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""
