"""From a saved fit to the paper: `bayeslead summary`, the journal tables (Markdown, LaTeX,
Word read back with python-docx), labels from the instrument, N used / N total."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from docx import Document

from bayeslead.pipeline import fit_to_run_folder
from bayeslead.report.summary import summary_of_run
from tests.conftest import ROOT

DROPPED = 6  # respondents with a blank response: listwise deletion analyses the others


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The bundled study (instrument labels, second-order constructs, hypotheses) by ML with
    listwise deletion of six incomplete respondents and a small bootstrap."""
    tmp = tmp_path_factory.mktemp("paper")
    data = pd.read_csv(ROOT / "data" / "tl_dc_bi_example.csv")
    data.loc[: DROPPED - 1, "sens2"] = np.nan
    data.to_csv(tmp / "data.csv", index=False)
    text = (ROOT / "configs" / "tl_dc_bi_sem.yaml").read_text()
    text = text.replace("../data/tl_dc_bi_example.csv", str(tmp / "data.csv"))
    text = text.replace("../surveys", str(ROOT / "surveys"))
    text = text.replace("bootstrap: 1000", "bootstrap: 30\n  missing: listwise")
    config = tmp / "c.yaml"
    config.write_text(text)
    return fit_to_run_folder(config, out=tmp / "out", progress=False)[0]


def test_manifest_and_summary_state_n_used_and_total(run):
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["n_used"], manifest["n_total"]) == (500 - DROPPED, 500)
    text = summary_of_run(run)
    assert f"Number of observations used  {500 - DROPPED} of 500" in text
    assert "Missing data                 listwise" in text


def test_summary_reads_like_lavaan(run):
    text = summary_of_run(run)
    sections = [line for line in text.splitlines() if line.endswith(":") and not line[0].isspace()]
    expected = ["Model fit:", "Latent variables:", "Regressions:", "Variances:", "R-Square:"]
    assert sections[: len(expected)] == expected
    assert sections[len(expected) :] == ["Effects:", "Hypotheses:"]
    estimates = pd.read_csv(run / "estimates.csv")
    sens = estimates[(estimates.lhs == "SENS") & (estimates.op == "~") & (estimates.rhs == "TL")]
    # lavaan's layout: "SENS ~" on its own line, then the predictor with est, SE, CI, p, std.all
    lines = text.splitlines()
    k = lines.index("  SENS ~")
    cells = lines[k + 1].split()
    assert cells[0] == "TL" and float(cells[1]) == round(float(sens.est.iloc[0]), 3)
    assert float(cells[-1]) == round(float(sens.std_est.iloc[0]), 3)
    marker = next(line for line in lines if line.strip().startswith("tle1"))
    assert marker.split()[1:5] == ["1.000", "\u2014", "\u2014", "\u2014"]  # fixed: em dashes
    r2 = estimates[estimates.op == "r2"].set_index("lhs").est
    assert "Sensing (SENS)" in text and f"{r2['SENS']:.3f}" in text
    assert "RMSEA [90% CI]" in text and "CFI" in text and "SRMR" in text
    markdown = summary_of_run(run, "markdown")
    assert markdown.startswith("# bayeslead ML fit: tl_dc_bi_sem")
    assert "## Regressions" in markdown and "| SENS ~ TL |" in markdown


def test_summary_command_and_its_compact_form(run):
    out = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "summary", str(run), "--format", "markdown"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "## R-Square" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "summary", str(run), "--format", "pdf"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    compact = summary_of_run(run, compact=True)
    assert "Regressions:" in compact and "Latent variables:" not in compact
    assert "Sensing (SENS)" in compact and "tle1 " not in compact  # constructs' R2 only


def test_journal_tables_files(run):
    tables = run / "tables"
    names = {"measurement", "reliability", "htmt", "fornell_larcker", "fit", "paths"}
    names |= {"effects", "hypotheses"}
    for name in names:
        for suffix in ("md", "tex", "docx"):
            assert (tables / f"{name}.{suffix}").stat().st_size > 0, f"{name}.{suffix}"
    measurement = Document(tables / "measurement.docx").tables[0]
    header = [c.text for c in measurement.rows[0].cells]
    assert header[:4] == ["Construct", "Item", "Wording", "\u03bb"]
    first = [c.text for c in measurement.rows[1].cells]
    assert first[0] == "Technological expertise" and first[1] == "tle1"
    assert first[2].startswith("Our top management team")
    assert first[4] == "\u2014"  # the marker is fixed: no interval
    second = [c.text for c in measurement.rows[2].cells]
    assert second[3].startswith(".") and second[4].startswith("[.")  # APA: no leading zero
    paths = Document(tables / "paths.docx").tables[0]
    rows = [[c.text for c in r.cells] for r in paths.rows]
    assert rows[1][0] == "Technological leadership \u2192 Sensing" and rows[1][-1] == "< .001"
    htmt = Document(tables / "htmt.docx").tables[0]
    cells = [[c.text for c in r.cells] for r in htmt.rows]
    assert len(cells) == 8 and len(cells[0]) == 8  # 8 constructs: 7 rows, columns 1..7
    assert cells[1][1] != "" and cells[1][2] == ""  # lower triangle, no diagonal
    htmt_csv = pd.read_csv(run / "htmt.csv").set_index("construct")
    assert cells[1][1] == f"{htmt_csv.loc['TL_VIS', 'TL_EXP']:.2f}".lstrip("0")
    latex = (tables / "paths.tex").read_text()
    assert r"\toprule" in latex and r"$<$ .001" in latex and r"$\rightarrow$" in latex
    reliability = (tables / "reliability.md").read_text()
    assert reliability.count("|", 0, reliability.index("\n| ---")) == 8  # 7 columns


def test_effects_p_value_matches_the_se_beside_it(run):
    from scipy import stats

    effects = pd.read_csv(run / "effects.csv")
    assert set(effects.se_method) == {"bootstrap"}
    z = effects.est / effects.se
    np.testing.assert_allclose(effects.pvalue, 2 * stats.norm.sf(np.abs(z)))


def _svg_texts(path: Path) -> tuple[list[str], dict[str, str]]:
    """Every text line of an SVG, and each construct's label lines (group `construct-ID`)
    joined by spaces."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    lines = ["".join(n.itertext()).strip() for n in root.iter() if n.tag.endswith("}text")]
    constructs = {
        g.get("id").removeprefix("construct-"): " ".join(
            "".join(n.itertext()).strip() for n in g.iter() if n.tag.endswith("}text")
        )
        for g in root.iter()
        if g.tag.endswith("}g") and (g.get("id") or "").startswith("construct-")
    }
    return lines, constructs


def test_path_diagram_for_the_paper(run):
    """SVG (text kept as text), PDF and 300-dpi PNG; every construct's label in the SVG, the
    R-squared of every endogenous construct inside it, the items drawn (27 <= 30)."""
    from PIL import Image

    figures = run / "figures"
    assert (figures / "path_diagram.pdf").read_bytes().startswith(b"%PDF")
    assert Image.open(figures / "path_diagram.png").info["dpi"] == pytest.approx((300, 300), 0.01)
    texts, constructs = _svg_texts(figures / "path_diagram.svg")
    labels = pd.read_csv(run / "labels.csv")
    r2 = pd.read_csv(run / "estimates.csv").query("op == 'r2'").set_index("lhs").est
    for construct in labels[labels.kind == "construct"].itertuples():
        text = constructs[construct.id]
        assert text.startswith(construct.label), (construct.label, text)
        if construct.id != "TL":  # every construct but the exogenous one is endogenous
            assert text.endswith(f"R\u00b2 = {r2[construct.id]:.2f}".replace("0.", ".")), text
        else:
            assert "R\u00b2" not in text
    items = labels[labels.kind == "item"].id
    assert set(items) <= set(texts)
    assert any(t.startswith(".56") and t.endswith("***") for t in texts)  # SENS ~ TL, p < .001


def test_diagram_items_follow_the_config(tmp_path):
    """`report.diagram.items` draws or hides the measurement part; the default draws it up to
    30 items; unknown keys are refused."""
    from matplotlib.patches import Rectangle

    from bayeslead.config import RunConfig, load_config
    from bayeslead.core.from_config import build_spec
    from bayeslead.errors import InputError
    from bayeslead.report.diagram import path_diagram

    constructs = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["A", "B", "C"]}
    spec = build_spec(RunConfig(name="m", constructs=constructs, paths={"B": ["A"], "C": ["B"]}))
    rows = [
        {"lhs": o, "op": "~", "rhs": p, "est": 0.4, "se": 0.1, "ci_lower": 0.2, "ci_upper": 0.6}
        for o, p in (("B", "A"), ("C", "B"))
    ]
    estimates = pd.DataFrame(rows).assign(std_est=0.4, pvalue=0.001)

    def boxes(fig):
        return sum(isinstance(p, Rectangle) for p in fig.axes[0].patches)

    assert boxes(path_diagram(spec, estimates)) == 12
    assert boxes(path_diagram(spec, estimates, items=False)) == 0
    wide = {k: [f"{k.lower()}{i}" for i in range(1, 12)] for k in ["A", "B", "C"]}
    big = build_spec(RunConfig(name="m", constructs=wide, paths={"B": ["A"], "C": ["B"]}))
    assert boxes(path_diagram(big, estimates)) == 0  # 33 items: constructs only by default
    assert RunConfig(name="m", report={"diagram": {"items": False}}).report.diagram.items is False
    bad = tmp_path / "c.yaml"
    bad.write_text("name: m\nreport: {diagram: {item: true}}\n")
    with pytest.raises(InputError, match="report.diagram"):
        load_config(bad)
