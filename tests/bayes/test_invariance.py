"""Bayesian multi-group invariance settings (`bayes.invariance`): the deviation plan of each
setting, config checks, and (slow) approximate invariance recovering a planted intercept shift
without flagging the invariant parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.bayes.models.multigroup.invariance import deviation_plan
from bayeslead.bayes.models.multigroup.refit import refit_flagged
from bayeslead.bayes.priors import prior_set
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder
from bayeslead.results import FitResult

CONSTRUCTS = {"F1": ["f1_1", "f1_2", "f1_3", "f1_4"], "F2": ["f2_1", "f2_2", "f2_3", "f2_4"]}


def spec_of(invariance: str, partial: list[str]):
    config = RunConfig(
        name="t",
        constructs=CONSTRUCTS,
        data={"group": "g"},
        engine="bayes",
        bayes={"invariance": invariance},
        group_partial=partial,
    )
    return build_spec(config)


def plan_of(invariance: str, partial: list[str]):
    spec = spec_of(invariance, partial)
    table = build_partable(spec, "std.lv")
    priors = prior_set({}, {p.key for p in table.free_params})
    return deviation_plan(spec, table, priors, invariance)


def test_deviation_plans():
    full = plan_of("full", [])
    assert not full.any
    partial = plan_of("partial", ["f1_3 ~ 1", "F2 =~ f2_2"])
    assert partial.item_keys == ["f1_3 ~ 1"] and partial.loading_keys == ["F2 =~ f2_2"]
    assert list(partial.item_sd) == [1.0] and list(partial.loading_sd) == [1.0]
    approximate = plan_of("approximate", ["f1_3 ~ 1"])
    assert len(approximate.loading_keys) == 8 and len(approximate.item_keys) == 8
    sd = dict(zip(approximate.item_keys, approximate.item_sd, strict=True))
    assert sd["f1_3 ~ 1"] == 1.0 and sd["f1_1 ~ 1"] == 0.1
    with pytest.raises(InputError, match="names no loading or item intercept"):
        plan_of("partial", ["F1 ~~ F2"])


def test_config_checks():
    with pytest.raises(InputError, match="group_partial: frees parameters only with"):
        build_spec(
            RunConfig(
                name="t",
                constructs=CONSTRUCTS,
                data={"group": "g"},
                engine="bayes",
                group_partial=["f1_3 ~ 1"],
            )
        )
    with pytest.raises(InputError, match="partial needs group_partial"):
        build_spec(
            RunConfig(
                name="t",
                constructs=CONSTRUCTS,
                data={"group": "g"},
                engine="bayes",
                bayes={"invariance": "partial"},
            )
        )
    with pytest.raises(InputError, match="group_equal: is read by engine: sem"):
        build_spec(
            RunConfig(
                name="t",
                constructs=CONSTRUCTS,
                data={"group": "g"},
                engine="bayes",
                group_equal=["loadings"],
            )
        )


def deviations(flags: dict[str, bool], est: float) -> pd.DataFrame:
    """An invariance_deviations table of two groups (A's deviation `est`, B's `-est`)."""
    rows = []
    for parameter, flagged in flags.items():
        for group, sign in (("A", 1.0), ("B", -1.0)):
            rows.append(
                {
                    "parameter": parameter,
                    "kind": "intercept",
                    "group": group,
                    "est": sign * est,
                    "se": 0.02,
                    "ci_lower": sign * est - 0.04,
                    "ci_upper": sign * est + 0.04,
                    "flagged": flagged,
                }
            )
    return pd.DataFrame(rows)


def result_with(table: pd.DataFrame) -> FitResult:
    return FitResult(
        engine="bayes",
        estimates=pd.DataFrame(),
        effects=pd.DataFrame(),
        fit={},
        info={"invariance": "approximate"},
        extra_tables={"invariance_deviations": table},
        diagnostics={"max_rhat": 1.01},
    )


def test_two_steps_free_what_the_first_fit_flags():
    """The first fit flags f1_2 and f1_3 (f1_1 freed already by group_partial): the second
    fit frees f1_2 and f1_3 in addition, and its table carries the first fit's columns."""
    spec = spec_of("approximate", ["f1_1 ~ 1"])
    flags = {"f1_1 ~ 1": True, "f1_2 ~ 1": True, "f1_3 ~ 1": True, "f1_4 ~ 1": False}
    first = result_with(deviations(flags, 0.1))
    seen = []

    def fit(refit_spec):
        seen.append(refit_spec.group_partial)
        return result_with(deviations(dict.fromkeys(flags, False) | {"f1_3 ~ 1": True}, 0.2))

    final = refit_flagged(fit, spec, first)
    assert seen == [("f1_1 ~ 1", "f1_2 ~ 1", "f1_3 ~ 1")]
    table = final.extra_tables["invariance_deviations"].set_index(["parameter", "group"])
    assert set(table.index[table.flagged].get_level_values(0)) == {"f1_3 ~ 1"}
    assert table.loc[("f1_2 ~ 1", "A"), "first_flagged"]
    assert table.loc[("f1_2 ~ 1", "A"), "first_est"] == 0.1
    assert table.loc[("f1_2 ~ 1", "B"), "est"] == -0.2
    assert list(table.freed.groupby(level=0).all()) == [False, True, True, False]
    assert final.info["first_fit"]["flagged"] == ["f1_2 ~ 1", "f1_3 ~ 1"]
    assert "f1_2 ~ 1, f1_3 ~ 1, freed and refitted" in final.info["invariance"]
    nothing = result_with(deviations(dict.fromkeys(flags, False), 0.1))
    assert refit_flagged(fit, spec, nothing) is nothing and len(seen) == 1
    assert not nothing.extra_tables["invariance_deviations"].freed.any()


def simulate(seed: int, shift: float, n: int = 500) -> pd.DataFrame:
    """Two groups: two factors of four items (loadings .8, residual SD .6, factor correlation
    .3); group B's factor means .3 / -.2 and item f1_3's intercept raised by `shift`."""
    rng = np.random.default_rng(seed)
    frames = []
    for name, mean in (("A", [0.0, 0.0]), ("B", [0.3, -0.2])):
        eta = rng.multivariate_normal(mean, [[1.0, 0.3], [0.3, 1.0]], size=n)
        columns = {}
        for f, items in enumerate(CONSTRUCTS.values()):
            for item in items:
                extra = shift if (name, item) == ("B", "f1_3") else 0.0
                columns[item] = 3.0 + extra + 0.8 * eta[:, f] + rng.normal(0, 0.6, n)
        frames.append(pd.DataFrame(columns).assign(g=name))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_approximate_invariance_flags_a_planted_intercept_shift(tmp_path):
    """Intercept of f1_3 raised by 0.6 (about half its SD) in group B: approximate invariance
    flags that intercept's deviation in both groups (B above the common value, A below) and no
    other loading or intercept; the groups' difference of its intercept covers 0.6."""
    data = tmp_path / "groups.csv"
    simulate(3, 0.6).to_csv(data, index=False)
    config = tmp_path / "approx.yaml"
    config.write_text(
        f"name: approx\ndata: {{path: {data}, group: g}}\n"
        f"constructs: {CONSTRUCTS}\n"
        "engine: bayes\nbayes: {invariance: approximate, chains: 2, draws: 500, tune: 500}\n"
    )
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    assert result.diagnostics["max_rhat"] <= 1.02
    deviations = pd.read_csv(folder / "invariance_deviations.csv")
    flagged = deviations[deviations.flagged]
    assert set(flagged.parameter) == {"f1_3 ~ 1"}, flagged
    rows = deviations[deviations.parameter == "f1_3 ~ 1"].set_index("group")
    assert rows.loc["B", "est"] > 0 > rows.loc["A", "est"]
    est = result.estimates
    intercepts = est[(est.op == "~1") & (est.lhs == "f1_3")].set_index("group").est
    means = est[(est.op == "~1") & (est.lhs == "F1")].set_index("group").est
    loading = est[(est.op == "=~") & (est.rhs == "f1_3")].set_index("group").est
    implied_gap = (intercepts["B"] + loading["B"] * means["B"]) - (
        intercepts["A"] + loading["A"] * means["A"]
    )
    assert abs(implied_gap - (0.6 + 0.8 * 0.3)) < 0.2  # the item's mean difference
    assert abs((intercepts["B"] - intercepts["A"]) - 0.6) < 0.25
    assert "approximate" in result.info["invariance"]


@pytest.mark.slow
def test_language_example_approximate_invariance_flags_sens3(tmp_path):
    """configs/language_invariance_bayes.yaml (2 chains x 500 draws here): approximate
    invariance flags the Chinese version's sens3 intercept, and only it."""
    from tests.conftest import ROOT

    text = (ROOT / "configs" / "language_invariance_bayes.yaml").read_text()
    text = text.replace("../", f"{ROOT}/").replace(
        "  seed: 1\n", "  seed: 1\n  chains: 2\n  draws: 500\n  tune: 500\n"
    )
    config = tmp_path / "language.yaml"
    config.write_text(text)
    folder, result = fit_to_run_folder(config, out=tmp_path / "out", progress=False)
    deviations = pd.read_csv(folder / "invariance_deviations.csv")
    assert set(deviations[deviations.flagged].parameter) == {"sens3 ~ 1"}
    rows = deviations[deviations.parameter == "sens3 ~ 1"].set_index("group")
    assert rows.loc["zh", "est"] > 0 > rows.loc["en", "est"]
