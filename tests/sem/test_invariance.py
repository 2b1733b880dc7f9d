"""The invariance ladder (`bayeslead invariance`) against lavaan + semTools on Holzinger-Swineford
by school (tests/reference/hs_invariance: ladder.csv from lavTestLRT and compareFit, the score
tests from lavTestScore), its decisions on simulated data with and without a planted
non-invariant loading or intercept, and the command's run folder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bayeslead.config import InvarianceConfig, RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.sem.capabilities import CAPABILITIES
from bayeslead.sem.invariance import fit_ladder
from tests.conftest import LAVAAN_FIT_TOLERANCES, REFERENCE, ROOT, reference_table

FOLDER = "hs_invariance"
COLUMNS = LAVAAN_FIT_TOLERANCES | {  # ours: (lavaan's ladder.csv column, tolerance)
    "chisq_diff": ("chisq_diff", 0.01),
    "df_diff": ("df_diff", 0),
    "p_diff": ("p_diff", 0.002),
    "delta_cfi": ("delta_cfi", 0.002),
    "delta_rmsea": ("delta_rmsea", 0.002),
    "delta_srmr": ("delta_srmr", 0.002),
}


def responses(frame: pd.DataFrame, items: list[str], group: str) -> ResponseData:
    values = frame[items].astype(float)
    return ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[[group]]
    )


def hs_ladder(partial: list[str] | None = None, **cutoffs):
    frame = reference_table(FOLDER, "data.csv")
    config = RunConfig(
        name="t",
        model=(REFERENCE / FOLDER / "model.lav").read_text(),
        data={"group": "school"},
        group_partial=partial or [],
    )
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    data = responses(frame, list(spec.manifest), "school")
    return fit_ladder(spec, data, SemConfig(), InvarianceConfig(**cutoffs))


@pytest.fixture(scope="module")
def ladder():
    return hs_ladder()


def test_ladder_matches_lavaan(ladder):
    """Every level's fit measures and every difference between successive levels equal
    lavaan's (chi-squares 115.851 / 124.044 / 164.103 / 181.511, differences 8.192 (6),
    40.059 (6), 17.409 (9))."""
    ref = reference_table(FOLDER, "ladder.csv").set_index("level")
    ours = ladder.table.set_index("level")
    assert list(ours.index) == ["configural", "metric", "scalar", "strict"]
    for level in ours.index:
        for column, (theirs, tol) in COLUMNS.items():
            expected = ref.loc[level, theirs]
            if pd.isna(expected):
                assert pd.isna(ours.loc[level, column]), (level, column)
            else:
                assert ours.loc[level, column] == pytest.approx(expected, abs=tol), (level, column)
    assert all(ladder.converged.values())


def test_decisions_and_score_tests_match_lavaan(ladder):
    """Chen's cut-offs: metric holds, scalar fails (delta CFI -0.038); the score tests of the
    scalar model equal lavTestScore's (total 46.956 on 15 df; x3 ~ 1 19.19, x7 ~ 1 15.02 first)."""
    decisions = ladder.table.set_index("level").decision
    assert list(decisions) == ["baseline", "holds", "fails", "holds"]
    assert list(ladder.table.established) == [True, True, False, False]
    scores = ladder.scores[ladder.scores.level == "scalar"]
    ref = reference_table(FOLDER, "score_test_scalar_univariate.csv")
    total = reference_table(FOLDER, "score_test_scalar_total.csv").iloc[0]
    all_row = scores[scores.parameter == "(all constraints)"].iloc[0]
    assert all_row.x2 == pytest.approx(total.X2, abs=0.01) and all_row.df == total.df
    ranked = scores[scores["rank"] > 0].assign(key=lambda f: f.parameter.str.replace(" ", ""))
    assert len(ranked) == len(ref) == 15
    for _, row in ref.iterrows():
        mine = ranked[ranked.key == row.parameter].iloc[0]
        assert mine.x2 == pytest.approx(row.X2, abs=0.01), row.parameter
        assert mine["rank"] == row.rank_by_X2, row.parameter
    top = ranked[ranked.new_at_level].head(2)
    assert list(top.key) == ["x3~1", "x7~1"]


def test_partial_scalar_holds_after_freeing_the_top_intercepts():
    """group_partial x3 ~ 1, x7 ~ 1: the scalar level is lavaan's partial scalar model
    (129.422, df 58) and does not fit worse than metric (5.379 on 4 df, p = 0.251)."""
    ladder = hs_ladder(["x3 ~ 1", "x7 ~ 1"])
    ref = reference_table(FOLDER, "lrt_metric_vs_partial_scalar.csv")
    scalar = ladder.table.set_index("level").loc["scalar"]
    assert scalar.chisq == pytest.approx(129.422, abs=0.001) and scalar.df == 58
    assert scalar.chisq_diff == pytest.approx(ref["Chisq diff"].dropna().iloc[0], abs=0.01)
    assert scalar.decision == "holds"


def test_chisq_rule_and_cutoffs_from_the_config(ladder):
    strict = hs_ladder(rule="chisq").table.set_index("level").decision
    assert list(strict) == ["baseline", "holds", "fails", "fails"]  # p 0.224, 4.4e-7, 0.043
    lenient = hs_ladder(delta_cfi=-0.05, delta_rmsea=0.05, delta_srmr=0.05)
    assert list(lenient.table.decision) == ["baseline", "holds", "holds", "holds"]


# --- decisions on simulated data -------------------------------------------------------------
def simulate_groups(seed: int, loading_shift: float = 0.0, intercept_shift: float = 0.0):
    """Two groups of 500, two factors with four items each (loadings .8, residual variance
    .36, factor correlation .3); group B's factor means are 0.3 / -0.2 and its item f1_3 has
    the planted shift of its loading and intercept."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, mean in (("A", [0.0, 0.0]), ("B", [0.3, -0.2])):
        eta = rng.multivariate_normal(mean, [[1.0, 0.3], [0.3, 1.0]], size=500)
        columns = {}
        for f in range(2):
            for k in range(4):
                loading = 0.8 + (loading_shift if (name, f, k) == ("B", 0, 2) else 0.0)
                shift = intercept_shift if (name, f, k) == ("B", 0, 2) else 0.0
                noise = rng.normal(0.0, 0.6, size=500)
                columns[f"f{f + 1}_{k + 1}"] = 3.0 + shift + loading * eta[:, f] + noise
        frames.append(pd.DataFrame(columns).assign(group=name))
    return pd.concat(frames, ignore_index=True)


def simulated_ladder(frame: pd.DataFrame):
    items = [c for c in frame.columns if c != "group"]
    config = RunConfig(
        name="t",
        constructs={"F1": items[:4], "F2": items[4:]},
        data={"group": "group"},
    )
    spec = build_spec(config)
    return fit_ladder(spec, responses(frame, items, "group"), SemConfig(), InvarianceConfig())


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_ladder_detects_planted_non_invariance_and_no_false_flags(seed):
    """Equal parameters: every level holds. A loading of 0.8 vs 0.3 in one item: metric fails
    and the score test ranks that loading first. An intercept shifted by 0.6 (about half an
    item SD): metric holds, scalar fails and the score test ranks that intercept first."""
    equal = simulated_ladder(simulate_groups(seed))
    assert list(equal.table.decision) == ["baseline", "holds", "holds", "holds"]
    loading = simulated_ladder(simulate_groups(seed, loading_shift=-0.5))
    assert loading.table.set_index("level").decision["metric"] == "fails"
    first = loading.scores[(loading.scores.level == "metric") & (loading.scores["rank"] == 1)]
    assert first.parameter.iloc[0] == "F1 =~ f1_3"
    intercept = simulated_ladder(simulate_groups(seed, intercept_shift=0.6))
    decisions = intercept.table.set_index("level").decision
    assert decisions["metric"] == "holds" and decisions["scalar"] == "fails"
    first = intercept.scores[(intercept.scores.level == "scalar") & intercept.scores.new_at_level]
    assert first.parameter.iloc[0] == "f1_3 ~ 1"


def test_invariance_command_writes_the_ladder(tmp_path):
    """`bayeslead invariance` on the bundled Holzinger-Swineford config (its group_partial
    frees x3 ~ 1 and x7 ~ 1): the table, the rule and the run folder with its files."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bayeslead.cli",
            "invariance",
            str(ROOT / "configs" / "hs_invariance.yaml"),
            "--levels",
            "configural,metric,scalar",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / result.stdout.strip().splitlines()[-1]
    table = pd.read_csv(folder / "invariance.csv")
    assert list(table.level) == ["configural", "metric", "scalar"]
    assert table.chisq.iloc[-1] == pytest.approx(129.422, abs=0.001)
    assert "Chen 2007" in result.stdout
    for name in ("invariance_scores.csv", "report.html", "config.yaml", "manifest.json"):
        assert (folder / name).exists(), name
    assert "data:image/png;base64," in (folder / "report.html").read_text()


def test_language_versions_example_finds_the_non_invariant_item(tmp_path):
    """configs/language_invariance.yaml (data/language_example.py: English and Chinese
    respondents, the Chinese sens3 with a higher intercept): metric holds, scalar fails with
    sens3 ~ 1 ranked first; freeing it (group_partial) gives a partial scalar level that holds.
    The example data are what the script writes."""
    import importlib.util

    from bayeslead.config import load_config
    from bayeslead.invariance import run_invariance

    script = importlib.util.spec_from_file_location(
        "example", ROOT / "data" / "language_example.py"
    )
    module = importlib.util.module_from_spec(script)
    script.loader.exec_module(module)
    bundled = pd.read_csv(ROOT / "data" / "language_invariance_example.csv")
    pd.testing.assert_frame_equal(bundled, module.simulate())
    config = load_config(ROOT / "configs" / "language_invariance.yaml")
    ladder = run_invariance(config)
    decisions = ladder.table.set_index("level").decision
    assert decisions["metric"] == "holds" and decisions["scalar"] == "fails"
    scores = ladder.scores[(ladder.scores.level == "scalar") & ladder.scores.new_at_level]
    assert scores.parameter.iloc[0] == "sens3 ~ 1"
    freed = run_invariance(config.model_copy(update={"group_partial": ["sens3 ~ 1"]}))
    assert list(freed.table.decision) == ["baseline", "holds", "holds", "holds"]
