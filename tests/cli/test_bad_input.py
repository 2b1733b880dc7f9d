"""Bad input a new user hits at the command line: exit 2, a message naming the file and what to
do, no traceback, no run folder."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import typer

from bayeslead.cli import app as cli
from tests.cli.test_cli import FIXTURES, run
from tests.conftest import REFERENCE, ROOT

SERIAL = FIXTURES / "configs" / "serial.yaml"


def _refused(result, *texts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for text in texts:
        assert text in result.stderr


def test_data_or_instrument_passed_to_fit_is_not_a_run_config(tmp_path):
    xlsx = tmp_path / "responses.xlsx"
    pd.read_csv(REFERENCE / "serial_mediation" / "data.csv").head(20).to_excel(xlsx, index=False)
    _refused(run("fit", str(xlsx), "--out", str(tmp_path)), "is a data file, not a run config")
    survey = ROOT / "surveys" / "tl_dc_bi.yaml"
    result = run("fit", str(survey), "--out", str(tmp_path))
    _refused(result, "is a survey instrument, not a run config")
    assert len(result.stderr) < 500
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


def test_constant_item_with_blanks_exits_2_naming_it(tmp_path):
    data = pd.read_csv(REFERENCE / "serial_mediation" / "data.csv")
    data["seiz3"] = 4
    rows = np.random.default_rng(3).choice(len(data), 15, replace=False)
    data.loc[rows, "tl2"] = np.nan
    data.loc[rows[:3], "seiz3"] = np.nan
    path = tmp_path / "constant.csv"
    data.to_csv(path, index=False)
    result = run("fit", str(SERIAL), "--data", str(path), "--out", str(tmp_path))
    _refused(result, str(path), "seiz3: no variance: every respondent who answered gave 4")


def test_cp1252_file_exits_2_naming_the_encoding(tmp_path):
    data = pd.read_csv(REFERENCE / "serial_mediation" / "data.csv")
    data.insert(0, "firm", "Société Générale")
    path = tmp_path / "excel.csv"
    data.to_csv(path, index=False, encoding="cp1252")
    result = run("data", "check", str(SERIAL).replace("serial.yaml", "serial.yaml"))
    assert result.returncode == 0, result.stderr
    assert "cells converted: 0 anchor labels" in result.stdout
    result = run("fit", str(SERIAL), "--data", str(path), "--out", str(tmp_path))
    _refused(result, f"Data file {path} is not valid UTF-8", "it looks like cp1252", "encoding")


def test_version():
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("bayeslead ")


def test_ctrl_c_says_interrupted_and_exits_130(monkeypatch, capsys):
    """typer turns Ctrl-C in a command into exit 130 without a word; the CLI says why it
    stopped."""
    stopped = typer.Typer()

    @stopped.command()
    def fit() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", stopped)
    monkeypatch.setattr(sys, "argv", ["bayeslead"])
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"
