"""The library side of `bayeslead data check` and `bayeslead prior-check` (the CLI only prints)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from bayeslead.data import load_responses, quality_summary, quality_table
from bayeslead.instrument import load_instrument
from bayeslead.pipeline import load_inputs


def check_data(
    config_path: Path | str | None,
    data_path: Path | str | None,
    instrument_path: Path | str | None,
) -> tuple[dict, pd.DataFrame]:
    """`bayeslead data check`: validate responses, return the quality summary and flags table."""
    if instrument_path is not None:
        instrument = load_instrument(instrument_path)
        data = load_responses(data_path, [i.id for i in instrument.items()], instrument=instrument)
    else:
        data = load_inputs(config_path, data_path).data
    table = quality_table(data)
    return quality_summary(data, table), table


def prior_check_to_file(
    config_path: Path | str, output: Path | str | None, draws: int, seed: int
) -> tuple[Path, pd.DataFrame]:
    """`bayeslead prior-check`: draw from the priors, save the figure, return its summary."""
    from bayeslead.bayes.prior_check import prior_check
    from bayeslead.report.figures import prior_check_figure, save_figure

    inputs = load_inputs(config_path)
    check = prior_check(inputs.spec, inputs.config.bayes, inputs.data, draws=draws, seed=seed)
    if output is None:
        root = inputs.config.output or Path.cwd() / "outputs"
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        output = root / inputs.config.name / f"prior-check-{stamp}.png"
    return save_figure(prior_check_figure(check), output).resolve(), check.summary()
