"""A run with a latent interaction: conditional-effects files, figures and report section."""

from __future__ import annotations

import pandas as pd

from bayeslead.pipeline import fit_to_run_folder
from tests.conftest import REFERENCE

FIXTURES = REFERENCE.parent / "fixtures" / "configs"


def test_run_folder_has_the_conditional_effects_section(tmp_path):
    config = tmp_path / "c.yaml"
    text = (FIXTURES / "interaction.yaml").read_text().replace("../../reference", str(REFERENCE))
    config.write_text(text + 'hypotheses: {H1: "imm_ind > 0", H2: "Y ~ M:W > 0"}\n')
    path, _ = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    files = {p.name for p in path.iterdir()} | {p.name for p in (path / "figures").iterdir()}
    assert {"conditional_effects.csv", "johnson_neyman.csv", "johnson_neyman_bounds.csv"} <= files
    assert {"simple_slopes.png", "johnson_neyman.png"} <= files
    table = pd.read_csv(path / "conditional_effects.csv")
    assert list(table.kind.unique()) == ["simple_slope", "conditional_indirect", "imm"]
    hypotheses = pd.read_csv(path / "hypotheses.csv").set_index("hypothesis")
    assert (hypotheses.supported == "supported").all()
    imm = table.set_index("kind").loc["imm"]  # H1 tests the index itself (estimate - 0)
    assert hypotheses.loc["H1", "estimate"] == imm.est
    report = (path / "report.html").read_text()
    assert "<h2>Conditional effects</h2>" in report and "Johnson-Neyman" in report
    assert "Y ~ Y_on_M*M + Y_on_W*W + Y_on_X*X + Y_on_M_x_W*M:W" in (path / "model.lav").read_text()
