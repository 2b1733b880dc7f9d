"""lavaan parameter keys (``"SENS ~ TL"``, ``"TL =~ tle1"``, ``"A ~~ B"``): the one parser.

Config keys (priors, truth), hypotheses and the parameter table all write a parameter as
``lhs op rhs``; `parse_key` reads any spacing of it, `Parameter.key` writes it with single spaces.
A latent interaction's coefficient is ``"BI ~ RECO:ENV"`` (the product on the right of ``~``).
"""

from __future__ import annotations

import re

KEY = re.compile(r"^\s*(\w+)\s*(=~|~~|~)\s*(\w+(?:\s*:\s*\w+)?)\s*$")
THRESHOLD = re.compile(r"^\s*\w+\s*\|\s*t[1-9]\d*\s*$")  # lavaan's "x3 | t1"


def is_threshold_key(text: str) -> bool:
    """Whether `text` names an ordinal item's threshold as lavaan does (``"x3 | t1"``)."""
    return THRESHOLD.match(text) is not None


def parse_key(text: str) -> tuple[str, str, str] | None:
    """(lhs, op, rhs) of a lavaan parameter key, or None when `text` is not one."""
    match = KEY.match(text)
    if match is None or (":" in match.group(3) and match.group(2) != "~"):
        return None
    return match.group(1), match.group(2), re.sub(r"\s+", "", match.group(3))
