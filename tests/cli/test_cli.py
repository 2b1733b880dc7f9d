"""The command line: exit codes, last-line run folder, no tracebacks, run-folder contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeslead.results import EFFECT_COLUMNS
from tests.conftest import REFERENCE, ROOT, TESTS

FIXTURES = TESTS / "fixtures"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    first = run("fit", str(FIXTURES / "configs" / "serial.yaml"), "--out", str(out), "--quiet")
    second = run("fit", str(FIXTURES / "configs" / "serial.yaml"), "--out", str(out), "--quiet")
    return first, second


def test_fit_prints_the_run_folder_last_and_writes_the_contract(serial_run):
    first, _ = serial_run
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip().splitlines()[-1])
    assert folder.is_absolute() and folder.is_dir()
    assert folder.parent.name == "serial"
    # the compact summary comes before the folder: fit, paths, constructs' R-squared, effects
    lines = first.stdout.splitlines()
    assert lines[0] == "bayeslead ML fit: serial"
    for section in ("Model fit:", "Regressions:", "R-Square (constructs):", "Effects:"):
        assert section in lines
    expected = {
        "config.yaml",
        "manifest.json",
        "estimates.csv",
        "effects.csv",
        "fit.json",
        "reliability.csv",
        "htmt.csv",
        "quality.csv",
        "report.html",
        "model.lav",
    }
    assert expected <= {p.name for p in folder.iterdir()}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["engine"] == "sem" and manifest["n_obs"] == 400
    assert len(manifest["data_sha256"]) == 64 and manifest["seed"] == 1
    assert {"numpy", "semopy", "python", "bayeslead"} <= set(manifest["versions"])
    assert (
        manifest["timings"]["fit_s"] > 0
        and manifest["timings"]["total_s"] >= manifest["timings"]["fit_s"]
    )
    estimates = pd.read_csv(folder / "estimates.csv")
    assert list(estimates.columns[:4]) == ["lhs", "op", "rhs", "label"]
    assert {"est", "se", "ci_lower", "ci_upper", "std_est"} <= set(estimates.columns)
    row = estimates[(estimates.lhs == "ind_serial") & (estimates.op == ":=")].iloc[0]
    np.testing.assert_allclose(row.est, 0.0492803811452198, atol=0.002)  # lavaan, estimates.csv
    effects = pd.read_csv(folder / "effects.csv")
    assert list(effects.columns[:12]) == EFFECT_COLUMNS
    assert set(effects.ci_method) == {"wald"}  # sem.bootstrap: 0 in this config
    fit = json.loads((folder / "fit.json").read_text())
    np.testing.assert_allclose(fit["chisq"], 182.0604, atol=0.01)
    assert not list(folder.parent.glob(".*incomplete"))


def test_runs_never_overwrite_and_reproduce(serial_run):
    first, second = serial_run
    a = Path(first.stdout.strip().splitlines()[-1])
    b = Path(second.stdout.strip().splitlines()[-1])
    assert a != b and a.is_dir() and b.is_dir()
    for name in ("estimates.csv", "effects.csv", "fit.json"):
        assert (a / name).read_text() == (b / name).read_text()


def test_bad_config_exits_2_without_traceback(tmp_path):
    result = run(
        "fit", str(FIXTURES / "configs" / "invalid" / "bad_engine.yaml"), "--out", str(tmp_path)
    )
    assert result.returncode == 2
    assert "engine: 'lisrel' is not one of: sem, bayes" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_bad_data_exits_2_naming_file_and_column(tmp_path):
    data = pd.read_csv(REFERENCE / "serial_mediation" / "data.csv")
    data.loc[3, "seiz2"] = 9
    path = tmp_path / "bad.csv"
    data.to_csv(path, index=False)
    result = run(
        "fit",
        str(FIXTURES / "configs" / "serial.yaml"),
        "--data",
        str(path),
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert f"{path}, column 'seiz2': value '9' outside the scale 1..5" in result.stderr
    assert "rows 5 (the header is row 1)" in result.stderr and "Traceback" not in result.stderr


def test_fit_with_problems_exits_1_and_keeps_results(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    corr = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.4], [0.8, 0.4, 1.0]])
    pd.DataFrame(z @ np.linalg.cholesky(corr).T, columns=["a", "b", "c"]).to_csv(
        tmp_path / "h.csv", index=False
    )
    (tmp_path / "h.yaml").write_text(
        "name: heywood\ndata: {path: h.csv}\nconstructs: {f: [a, b, c]}\nsem: {bootstrap: 0}\n"
    )
    result = run("fit", str(tmp_path / "h.yaml"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    folder = Path(result.stdout.strip().splitlines()[-1])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "problems"
    assert any("Heywood case" in p for p in manifest["problems"])
    assert "Heywood case" in result.stderr


def test_debug_flag_shows_the_traceback(tmp_path):
    result = run("fit", str(FIXTURES / "configs" / "invalid" / "bad_engine.yaml"), "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["fit"],
        ["simulate"],
        ["instrument", "validate"],
        ["instrument", "show"],
        ["instrument", "export"],
        ["data", "check"],
        ["invariance"],
    ],
)
def test_every_command_has_help_with_an_example(command):
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "bayeslead " in result.stdout


def test_instrument_commands(tmp_path):
    ok = run("instrument", "validate", "surveys/tl_dc_bi.yaml")
    assert ok.returncode == 0 and "ok (27 items" in ok.stdout
    assert "2 dimensions identify a second-order construct" in ok.stderr
    bad = run(
        "instrument", "validate", str(FIXTURES / "instruments" / "invalid" / "unknown_scale.yaml")
    )
    assert bad.returncode == 2 and "unknown scale 'likert9'" in bad.stderr
    shown = run("instrument", "show", "surveys/dynamic_capabilities.yaml", "--lang", "zh")
    assert shown.returncode == 0 and "SENS" in shown.stdout
    out = tmp_path / "codebook.csv"
    exported = run(
        "instrument",
        "export",
        "surveys/tl_dc_bi.yaml",
        "--format",
        "codebook",
        "--lang",
        "zh",
        "-o",
        str(out),
    )
    assert exported.returncode == 0
    assert len(pd.read_csv(out, encoding="utf-8-sig")) == 27 + 2  # items and attention checks
    bad_format = run(
        "instrument",
        "export",
        "surveys/tl_dc_bi.yaml",
        "--format",
        "pdf",
        "-o",
        str(tmp_path / "x.pdf"),
    )
    assert bad_format.returncode == 2 and "unknown export format 'pdf'" in bad_format.stderr


def test_data_check(tmp_path):
    out = tmp_path / "flags.csv"
    result = run("data", "check", "configs/tl_dc_bi_sem.yaml", "-o", str(out))
    assert result.returncode == 0
    assert "500 respondents, 27 variables" in result.stdout
    assert "reverse-scored items: tlv3, sens4, reco4, bit3" in result.stdout
    flags = pd.read_csv(out)
    assert len(flags) == 500 and flags.failed_attention.sum() == 0
    by_instrument = run(
        "data", "check", "--instrument", "surveys/tl_dc_bi.yaml", "data/tl_dc_bi_example.csv"
    )
    assert by_instrument.returncode == 0 and "500 respondents" in by_instrument.stdout


def test_simulate_command(tmp_path):
    out = tmp_path / "sim.csv"
    result = run(
        "simulate",
        str(FIXTURES / "configs" / "serial.yaml"),
        "--n",
        "50",
        "--seed",
        "3",
        "-o",
        str(out),
    )
    assert result.returncode == 0
    frame = pd.read_csv(out)
    assert (
        frame.shape == (50, 21)
        and frame.drop(columns="respondent_id").isin(range(1, 6)).all().all()
    )


def test_manifest_timings_name_every_phase_and_add_up(serial_run, tmp_path):
    """fit_s is the sum of the named phases from the process start; total_s adds writing the
    tables, figures and report. Without a terminal (captured output) no status lines appear."""
    first, _ = serial_run
    manifest = json.loads(
        (Path(first.stdout.strip().splitlines()[-1]) / "manifest.json").read_text()
    )
    t = manifest["timings"]
    parts = ["startup_s", "read_s", "engine_load_s", "estimation_s"]
    assert list(t)[: len(parts) + 1] == [*parts, "fit_s"]
    assert abs(sum(t[k] for k in parts) - t["fit_s"]) < 0.01
    after = ["write_s", "figures_s", "report_s"]
    assert abs(t["fit_s"] + sum(t[k] for k in after) - t["total_s"]) < 0.01
    loud = run("fit", str(FIXTURES / "configs" / "serial.yaml"), "--out", str(tmp_path))
    assert loud.returncode == 0 and "Reading and checking the data" not in loud.stderr
