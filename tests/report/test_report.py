"""Diagnostics gates, hypotheses, model comparison, saved-run provenance, figures and the HTML
report (rendered in headless Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.errors import BayesleadWarning, InputError
from bayeslead.hypotheses import evaluate, parse_hypotheses
from bayeslead.pipeline import fit_to_run_folder
from bayeslead.report.diagram import path_diagram
from bayeslead.report.html import SECTIONS
from bayeslead.report.hypotheses import hypotheses_latex
from bayeslead.results import FitResult
from bayeslead.runs import FORMAT_VERSION, load_run
from tests.conftest import REFERENCE, TESTS, reference_row, reference_table

FIXTURES = TESTS / "fixtures" / "configs"


SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}


PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


EFFECTS = {
    "ind_serial": ["TL", "SENS", "SEIZ", "RECO", "BI"],
    "ind_tl_seiz": ["TL", "SEIZ", "RECO", "BI"],
}


def _config(tmp_path: Path, name: str, replace: dict[str, str] | None = None) -> Path:
    text = (FIXTURES / f"{name}.yaml").read_text().replace("../../reference", str(REFERENCE))
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def ml_runs(tmp_path_factory):
    """The serial model, a restricted version (no TL -> SEIZ) and the serial model on other data."""
    tmp = tmp_path_factory.mktemp("ml")
    hyp = 'engine: sem\nhypotheses:\n  H1: "SENS ~ TL > 0"\n  H2: "ind_serial > 0"\n  H3: "ind_serial > ind_tl_seiz"'
    full = fit_to_run_folder(
        _config(tmp, "serial", {"engine: sem": hyp}), out=tmp / "out", progress=False
    )[0]
    restricted_cfg = _config(
        tmp,
        "serial",
        {
            "SEIZ: [SENS, TL]": "SEIZ: [SENS]",
            "  ind_tl_seiz: [TL, SEIZ, RECO, BI]\n": "",
            "name: serial": "name: serial_restricted",
        },
    )
    restricted = fit_to_run_folder(restricted_cfg, out=tmp / "out", progress=False)[0]
    other = tmp / "other.csv"
    data = pd.read_csv(REFERENCE / "serial_mediation" / "data.csv").iloc[:300]
    data.to_csv(other, index=False)
    elsewhere = fit_to_run_folder(
        _config(tmp, "serial", {"name: serial": "name: serial_other"}),
        data_path=other,
        out=tmp / "out",
        progress=False,
    )[0]
    return full, restricted, elsewhere


def test_hypotheses_ml_p_values_match_lavaan(ml_runs):
    """One-sided z tests: R: est/se from parameterEstimates(sem(model.lav, data)) and the
    delta-method SE of ind_serial := a*b*c*d (0.01255)."""
    table = pd.read_csv(ml_runs[0] / "hypotheses.csv").set_index("hypothesis")
    est = reference_table("serial_mediation", "estimates.csv")
    a = reference_row(est, "SENS", "~", "TL")
    np.testing.assert_allclose(table.loc["H1", "estimate"], a.est, atol=0.002)
    np.testing.assert_allclose(table.loc["H1", "pvalue"], stats.norm.sf(a.est / a.se), atol=1e-6)
    ind = est[est.lhs == "ind_serial"].iloc[0]
    np.testing.assert_allclose(
        table.loc["H2", "pvalue"], stats.norm.sf(ind.est / ind.se), rtol=0.05
    )
    assert table.loc["H2", "supported"] == "supported"
    np.testing.assert_allclose(
        table.loc["H3", "estimate"], ind.est - est[est.lhs == "ind_tl_seiz"].iloc[0].est, atol=0.002
    )
    assert (ml_runs[0] / "hypotheses.tex").read_text().count(r"\\") == 4


def test_hypotheses_bayesian_probability_and_grammar():
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS, effects=EFFECTS))
    table = build_partable(spec)
    parsed = parse_hypotheses({"H1": "SENS ~ TL > 0.5", "H2": "ind_serial < 0"}, spec, table)
    draws = np.tile(table.start_values(np.eye(20) + 0.3), (1000, 1))  # valid variances
    draws[:, table.index("SENS ~ TL")] = np.linspace(0.0, 1.0, 1000)
    draws[:, table.index("SEIZ ~ SENS")] = 0.0  # so both serial chains' effects are 0
    result = FitResult(
        "bayes", pd.DataFrame(), pd.DataFrame(), {}, {}, draws=draws, draws_kind="posterior"
    )
    out = evaluate(parsed, spec, table, result).set_index("hypothesis")
    np.testing.assert_allclose(out.loc["H1", "probability"], 0.5, atol=0.002)  # P(U(0,1) > 0.5)
    assert out.loc["H1", "supported"] == "not supported"
    assert out.loc["H2", "probability"] == 0.0  # ind_serial = a*b*c*d is 0 in every draw (b = 0)
    for statement, message in [
        ("SENS ~ TL >> 0", "one comparison"),
        ("SENS ~ TL > 0 > 1", "one comparison"),
        ("0 < SENS ~ TL", "left side must be a parameter or effect"),
        ("serial > 0", "unknown term 'serial'"),
        ("SENS ~ BI > 0", "unknown term 'SENS ~ BI'"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_hypotheses({"H": statement}, spec, table)
    latex = hypotheses_latex(out.reset_index(), bayesian=True)
    assert r"\toprule" in latex and "SENS \\textasciitilde{} TL $>$ 0.5" in latex


def test_ml_comparison_is_a_chi_square_difference_test(ml_runs):
    from bayeslead.compare import compare_runs

    full, restricted, _ = ml_runs
    comparison = compare_runs([full, restricted])
    table = comparison.table.set_index("model")
    f_full, f_restricted = (
        json.loads((full / "fit.json").read_text()),
        json.loads((restricted / "fit.json").read_text()),
    )
    delta = f_restricted["chisq"] - f_full["chisq"]
    np.testing.assert_allclose(table.loc["serial_restricted", "delta_chisq"], delta, atol=1e-9)
    assert table.loc["serial_restricted", "delta_df"] == 1
    np.testing.assert_allclose(
        table.loc["serial_restricted", "pvalue_difference"], stats.chi2.sf(delta, 1), atol=1e-12
    )
    assert table.loc["serial_restricted", "compared_with"] == "serial"


def test_comparison_refuses_different_data(ml_runs):
    result = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "compare", str(ml_runs[0]), str(ml_runs[2])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "was fitted to different data" in result.stderr and "Traceback" not in result.stderr


def test_saved_runs_check_their_provenance(ml_runs, tmp_path):
    run = load_run(ml_runs[0])
    assert run.engine == "sem" and run.manifest["name"] == "serial"
    edited = tmp_path / "edited"
    shutil.copytree(ml_runs[0], edited)
    (edited / "config.yaml").write_text(
        (edited / "config.yaml").read_text().replace("bootstrap: 0", "bootstrap: 5")
    )
    with pytest.raises(InputError, match="does not match the manifest's config_sha256"):
        load_run(edited)
    incomplete = tmp_path / "incomplete"
    shutil.copytree(ml_runs[0], incomplete)
    (incomplete / "fit.json").unlink()
    with pytest.raises(InputError, match="incomplete: missing fit.json"):
        load_run(incomplete)
    old = tmp_path / "old"
    shutil.copytree(ml_runs[0], old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["bayeslead_version"] = "0.0.1"
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(BayesleadWarning, match="written by bayeslead 0.0.1 .this is 0.1.0.; its "):
        assert load_run(old).manifest["bayeslead_version"] == "0.0.1"  # same format: read
    del manifest["format_version"]  # runs written before the format was recorded: format 1
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(BayesleadWarning):
        load_run(old)
    manifest["format_version"] = FORMAT_VERSION + 1
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        InputError, match=f"format {FORMAT_VERSION + 1} .written by bayeslead 0.0.1"
    ):
        load_run(old)
    manifest["format_version"] = 0
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        InputError, match="format 0, which bayeslead 0.1.0 no longer reads .format 1:"
    ):
        load_run(old)


def test_run_files_follow_the_umask(ml_runs):
    """Co-authors on a shared server can read a run: 0644 files under umask 022 (the suite's
    umask is whatever the shell has, so compare with it)."""
    from bayeslead.atomic import current_umask

    expected = 0o666 & ~current_umask()
    run = Path(ml_runs[0])
    for name in ("manifest.json", "estimates.csv", "report.html", "figures/path_diagram.png"):
        assert (run / name).stat().st_mode & 0o777 == expected, name


def test_atomic_writes_use_the_umask(tmp_path):
    from bayeslead.atomic import atomic_write_text

    old = os.umask(0o022)
    try:
        assert atomic_write_text(tmp_path / "a.txt", "x").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        assert atomic_write_text(tmp_path / "b.txt", "x").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_path_diagram_draws_every_construct_and_path():
    from matplotlib.patches import Ellipse, FancyArrowPatch

    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS, second_order={}))
    estimates = pd.DataFrame(
        [
            {
                "lhs": r.outcome,
                "op": "~",
                "rhs": r.predictor,
                "est": 0.3,
                "se": 0.1,
                "ci_lower": 0.1,
                "ci_upper": 0.5,
                "std_est": 0.3,
            }
            for r in spec.regressions
        ]
    )
    estimates.loc[0, ["ci_lower", "ci_upper"]] = [-0.1, 0.5]  # one path whose interval includes 0
    fig = path_diagram(spec, estimates, items=False)
    patches = fig.axes[0].patches
    assert sum(isinstance(p, Ellipse) for p in patches) == 5
    arrows = [p for p in patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == 6
    assert sum(a.get_linestyle() == "--" for a in arrows) == 1


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.h2, self.images, self.tables, self._in_h2 = [], 0, 0, False

    def handle_starttag(self, tag, attrs):
        self._in_h2 = tag == "h2"
        if tag == "img" and dict(attrs).get("src", "").startswith("data:image/png;base64,"):
            self.images += 1
        self.tables += tag == "table"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data.strip())
            self._in_h2 = False


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("BAYESLEAD_REQUIRE_CHROMIUM"):
        pytest.fail("Chromium is required (BAYESLEAD_REQUIRE_CHROMIUM) but not installed")
    return found


def _render(html_file: Path, tmp_path: Path) -> tuple[np.ndarray, str]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (CI installs it: .ci/run)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    shot = tmp_path / "shot.png"
    url = html_file.resolve().as_uri()
    subprocess.run(
        [chromium, *flags, "--window-size=1200,1600", f"--screenshot={shot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    import matplotlib.image

    return matplotlib.image.imread(shot), dom


def test_ml_report_structure_and_rendering(ml_runs, tmp_path):
    report = ml_runs[0] / "report.html"
    outline = _Outline()
    outline.feed(report.read_text())
    assert outline.h2 == list(SECTIONS)
    assert outline.images >= 2 and outline.tables >= 8
    text = report.read_text()
    assert (
        "MCMC convergence diagnostics (R-hat, ESS, divergences) apply to Bayesian runs only" in text
    )
    assert "Not applicable to ML fits" in text and "ind_serial &gt; ind_tl_seiz" in text
    pixels, dom = _render(report, tmp_path)
    assert all(f"<h2>{s}</h2>" in dom for s in SECTIONS)  # the browser parsed our page
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05 and (gray < 0.5).mean() > 0.005  # text and tables, not a blank page


def test_report_command_rebuilds_atomically(ml_runs):
    report = ml_runs[0] / "report.html"
    before = report.read_text()
    report.write_text("stale")
    result = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "report", str(ml_runs[0])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert report.read_text() == before
    assert not list(ml_runs[0].glob(".report.html.*"))


@pytest.fixture(scope="module")
def bayes_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bayes")
    config = _config(
        tmp,
        "serial_bayes",
        {
            "engine: bayes": "engine: bayes\nbayes: {chains: 2, draws: 300, tune: 300, priors: "
            "{paths: 'normal(0, 2)', 'SENS ~ TL': 'normal(0, 1)'}}\n"
            'hypotheses:\n  H1: "ind_serial > 0"'
        },
    )
    return fit_to_run_folder(config, out=tmp / "out", progress=False)[0]


def test_bayesian_report_has_diagnostics_and_checks(bayes_run, tmp_path):
    names = {p.name for p in (bayes_run / "figures").iterdir()}
    assert {
        "trace.png",
        "rank.png",
        "energy.png",
        "forest.png",
        "effects.png",
        "ppc.png",
        "path_diagram.png",
    } <= names
    pairs = pd.read_csv(bayes_run / "ppc_pairs.csv")
    assert len(pairs) == 190 and pairs.outside.mean() < 0.2
    hyp = pd.read_csv(bayes_run / "hypotheses.csv")
    assert hyp.loc[0, "probability"] > 0.99 and hyp.loc[0, "supported"] == "supported"
    outline = _Outline()
    outline.feed((bayes_run / "report.html").read_text())
    assert outline.h2 == list(SECTIONS) and outline.images >= 7
    text = (bayes_run / "report.html").read_text()
    assert "Posterior predictive p-value of the chi-square discrepancy (PPP)" in text
    pixels, dom = _render(bayes_run / "report.html", tmp_path)
    assert "<h2>Diagnostics</h2>" in dom and pixels[..., :3].std() > 0.05


def test_diagnose_command_rechecks_a_saved_run(bayes_run):
    result = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "diagnose", str(bayes_run)],
        capture_output=True,
        text=True,
    )
    saved = json.loads((bayes_run / "diagnostics.json").read_text())
    assert result.returncode == (0 if saved["passed"] else 1)
    assert (
        "diagnostics gates" in result.stdout
        and "SENS ~ TL" in result.stdout + result.stderr
        or "ess_bulk" in result.stdout
    )
    from bayeslead.diagnose import diagnose_run

    report, table = diagnose_run(bayes_run)
    np.testing.assert_allclose(report["max_rhat"], saved["max_rhat"], rtol=1e-9)
    assert "ind_serial (indirect)" in table.index


def test_bayesian_comparison_by_loo(bayes_run, tmp_path):
    """PSIS-LOO of the serial model against itself fitted without TL -> SEIZ, on the same data:
    the log-likelihood of a saved run without stored pointwise values is recomputed."""
    from bayeslead.compare import compare_runs

    config = _config(
        tmp_path,
        "serial_bayes",
        {
            "SEIZ: [SENS, TL]": "SEIZ: [SENS]",
            "  ind_tl_seiz: [TL, SEIZ, RECO, BI]\n": "",
            "name: serial_bayes": "name: serial_bayes_restricted",
            "engine: bayes": "engine: bayes\nbayes: {chains: 2, draws: 300, tune: 300, loo: true}",
        },
    )
    other = fit_to_run_folder(config, out=tmp_path / "out", progress=False)[0]
    comparison = compare_runs([bayes_run, other])
    table = comparison.table.set_index("model")
    assert set(table.index) == {"serial_bayes", "serial_bayes_restricted"}
    assert (table["elpd_loo"] < 0).all() and table["elpd_diff"].min() == 0
    assert abs(table["elpd_loo"].diff().iloc[-1]) < 10  # nearly equivalent models (g is about 0.06)


def test_bayesian_summary_convergence_and_priors(bayes_run):
    """`bayeslead summary` of a saved Bayesian run: PPP, the one-line convergence verdict, posterior
    SDs and R-hat, R-squared with intervals, and the priors (default or user-set)."""
    from bayeslead.report.summary import summary_of_run

    text = summary_of_run(bayes_run)
    saved = json.loads((bayes_run / "diagnostics.json").read_text())
    fit = json.loads((bayes_run / "fit.json").read_text())
    lines = text.splitlines()
    verdict = lines[lines.index("Convergence:") + 1]
    assert f"max R-hat {saved['max_rhat']:.3f}" in verdict
    assert f"min ESS bulk {saved['min_ess_bulk']:.0f}" in verdict
    assert ("all gates pass" if saved["passed"] else "FAILED gates") in verdict
    assert f"; {saved['draws_per_chain']:,} draws per chain" in verdict
    assert f"Posterior predictive p (PPP)  {fit['ppp']:.3f}" in text
    header = next(line for line in lines if line.strip().startswith("parameter"))
    columns = ["estimate", "post.", "SD", "95%", "interval", "pd", "R-hat", "std.all"]
    assert header.split()[1:] == columns
    r2 = pd.read_csv(bayes_run / "estimates.csv").query("op == 'r2'").set_index("lhs")
    row = next(line for line in lines[lines.index("R-Square:") :] if line.split()[0] == "SENS")
    assert row.split()[1] == f"{r2.loc['SENS', 'est']:.3f}"
    assert row.split()[2] == f"[{r2.loc['SENS', 'ci_lower']:.3f},"
    priors = pd.read_csv(bayes_run / "priors.csv").set_index("parameter")
    assert list(priors.index) == ["loadings", "first_loading", "paths", "residual_sd", "SENS ~ TL"]
    assert priors.loc["paths", "distribution"] == "normal(0, 2)"
    assert priors.loc["paths", "source"] == "user-set"
    assert priors.loc["loadings", "source"] == "default"
    assert priors.loc["SENS ~ TL", "distribution"] == "normal(0, 1)"
    assert "Priors:" in lines and "user-set" in text
    report = (bayes_run / "report.html").read_text()
    assert "Prior distributions" in report and "normal(0, 2)" in report
    assert "<b>Convergence:</b> max R-hat" in report
