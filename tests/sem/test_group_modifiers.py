"""``c(...)`` per-group modifiers in multi-group ML against lavaan 0.6-14
(tests/reference/lavaan_group_modifiers, written by its fit_group_modifiers.R): per-group
labels (equal across groups, or equal between two loadings in one group only), per-group fixed
values, with and without group.equal = "loadings"."""

from __future__ import annotations

import pytest

from bayeslead.config import RunConfig, SemConfig
from bayeslead.core.from_config import build_spec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError
from bayeslead.sem.capabilities import CAPABILITIES
from bayeslead.sem.engine import fit_sem
from bayeslead.syntax import parse_model
from tests.conftest import REFERENCE, reference_table

FOLDER = "lavaan_group_modifiers"
FITS = {"hs_c_labels": [], "hs_c_equal": ["loadings"]}


def build(text: str, engine: str = "sem", group_equal=()):
    frame = reference_table("lavaan_constraints", "hs_data.csv")
    config = RunConfig(
        name="t",
        model=text,
        engine=engine,
        data={"group": "school"},
        group_equal=list(group_equal),
    )
    spec = build_spec(config, columns=list(frame.columns), capabilities=CAPABILITIES)
    values = frame[list(spec.manifest)].astype(float)
    data = ResponseData(
        frame=values, raw=values, path=None, sha256="", ranges={}, clusters=frame[["school"]]
    )
    return spec, data


@pytest.fixture(scope="module", params=sorted(FITS))
def fitted(request):
    name = request.param
    spec, data = build((REFERENCE / FOLDER / f"{name}.lav").read_text(), group_equal=FITS[name])
    return name, spec, fit_sem(spec, data, SemConfig(), progress=False)


def test_estimates_and_fit_equal_lavaans(fitted):
    name, _, result = fitted
    ref = reference_table(FOLDER, f"{name}_estimates.csv").fillna({"label": ""})
    ref = ref[ref.op.isin(["=~", "~~"])]
    ours = result.estimates.set_index(["lhs", "op", "rhs", "group"])
    for row in ref.itertuples():
        mine = ours.loc[(row.lhs, row.op, row.rhs, row.group)]
        assert abs(mine.est - row.est) < 0.002, (row.lhs, row.op, row.rhs, row.group)
        assert abs(mine.se - row.se) < 0.002, (row.lhs, row.op, row.rhs, row.group)
        if not row.label.startswith("."):  # lavaan's own labels of group.equal
            assert mine.label == row.label
    fit = dict(reference_table(FOLDER, f"{name}_fit.csv").itertuples(index=False))
    assert result.fit["npar"] == fit["npar"] and result.fit["df"] == fit["df"]
    assert abs(result.fit["chisq"] - fit["chisq"]) < 0.01
    for measure in ("cfi", "tli", "rmsea", "srmr"):
        assert abs(result.fit[measure] - fit[measure]) < 0.002, measure


def test_per_group_values_fix_and_label_in_each_group(fitted):
    """x9's loading is 0.6 in Pasteur only (both groups with group.equal, as lavaan fixes a
    loading made equal to a fixed one); x5 equals x6 in Pasteur only."""
    name, _, result = fitted
    rows = result.estimates.set_index(["lhs", "op", "rhs", "group"])
    assert rows.loc[("speed", "=~", "x9", "Pasteur")].est == 0.6
    assert rows.loc[("speed", "=~", "x9", "Pasteur")].se == 0.0
    grant = rows.loc[("speed", "=~", "x9", "Grant-White")]
    assert (grant.est == 0.6) == (name == "hs_c_equal")
    x5 = rows.loc[("textual", "=~", "x5", "Pasteur")].est
    assert x5 == rows.loc[("textual", "=~", "x6", "Pasteur")].est
    assert rows.loc[("textual", "=~", "x5", "Grant-White")].est != x5


def test_per_group_modifiers_round_trip():
    spec, _ = build((REFERENCE / FOLDER / "hs_c_labels.lav").read_text())
    text = spec.to_lavaan()
    assert "textual =~ x4 + c(a1, a2)*x5 + c(a1, a3)*x6" in text
    assert "speed =~ x7 + x8 + c(0.6, NA)*x9" in text
    again, _ = build(text)
    assert again == spec
    assert parse_model(text).elements == parse_model(again.to_lavaan()).elements


def test_group_count_is_checked_at_the_fit():
    text = "visual =~ x1 + c(a, b, c)*x2 + x3\n"
    spec, data = build(text)
    with pytest.raises(InputError, match=r"has 3 values for 2 groups \(Pasteur, Grant-White"):
        fit_sem(spec, data, SemConfig(), progress=False)


@pytest.mark.parametrize(
    ("text", "engine", "message"),
    [
        ("f =~ x1 + c(a, b)*x2 + x3\n", "bayes", "not estimated by engine: bayes"),
        ("f =~ c(1, NA)*x1 + x2 + x3\n", "sem", "marker loading of 'f'"),
        ("f =~ x1 + c(a, b)*x2 + x3\nd := a - b\n", "sem", "per-group labels (a, b)"),
        ("f =~ x1 + x2 + x3\nx1 ~ c(i1, i2)*1\n", "sem", "intercepts and thresholds"),
    ],
)
def test_what_the_multi_group_models_do_not_estimate_is_refused(text, engine, message):
    with pytest.raises(InputError) as err:
        build(text, engine)
    assert message in " | ".join(p.message for p in err.value.problems)


def test_one_value_for_every_group_is_that_value():
    spec, _ = build("f =~ x1 + c(a, a)*x2 + c(0.5, 0.5)*x3\n")
    settings = {s.rhs: s for s in spec.settings}
    assert settings["x2"].label == "a" and not settings["x2"].group_labels
    assert settings["x3"].fixed == 0.5 and not settings["x3"].group_fixed
