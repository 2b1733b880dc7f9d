"""The Python API: the README's example runs as written; a DataFrame and a dict give the same
numbers and the same run-folder files as the CLI path (a YAML config and a data file)."""

from __future__ import annotations

import re

import pandas as pd
import yaml

import bayeslead
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _readme_example() -> str:
    section = README.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    code = _readme_example().replace('result.save("outputs")', f"result.save({str(tmp_path)!r})")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result, sensing = namespace["result"], namespace["sensing"]
    printed = capsys.readouterr().out
    assert printed.startswith("<bayeslead.Result 'tl_dc_bi_sem': ML, N = 500; chisq ")
    assert len(printed.splitlines()[0]) < 250 and "Effects:" in printed and "serial" in printed
    assert len(namespace["serial"]) == 1 and result.ok and result.idata is None
    assert namespace["run_folder"].parent == tmp_path / "tl_dc_bi_sem"
    assert (namespace["run_folder"] / "report.html").exists()
    assert "<table" in sensing._repr_html_() and "cfi" in sensing._repr_html_()
    assert 0.9 < sensing.fit_measures["cfi"] <= 1
    assert dir(bayeslead) == ["Result", "__version__", "fit"]


def test_dataframe_and_dict_match_the_cli_run_folder(tmp_path):
    config = {
        "name": "api",
        "data": {"scale": [1, 7], "id": "respondent_id"},
        "constructs": {"SENS": ["sens1", "sens2", "sens3"], "SEIZ": ["seiz1", "seiz2", "seiz3"]},
        "paths": {"SEIZ": ["SENS"]},
        "sem": {"bootstrap": 0},
    }
    frame = pd.read_csv(ROOT / "data" / "tl_dc_bi_example.csv")
    api_folder = bayeslead.fit(config, data=frame).save(tmp_path / "api")
    config["data"]["path"] = str(ROOT / "data" / "tl_dc_bi_example.csv")
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cli_folder, _ = fit_to_run_folder(path, out=tmp_path / "cli", progress=False)
    files = sorted(p.relative_to(api_folder).as_posix() for p in api_folder.rglob("*"))
    assert files == sorted(p.relative_to(cli_folder).as_posix() for p in cli_folder.rglob("*"))
    for name in ("estimates.csv", "effects.csv", "fit.json", "reliability.csv", "quality.csv"):
        assert (api_folder / name).read_text() == (cli_folder / name).read_text(), name


def test_summary_prints_what_the_cli_prints(tmp_path, capsys):
    """`Result.summary()` in memory = `summary_of_run` of its saved folder (what `bayeslead
    fit` prints before the folder) followed by the problems; `full=True` = `bayeslead summary`."""
    from bayeslead.report.summary import summary_of_run

    result = bayeslead.fit(ROOT / "configs" / "leading_innovation_sem.yaml", seed=3)
    folder = result.save(tmp_path)
    capsys.readouterr()
    result.summary()
    shown = capsys.readouterr().out
    expected = summary_of_run(folder, compact=True) + "\n"
    expected += "".join(f"{p}\n" for p in result.problems)
    assert shown == expected
    result.summary(full=True)
    assert capsys.readouterr().out.startswith(summary_of_run(folder))


def test_bad_dict_config_lists_every_problem():
    try:
        bayeslead.fit({"name": "x", "engin": "sem", "sem": {"bootstrap": -1}})
    except InputError as exc:
        message = str(exc)
    assert "Config (dict) has 2 problems" in message
    assert "engin: unknown key 'engin'; did you mean 'engine'?" in message
