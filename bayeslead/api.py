"""The Python API: `bayeslead.fit(config, data=None)` does what `bayeslead fit` does, in a
script or a notebook, and returns a `Result` (tables as DataFrames, `summary()`, notebook
display, `save()` to the same run folder the CLI writes)."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bayeslead.config import RunConfig, config_from_mapping, load_config
from bayeslead.core.labels import label_table
from bayeslead.data import quality_table
from bayeslead.pipeline import Inputs, load_inputs, save_run, with_seed
from bayeslead.pipeline import fit as fit_inputs
from bayeslead.report.labels import Labels
from bayeslead.report.summary import render_summary, view_of_result
from bayeslead.results import FitResult

FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "ppp")  # the one-line repr


def fit(
    config: RunConfig | Mapping[str, Any] | str | Path,
    data: pd.DataFrame | str | Path | None = None,
    *,
    seed: int | None = None,
    progress: bool = False,
) -> Result:
    """Fit a model as `bayeslead fit` does and return its `Result` (nothing is written until
    `Result.save`).

    Parameters
    ----------
    config
        A run config: a YAML file, a dict with the same keys (relative paths are relative to the
        working directory) or a `RunConfig`.
    data
        The responses: a DataFrame (columns named as the items, or mapped with data.columns) or
        a file; default the config's data.path.
    seed
        Overrides the engine's seed.
    progress
        Show progress bars (bootstrap, sampler).

    Raises
    ------
    bayeslead.errors.InputError
        Bad config, instrument or data, with every problem and where it is.
    """
    started = time.time()
    run_config = with_seed(_as_config(config), seed)
    inputs = load_inputs(run_config, data)
    quality = quality_table(inputs.data)
    result = fit_inputs(inputs, progress=progress)
    result.timings["fit_s"] = round(time.time() - started, 3)
    return Result(inputs, result, quality)


def _as_config(config: RunConfig | Mapping[str, Any] | str | Path) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, Mapping):
        return config_from_mapping(dict(config), Path.cwd(), "(dict)")
    return load_config(config)


@dataclass
class Result:
    """A finished fit: its tables, fit measures, diagnostics and (Bayesian) InferenceData."""

    inputs: Inputs
    fit_result: FitResult
    quality: pd.DataFrame

    @property
    def estimates(self) -> pd.DataFrame:
        """Parameters in lavaan's layout (lhs, op, rhs, est, se, ... std_est)."""
        return self.fit_result.estimates

    @property
    def effects(self) -> pd.DataFrame:
        """Indirect, direct and total effects with their intervals."""
        return self.fit_result.effects

    @property
    def fit_measures(self) -> dict[str, Any]:
        """chisq, df, CFI, TLI, RMSEA, SRMR, AIC, BIC (ML); PPP, LOO (Bayesian)."""
        return self.fit_result.fit

    @property
    def idata(self):
        """The ArviZ InferenceData of a Bayesian fit (None for ML)."""
        return self.fit_result.idata

    @property
    def reliability(self) -> pd.DataFrame | None:
        return self.fit_result.reliability

    @property
    def htmt(self) -> pd.DataFrame | None:
        return self.fit_result.htmt

    @property
    def diagnostics(self) -> dict | None:
        return self.fit_result.diagnostics

    @property
    def problems(self) -> list[str]:
        return [f"{p.severity}: {p}" for p in self.fit_result.problems]

    @property
    def ok(self) -> bool:
        """False when a problem makes the results untrustworthy (the CLI's exit code 1)."""
        return self.fit_result.ok

    @property
    def config(self) -> RunConfig:
        return self.inputs.config

    def summary(self, full: bool = False) -> None:
        """Print what `bayeslead fit` prints (the compact summary, then the problems); with
        `full`, what `bayeslead summary RUN` prints (lavaan's summary with fit measures,
        standardized values and R-squared)."""
        labels = Labels(label_table(self.inputs.spec, self.inputs.instrument))
        view = view_of_result(self.fit_result, self.config.name, labels)
        print(render_summary(view, compact=not full))
        for problem in self.problems:
            print(problem)

    def save(self, out: str | Path | None = None) -> Path:
        """Write the run folder `bayeslead fit` writes, under `out` (as `--out`; default the
        config's output, else ./outputs); return its path."""
        return save_run(self.inputs, self.fit_result, self.quality, out)

    def _fit_line(self) -> str:
        fit = self.fit_measures
        shown = [f"{k} {fit[k]:.4g}" for k in FIT_KEYS if fit.get(k) is not None]
        return ", ".join(shown)

    def __repr__(self) -> str:
        engine = "Bayesian" if self.fit_result.engine == "bayes" else "ML"
        status = (
            "ok"
            if self.ok
            else f"{sum(not p.startswith('warning') for p in self.problems)} problem(s)"
        )
        return (
            f"<bayeslead.Result {self.config.name!r}: {engine}, N = {self.inputs.data.n}; "
            f"{self._fit_line()}; {len(self.effects)} effect rows; {status}>"
        )

    def _repr_html_(self) -> str:
        engine = "Bayesian" if self.fit_result.engine == "bayes" else "ML"
        parts = [
            f"<h4>bayeslead: {html.escape(self.config.name)} ({engine}, "
            f"N = {self.inputs.data.n})</h4>",
            f"<p>{html.escape(self._fit_line())}</p>",
        ]
        paths = self.estimates[self.estimates.op == "~"]
        for title, table, columns in (
            ("paths", paths, ("lhs", "op", "rhs", "est", "ci_lower", "ci_upper", "std_est")),
            ("effects", self.effects, ("effect", "kind", "est", "ci_lower", "ci_upper", "std_est")),
        ):
            if len(table):
                shown = table[[c for c in columns if c in table]]
                parts.append(f"<p><b>{title}</b></p>")
                parts.append(shown.to_html(index=False, float_format="{:.4f}".format))
        if self.problems:
            items = "".join(f"<li>{html.escape(p)}</li>" for p in self.problems)
            parts.append(f"<ul>{items}</ul>")
        return "\n".join(parts)
