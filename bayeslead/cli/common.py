"""What every command module of the CLI shares: printing and the config argument."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from bayeslead.errors import BayesleadWarning

ConfigArg = Annotated[Path, typer.Argument(help="Run config (configs/*.yaml).")]


def say(text: str = "") -> None:
    typer.echo(text)


def warn(text: str) -> None:
    typer.echo(text, err=True)


# numpy's floating-point warnings (e.g. 'invalid value encountered in divide') come from
# intermediate steps whose results bayeslead checks itself; they only precede a real message
FLOATING_POINT = r".*(invalid value|divide by zero|overflow|underflow) encountered"


def route_warnings() -> None:
    """Print warnings as one line each on stderr: bayeslead's own as `warning: ...`, others
    naming the library they come from; numpy's floating-point warnings are silenced."""
    warnings.filterwarnings("ignore", message=FLOATING_POINT, category=RuntimeWarning)
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, BayesleadWarning):
        warn(f"warning: {message}")
        return
    parts = Path(filename).parts
    inside = parts.index("site-packages") + 1 if "site-packages" in parts else len(parts) - 1
    warn(f"warning from {parts[inside]} ({category.__name__}): {message}")
