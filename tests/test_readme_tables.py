"""The README's generated tables agree with the recorded benchmark runs they come from: the
table of bundled Bayesian configs is `bench/bundled.py --record`'s, never edited by hand."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import ROOT


def _bundled():
    spec = importlib.util.spec_from_file_location("bundled", ROOT / "bench" / "bundled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_of_bundled_configs_is_the_recorded_run():
    bundled = _bundled()
    recorded = json.loads(bundled.RECORD.read_text())
    readme = (ROOT / "README.md").read_text()
    assert bundled.with_table(readme, bundled.readme_table(recorded)) == readme
    # every bundled Bayesian config was measured, with the figures the table shows
    assert set(recorded["configs"]) == {p.stem for p in bundled.bayesian_configs([])}
    for name, figures in recorded["configs"].items():
        assert f"| `{name}` | {figures['fit_s']:,.1f} |" in readme
