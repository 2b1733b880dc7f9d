"""The phases of a run: what a fit is doing, shown on the terminal, and how long each part took.

`Phases.step` times one named phase and, on a terminal, shows a status line (a spinner on
stderr) while it runs and a done line with its seconds afterwards; with `show=False` (`--quiet`)
or when stderr is not a terminal it prints nothing. Phases are contiguous: each one runs from
the end of the previous one (the first from `since`, e.g. the process start), so the named
parts add up to the elapsed time and the manifest's `fit_s` and `total_s` are sums of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from rich.console import Console
from rich.markup import escape


class Phases:
    """Named, contiguous phases of one run (seconds by name, in the order they ran)."""

    def __init__(
        self,
        show: bool = True,
        since: float | None = None,
        console: Console | None = None,
        first: str | None = None,
    ):
        """`since`: when the first phase began (default now); `first`: a phase name for the
        time from `since` until now (e.g. "startup_s", the interpreter and imports)."""
        self.console = console or Console(stderr=True)
        self.show = show and self.console.is_terminal
        self.seconds: dict[str, float] = {}
        self.last = time.time() if since is None else since
        if first is not None:
            now = time.time()
            self.seconds[first], self.last = now - self.last, now

    @contextmanager
    def step(self, key: str, label: str, spinner: bool = True) -> Iterator[Callable[[str], None]]:
        """Time the phase `key` (seconds since the previous phase ended) and show `label`;
        `spinner=False` for phases that draw their own progress bar (sampling, bootstrap).
        Yields a function that replaces the spinner's label (e.g. with progress)."""
        if self.show and not spinner:
            self.console.print(f"[bold]{escape(label)}[/bold] ...", highlight=False)
        status = (
            self.console.status(f"{escape(label)} ...") if self.show and spinner else nullcontext()
        )
        failed = True
        try:
            with status:
                yield (lambda text: status.update(escape(text))) if self.show and spinner else _same
            failed = False
        finally:
            now = time.time()
            elapsed = now - self.last
            self.seconds[key] = self.seconds.get(key, 0.0) + elapsed
            self.last = now
            if self.show and not failed:
                self.console.print(
                    f"[green]done[/green] {escape(label)} ({elapsed:.1f} s)", highlight=False
                )

    def note(self, text: str) -> None:
        """Show one line between phases (what a run decided, e.g. a refit and why)."""
        if self.show:
            self.console.print(escape(text), highlight=False)

    def total(self, keys: list[str] | None = None) -> float:
        """Seconds of the phases `keys` (all phases by default)."""
        return sum(v for k, v in self.seconds.items() if keys is None or k in keys)

    def timings(self) -> dict[str, float]:
        """Seconds per phase, rounded to milliseconds, in the order the phases ran."""
        return {key: round(value, 3) for key, value in self.seconds.items()}


def _same(text: str) -> None:
    """A label update where no spinner is shown."""
