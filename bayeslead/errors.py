"""Error types and problem reports shared by every input validator.

Exit codes follow the CLI contract: 2 for input that cannot be used (`InputError`),
1 for a fit that ran but has problems (`FitProblemError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding about an input file: where it is and what is wrong."""

    where: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = f"{self.where}: " if self.where else ""
        return f"{prefix}{self.message}"


class BayesleadError(Exception):
    """Base class for errors bayeslead reports to the user without a traceback."""

    exit_code = 1


class InputError(BayesleadError):
    """Bad input (config, instrument, data): exit code 2."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None, source: str = ""):
        self.problems = list(problems or [])
        self.source = source
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        errors = [p for p in self.problems if p.severity == "error"]
        if not errors:
            return head
        lines = [head] + [f"  - {p}" for p in errors]
        return "\n".join(lines)


class FitProblemError(BayesleadError):
    """A fit ran but its results should not be trusted as they are: exit code 1."""

    exit_code = 1


def raise_if_errors(problems: list[Problem], what: str, source: str) -> list[Problem]:
    """Raise `InputError` listing every error in `problems`; return the warnings otherwise."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        noun = "problem" if len(errors) == 1 else "problems"
        raise InputError(f"{what} {source} has {len(errors)} {noun}:", problems, source)
    return [p for p in problems if p.severity == "warning"]


class StudyInterrupted(BayesleadError):
    """A simulation study stopped by the user; finished replicates are kept for `--resume`."""

    exit_code = 130


class BayesleadWarning(UserWarning):
    """Something the user should know that does not stop the command (printed as a warning)."""
