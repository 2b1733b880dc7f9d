"""Instrument schema and validation: every failure mode reports its YAML path and message."""

from __future__ import annotations

import pytest

from bayeslead.errors import InputError
from bayeslead.instrument import load_instrument
from tests.conftest import ROOT, TESTS

FIXTURES = TESTS / "fixtures" / "instruments"
SURVEYS = ROOT / "surveys"

INVALID = {
    "unknown_scale.yaml": [
        "constructs[2].items[1].scale: unknown scale 'likert9'; known: likert5, likert7, sector"
    ],
    "duplicate_id.yaml": [
        "constructs[1].items[2].id: duplicate id 'a1' (first defined at constructs[0].items[0].id)"
    ],
    "unknown_reference.yaml": [
        "constructs[0].sources[1]: unknown reference 'teece2007'; known: ref1"
    ],
    "too_few_items.yaml": ["constructs[1].items: has 1 item(s); a construct needs at least 2"],
    "reverse_nominal.yaml": [
        "constructs[0].items[2].reverse: reverse keying needs an ordered scale; 'sector' is nominal"
    ],
    "missing_translation.yaml": [
        "constructs[2].items[0].text_zh: missing Chinese text (languages has zh)"
    ],
    "unknown_key.yaml": [
        "constructs[0].items[0].revers: unknown key 'revers'; did you mean 'reverse'?"
    ],
    "scale_range_mismatch.yaml": ["scales[0].range: range 1..7 has 7 values but points is 5"],
    "bad_status.yaml": ["constructs[0].status: 'draft' is not one of: validated, adapted, new"],
    "missing_include.yaml": ["includes[0]: included file not found:"],
    "bad_attention_check.yaml": [
        "attention_checks[0].expected: 6 is outside scale 'likert5' (1..5)",
        "attention_checks[0].after: unknown construct 'Z'; known: A, B, C",
    ],
    "several_problems.yaml": [
        "constructs[0].items[0].text_zh: missing Chinese text",
        "constructs[2].items[1].scale: unknown scale 'likert9'",
        "constructs[1].items[2].id: duplicate id 'a1'",
    ],
    "not_yaml.yaml": ["is not valid YAML at line 5"],
    "duplicate_key.yaml": [
        "instrument.version: key 'version' given twice (lines 6 and 7); keep one"
    ],
}


def test_every_invalid_fixture_is_listed():
    assert sorted(p.name for p in (FIXTURES / "invalid").glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_instrument_reports_every_problem(name):
    with pytest.raises(InputError) as caught:
        load_instrument(FIXTURES / "invalid" / name)
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert name in message  # the file is named
    for expected in INVALID[name]:
        assert expected in message
    errors = [p for p in caught.value.problems if p.severity == "error"]
    if name != "not_yaml.yaml":
        assert len(errors) == len(INVALID[name])


def test_two_items_is_a_warning_not_an_error(tmp_path):
    text = (FIXTURES / "mini.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  - id: c3\n    text: Item c3.\n    text_zh: 题目c3。\n    scale: likert7\n", ""
    )
    path = tmp_path / "two.yaml"
    path.write_text(text, encoding="utf-8")
    inst = load_instrument(path)
    assert [str(w) for w in inst.warnings] == [
        "constructs[2].items: has 2 items; at least 3 are recommended"
    ]
    assert inst.indicators()["C"] == ["c1", "c2"]


def test_minimal_instrument_structure():
    inst = load_instrument(FIXTURES / "mini.yaml")
    assert inst.meta.languages == ["en", "zh"]
    assert inst.indicators() == {
        "A": ["a1", "a2", "a3"],
        "B": ["b1", "b2", "b3"],
        "C": ["c1", "c2", "c3"],
    }
    assert inst.second_order() == {}
    assert inst.item("b2").scale.range == (1, 7)
    assert inst.item("b2").text("zh") == "题目b2。"


def test_included_files_merge_and_keep_order():
    inst = load_instrument(SURVEYS / "tl_dc_bi.yaml")
    assert list(inst.indicators()) == [
        "TL_EXP",
        "TL_VIS",
        "TL_TRF",
        "SENS",
        "SEIZ",
        "RECO",
        "BI_TECH",
        "BI_MKT",
    ]
    assert inst.second_order() == {
        "TL": ["TL_EXP", "TL_VIS", "TL_TRF"],
        "BI": ["BI_TECH", "BI_MKT"],
    }
    assert [c.id for c in inst.attention_checks] == ["ac1", "ac2"]
    # the only warning is the 2-dimension second-order construct, located in its own file
    assert [str(w) for w in inst.warnings] == [
        "breakthrough_innovation.yaml: constructs[0].dimensions: 2 dimensions identify a "
        "second-order construct only inside a larger model"
    ]


def test_duplicate_ids_across_included_files(tmp_path):
    (tmp_path / "a.yaml").write_text(
        (FIXTURES / "mini.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    main = (
        (FIXTURES / "mini.yaml")
        .read_text(encoding="utf-8")
        .replace("references:", "includes: [a.yaml]\nreferences:", 1)
    )
    (tmp_path / "main.yaml").write_text(main, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_instrument(tmp_path / "main.yaml")
    message = str(caught.value)
    assert (
        "a.yaml: constructs[0].id: duplicate id 'A' (first defined at constructs[0].id)" in message
    )
    assert "a.yaml: constructs[0].items[0].id: duplicate id 'a1'" in message


@pytest.mark.parametrize(
    "survey",
    [
        "technological_leadership.yaml",
        "dynamic_capabilities.yaml",
        "breakthrough_innovation.yaml",
        "leading_innovation.yaml",
    ],
)
def test_bundled_instruments_meet_the_brief(survey):
    inst = load_instrument(SURVEYS / survey)
    assert set(inst.meta.languages) == {"en", "zh"}
    items = inst.items()
    assert all(i.item.text_zh for i in items)
    assert any(i.item.reverse for i in items), "at least one reverse-keyed item"
    assert all(s.points == 7 for s in inst.scales.values())
    for construct in inst.constructs:
        assert construct.sources or construct.status == "new"
        for name, its in inst.indicators().items():
            minimum = 4 if name in {"SENS", "SEIZ", "RECO"} else 3
            assert len(its) >= minimum, name
    first_items = {its[0] for its in inst.indicators().values()}
    assert not any(inst.item(i).item.reverse for i in first_items), "markers are not reverse-keyed"


def test_bundled_instrument_content():
    tl = load_instrument(SURVEYS / "technological_leadership.yaml")
    assert tl.second_order() == {"TL": ["TL_EXP", "TL_VIS", "TL_TRF"]}
    dc = load_instrument(SURVEYS / "dynamic_capabilities.yaml")
    assert list(dc.indicators()) == ["SENS", "SEIZ", "RECO"]
    assert {"teece2007"} <= set(dc.references)
    li = load_instrument(SURVEYS / "leading_innovation.yaml")
    assert [c.id for c in li.constructs] == ["OIC", "OIS", "EII", "SRD", "LIA"]
    assert all(c.status in ("new", "adapted") for c in li.constructs)
