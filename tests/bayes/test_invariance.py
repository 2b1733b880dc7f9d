"""Bayesian multi-group invariance settings (`bayes.invariance`): the deviation plan of each
setting, config checks, and (slow) approximate invariance recovering a planted intercept shift
without flagging the invariant parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslead.bayes.models.multigroup import refit
from bayeslead.bayes.models.multigroup.invariance import deviation_plan
from bayeslead.bayes.models.multigroup.refit import refit_search
from bayeslead.bayes.priors import prior_set
from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.partable import build_partable
from bayeslead.errors import InputError
from bayeslead.pipeline import fit_to_run_folder
from bayeslead.results import FitResult

CONSTRUCTS = {"F1": ["f1_1", "f1_2", "f1_3", "f1_4"], "F2": ["f2_1", "f2_2", "f2_3", "f2_4"]}


def spec_of(
    invariance: str,
    partial: list[str],
    constructs: dict = CONSTRUCTS,
    indicators: str = "continuous",
):
    config = RunConfig(
        name="t",
        constructs=constructs,
        data={"group": "g"},
        engine="bayes",
        bayes={"invariance": invariance, "indicators": indicators},
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


def deviations(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """An invariance_deviations table of two groups from group B's (est, ci_lower, ci_upper)
    per parameter (A's the mirror image: zero-sum over two groups), se from the interval."""
    out = []
    for parameter, (est, lower, upper) in rows.items():
        kind = "loading" if "=~" in parameter else "threshold" if "|" in parameter else "intercept"
        for group, sign in (("A", -1.0), ("B", 1.0)):
            low, high = sorted((sign * lower, sign * upper))
            out.append(
                {
                    "parameter": parameter,
                    "kind": kind,
                    "group": group,
                    "est": sign * est,
                    "se": (upper - lower) / 3.92,
                    "ci_lower": low,
                    "ci_upper": high,
                    "flagged": low > 0 or high < 0,
                }
            )
    return pd.DataFrame(out)


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


# group B's deviations (est, 95% interval) measured on the ordinal recovery design (seed 3, f1_3's
# thresholds lowered by 1.0 in B; test_multigroup_ordinal.py, 2 x 500 draws, 2026-12-06): the
# first fit, and the refit with f1_3 freed; the other thresholds and loadings cover 0 in both
FIRST_FIT = {
    "f1_1 | t2": (0.062, 0.001, 0.130),
    "f1_1 | t3": (0.099, 0.041, 0.160),
    "f1_3 | t1": (-0.100, -0.192, -0.007),
    "f1_3 | t2": (-0.128, -0.197, -0.056),
    "f1_3 | t3": (-0.170, -0.237, -0.107),
    "f1_3 | t4": (-0.222, -0.292, -0.152),
    "f1_4 | t3": (0.086, 0.024, 0.151),
    "f1_5 | t3": (0.060, -0.001, 0.123),
    "F1 =~ f1_3": (-0.038, -0.132, 0.056),
    "F1 =~ f1_1": (0.026, -0.071, 0.127),
}
ITEM_REFIT = {
    "f1_1 | t2": (0.023, -0.0452, 0.089),
    "f1_1 | t3": (0.059, -0.0003, 0.120),
    "f1_3 | t1": (-0.281, -0.4053, -0.145),
    "f1_3 | t2": (-0.278, -0.3735, -0.184),
    "f1_3 | t3": (-0.314, -0.3984, -0.240),
    "f1_3 | t4": (-0.365, -0.4485, -0.281),
    "f1_4 | t3": (0.044, -0.0184, 0.108),
    "f1_5 | t3": (0.019, -0.0410, 0.083),
    "F1 =~ f1_3": (-0.022, -0.1576, 0.113),
    "F1 =~ f1_1": (0.021, -0.0763, 0.115),
}
ORDINAL = {f: [f"{f.lower()}_{k}" for k in range(1, 6)] for f in ("F1", "F2")}


def test_the_search_frees_the_most_non_invariant_item_and_refits():
    """First fit: f1_3's four thresholds and three thresholds of f1_1 and f1_4 flagged (the
    shift spread over the construct). The search frees f1_3 alone (its thresholds and loading:
    the largest flagged deviation, f1_3 | t4 at 6.2 posterior SDs), refits, and stops when the
    refit flags no other item; every step is in the info with its reason."""
    spec = spec_of("approximate", [], ORDINAL, "ordinal")
    seen = []

    def fit(refit_spec):
        seen.append(refit_spec.group_partial)
        return result_with(deviations(ITEM_REFIT))

    messages = []
    final = refit_search(fit, spec, result_with(deviations(FIRST_FIT)), "item", messages.append)
    f1_3 = ("f1_3 | t1", "f1_3 | t2", "f1_3 | t3", "f1_3 | t4", "F1 =~ f1_3")
    assert [set(s) for s in seen] == [set(f1_3)]
    table = final.extra_tables["invariance_deviations"].set_index(["parameter", "group"])
    assert set(table.index[table.flagged].get_level_values(0)) == set(f1_3[:4])
    assert table.loc[("f1_1 | t3", "B"), "first_flagged"]
    assert table.loc[("f1_1 | t3", "B"), "first_est"] == 0.099
    assert table.loc[("f1_3 | t4", "B"), "est"] == -0.365
    assert set(table.index[table.freed].get_level_values(0)) == set(f1_3)
    assert table.loc[("f1_3 | t1", "A"), "freed_at"] == 1
    assert table.loc[("f1_1 | t3", "A"), "freed_at"] == 0
    steps = final.info["refit"]["steps"]
    assert [s["item"] for s in steps] == ["f1_3"] and final.info["refit"]["method"] == "item"
    assert (
        "f1_3 | t4 deviates +0.222 [0.152, 0.292] in group A, 6.2 posterior SDs"
        in (steps[0]["reason"])
    )
    assert "also flagged: f1_1, f1_4" in steps[0]["reason"]
    assert final.info["refit"]["stopped"].startswith("refit 1 flags no parameter")
    assert final.info["first_fit"]["flagged"][:2] == ["f1_1 | t2", "f1_1 | t3"]
    assert "refitted 1 time(s) (bayes.refit: item), freeing f1_3" in final.info["invariance"]
    assert messages[0].startswith("Approximate invariance, refit 1: freeing f1_3 (")
    assert not final.problems


def test_the_parameter_search_frees_every_flag_at_once():
    """bayes.refit: parameter frees the seven flagged thresholds together and refits once: the
    false flag f1_1 | t3 stays (+0.09 [0.016, 0.162], measured so), and a parameter the refit
    flags anew is not freed."""
    spec = spec_of("approximate", [], ORDINAL, "ordinal")
    seen = []
    refitted = FIRST_FIT | {"f1_1 | t3": (0.090, 0.016, 0.162), "F1 =~ f1_1": (0.09, 0.01, 0.17)}

    def fit(refit_spec):
        seen.append(refit_spec.group_partial)
        return result_with(deviations(refitted))

    final = refit_search(fit, spec, result_with(deviations(FIRST_FIT)), "parameter")
    assert len(seen) == 1 and len(seen[0]) == 7
    table = final.extra_tables["invariance_deviations"]
    assert table.freed.sum() == 14 and set(table.freed_at) == {0, 1}
    assert set(table.parameter[table.flagged]) == {*seen[0], "F1 =~ f1_1"}
    assert final.info["refit"]["stopped"] == "one refit (bayes.refit: parameter)"
    nothing = result_with(deviations({"f1_1 | t2": (0.02, -0.04, 0.08)}))
    assert refit_search(fit, spec, nothing) is nothing and len(seen) == 1
    assert nothing.info["refit"]["steps"] == []
    assert not nothing.extra_tables["invariance_deviations"].freed.any()


def test_the_search_keeps_two_invariant_items_per_construct_and_stops_at_the_cap(monkeypatch):
    """A refit that flags a new item of F1 every time: f1_1 freed, then f1_2 would leave F1 one
    invariant item (f1_3; group_partial freed f1_4): a warning, no second refit. With the cap
    at one refit and F1's fourth item held, the search stops after it with a warning."""
    spec = spec_of("approximate", ["f1_4 ~ 1"])
    chain = iter(["f1_2 ~ 1", "f1_2 ~ 1"])

    def fit(refit_spec):
        return result_with(deviations({next(chain): (0.2, 0.1, 0.3), "f1_1 ~ 1": (0.3, 0.2, 0.4)}))

    first = result_with(deviations({"f1_1 ~ 1": (0.25, 0.1, 0.4), "f1_2 ~ 1": (0.1, 0.0, 0.2)}))
    final = refit_search(fit, spec, first)
    assert [s["item"] for s in final.info["refit"]["steps"]] == ["f1_1"]
    stopped = final.info["refit"]["stopped"]
    assert "f1_2 flagged but not freed: F1 would keep fewer than 2" in stopped
    assert [p.severity for p in final.problems] == ["warning"]
    monkeypatch.setattr(refit, "MAX_REFITS", 1)
    spec = spec_of("approximate", [])
    final = refit_search(fit, spec, result_with(first.extra_tables["invariance_deviations"]))
    assert len(final.info["refit"]["steps"]) == 1
    assert final.info["refit"]["stopped"].startswith("stopped after 1 refits with f1_2 still")


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
