"""`bayeslead aggregate`: agreement, ICCs, firm means and role differences equal the R package
multilevel 2.7 (tests/reference/agreement, simulated 60 firms x 2-6 informants)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayeslead.pipeline import load_inputs
from bayeslead.psychometrics.agreement import informant_agreement
from tests.conftest import REFERENCE, ROOT

FOLDER = REFERENCE / "agreement"
VARIANTS = {
    "5pt": ("data_5pt.csv", 5),
    "7pt": ("data_7pt.csv", 7),
    "5pt_missing": ("data_5pt_missing.csv", 5),
}
CONSTRUCTS = ("HIGH", "MID", "LOW")


def write_config(tmp: Path, variant: str, role: bool = True) -> Path:
    file, points = VARIANTS[variant]
    constructs = "\n".join(
        f"  {c}: [{', '.join(f'{c.lower()}{k}' for k in range(1, 5))}]" for c in CONSTRUCTS
    )
    text = (
        f"name: agreement_{variant}\n"
        f"data:\n  path: {FOLDER / file}\n  id: informant_id\n  cluster: firm_id\n"
        + ("  role: role\n" if role else "")
        + f"  scale: [1, {points}]\nconstructs:\n{constructs}\noutput: {tmp}\n"
    )
    path = tmp / f"{variant}.yaml"
    path.write_text(text)
    return path


def agreement_of(inputs):
    return informant_agreement(inputs.spec, inputs.data, "firm_id", "role")


@pytest.fixture(scope="module", params=list(VARIANTS))
def tables(request, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("agree"), request.param)
    return request.param, agreement_of(load_inputs(config))


def test_construct_summaries_equal_multilevel(tables):
    variant, result = tables
    ref = pd.read_csv(FOLDER / "agreement_per_construct.csv")
    ref = ref[ref.variant == variant].set_index("construct")
    ours = result.summary.set_index("construct")
    columns = [
        "rwg_j_uniform_mean",
        "rwg_j_uniform_median",
        "rwg_j_uniform_share_gt_70",
        "rwg_j_slight_skew_mean",
        "rwg_j_slight_skew_median",
        "rwg_j_slight_skew_share_gt_70",
        "awg_mean",
        "awg_median",
        "awg_share_gt_70",
        "ICC1",
        "ICC2",
        "MSB",
        "MSW",
    ]
    for construct in CONSTRUCTS:
        for column in columns:
            assert ours.loc[construct, column] == pytest.approx(
                ref.loc[construct, column], abs=5e-4
            ), (construct, column)
        # multilevel leaves out a firm with no complete row; bayeslead counts it as a firm
        # without a value
        firms = pd.read_csv(FOLDER / "agreement_per_firm.csv")
        absent = 60 - int(((firms.variant == variant) & (firms.construct == construct)).sum())
        assert ours.loc[construct, "awg_n_na"] == ref.loc[construct, "awg_n_na"] + absent
        assert (
            ours.loc[construct, "rwg_j_uniform_n_na"] == ref.loc[construct, "rwg_j_n_na"] + absent
        )
        assert ours.loc[construct, "n_firms"] == 60 and ours.loc[construct, "n_informants"] == 238
        assert ours.loc[construct, "informants_mean"] == pytest.approx(238 / 60)
        assert (
            ours.loc[construct, "null_variance_slight_skew"]
            == ref.loc[construct, "ranvar_slight_skew"]
        )
    # negative ICCs are reported, not truncated (LOW)
    assert ours.loc["LOW", "ICC1"] < 0 and ours.loc["LOW", "ICC2"] < 0


def test_per_firm_values_equal_multilevel(tables):
    variant, result = tables
    ref = pd.read_csv(FOLDER / "agreement_per_firm.csv")
    ref = ref[ref.variant == variant].set_index(["construct", "firm_id"]).sort_index()
    ours = result.firms.set_index(["construct", "firm"]).loc[ref.index]
    for ref_col, our_col in [
        ("n_complete", "n_complete"),
        ("mean_item_var", "mean_item_var"),
        ("rwg_j_uniform", "rwg_j_uniform"),
        ("rwg_j_slight_skew", "rwg_j_slight_skew"),
        ("awg", "awg"),
        ("firm_mean", "firm_mean"),
    ]:
        np.testing.assert_allclose(
            ours[our_col].to_numpy(float), ref[ref_col].to_numpy(float), atol=5e-4, err_msg=ref_col
        )


def test_firm_means_and_roles_equal_r(tables):
    variant, result = tables
    if variant == "5pt_missing":
        return
    means = pd.read_csv(FOLDER / "firm_means.csv")
    means = means[means.variant == variant].pivot(
        index="firm_id", columns="construct", values="mean"
    )
    wide = result.firm_means.set_index("firm_id")
    for construct in CONSTRUCTS:
        np.testing.assert_allclose(wide[construct], means.loc[wide.index, construct], atol=1e-9)
    roles = pd.read_csv(FOLDER / "role_differences.csv")
    roles = roles[roles.variant == variant]
    ours = result.roles
    for construct in CONSTRUCTS:
        ref = roles[roles.construct == construct].set_index("role")
        got = ours[ours.construct == construct].set_index("role")
        for column, ref_column in [
            ("est", "est"),
            ("se", "se"),
            ("t", "t"),
            ("pvalue", "pvalue"),
            ("ci_lower", "ci.lower"),
            ("ci_upper", "ci.upper"),
            ("role_mean", "role_mean"),
            ("role_n", "role_n"),
        ]:
            np.testing.assert_allclose(got.loc[ref.index, column], ref[ref_column], rtol=1e-6)


def test_aggregate_command_writes_a_run_folder_and_firms_csv(tmp_path):
    config = write_config(tmp_path, "5pt")
    firms = tmp_path / "firms.csv"
    done = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "aggregate", str(config), "--out", str(firms)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert {"agreement.csv", "agreement_firms.csv", "firm_means.csv", "role_differences.csv"} <= {
        p.name for p in folder.iterdir()
    }
    assert "rwg(j)" in done.stdout and "uniform" in done.stdout
    assert pd.read_csv(firms).shape == (60, 5)


def test_aggregate_without_cluster_names_the_key(tmp_path):
    config = write_config(tmp_path, "5pt")
    config.write_text(config.read_text().replace("  cluster: firm_id\n", ""))
    done = subprocess.run(
        [sys.executable, "-m", "bayeslead.cli", "aggregate", str(config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 2 and "data.cluster" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("engine", ["sem", "bayes"])
def test_two_level_fits_of_either_engine_carry_the_agreement_table(tmp_path, monkeypatch, engine):
    """`pipeline.fit` adds `agreement.csv`'s table to every run with data.cluster, whichever
    engine fitted it (the engine is replaced by a stub: only the recipe is under test)."""
    from bayeslead import pipeline
    from bayeslead.results import FitResult

    config = write_config(tmp_path, "5pt", role=False)
    config.write_text(config.read_text() + f"engine: {engine}\n")
    inputs = load_inputs(config)
    stub = FitResult(
        engine=engine,
        estimates=pd.DataFrame(columns=["lhs", "op", "rhs", "est"]),
        effects=pd.DataFrame(),
        fit={},
        info={},
    )

    class Family:
        def fit(self, *args, **kwargs):
            return stub

    monkeypatch.setattr("bayeslead.sem.engine.fit_sem", lambda *a, **k: stub)
    monkeypatch.setattr("bayeslead.bayes.engine.family_of", lambda spec: Family())
    result = pipeline.fit(inputs, progress=False)
    expected = informant_agreement(inputs.spec, inputs.data, "firm_id").summary
    pd.testing.assert_frame_equal(result.extra_tables["agreement"], expected)
    ref = pd.read_csv(FOLDER / "agreement_per_construct.csv").query("variant == '5pt'")
    got = result.extra_tables["agreement"].set_index("construct")
    for construct, icc1, icc2 in ref[["construct", "ICC1", "ICC2"]].itertuples(index=False):
        assert got.loc[construct, "ICC1"] == pytest.approx(icc1, abs=5e-4)  # multilevel 2.7
        assert got.loc[construct, "ICC2"] == pytest.approx(icc2, abs=5e-4)
