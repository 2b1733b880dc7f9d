"""Tests of bayeslead.instrument.export on a small bilingual fixture and the bundled surveys."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from bayeslead.errors import InputError
from bayeslead.instrument import load_instrument
from bayeslead.instrument.export import FORMATS, SUFFIXES, export_instrument
from bayeslead.instrument.export.codebook import CODEBOOK_COLUMNS, codebook
from bayeslead.instrument.export.html import to_html
from bayeslead.instrument.export.markdown import to_markdown
from bayeslead.instrument.export.redcap import REDCAP_COLUMNS, redcap_dictionary
from bayeslead.instrument.export.xlsform import to_xlsform
from tests.conftest import ROOT, TESTS

SMALL = TESTS / "fixtures" / "instruments" / "small.yaml"
SURVEYS = sorted((ROOT / "surveys").glob("*.yaml"))

ORDER = ["LEAD_VIS1", "LEAD_VIS2", "LEAD_EXP1", "LEAD_EXP2", "ATT1", "INNO1", "INNO2", "INNO3"]
AGREE_EN = [
    "Strongly disagree",
    "Disagree",
    "Somewhat disagree",
    "Neither agree nor disagree",
    "Somewhat agree",
    "Agree",
    "Strongly agree",
]
AGREE_ZH = ["非常不同意", "不同意", "有点不同意", "一般", "有点同意", "同意", "非常同意"]
VALUE_LABELS_EN = (
    "1=Strongly disagree; 2=Disagree; 3=Somewhat disagree; 4=Neither agree nor disagree; "
    "5=Somewhat agree; 6=Agree; 7=Strongly agree"
)
VALUE_LABELS_ZH = "1=非常不同意; 2=不同意; 3=有点不同意; 4=一般; 5=有点同意; 6=同意; 7=非常同意"
CHOICES_EN = (
    "1, Strongly disagree | 2, Disagree | 3, Somewhat disagree | 4, Neither agree nor disagree | "
    "5, Somewhat agree | 6, Agree | 7, Strongly agree"
)
REDCAP_HEADER = (
    "Variable / Field Name,Form Name,Section Header,Field Type,Field Label,"
    '"Choices, Calculations, OR Slider Labels",Field Note,'
    "Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,"
    "Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,"
    "Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation"
)


@pytest.fixture(scope="module")
def small():
    return load_instrument(SMALL)


@pytest.fixture(scope="module")
def texts(small) -> dict[str, tuple[str, str]]:
    """Question id -> (English text, Chinese text), in questionnaire order."""
    out = {info.id: (info.item.text, info.item.text_zh) for info in small.items()}
    out.update({c.id: (c.text, c.text_zh) for c in small.attention_checks})
    return {k: out[k] for k in ORDER}


def variant(tmp_path: Path, edit) -> object:
    """Load a modified copy of the fixture: `edit` changes the parsed YAML in place."""
    raw = yaml.safe_load(SMALL.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_instrument(path)


def english_only(raw: dict) -> None:
    raw["instrument"]["languages"] = ["en"]


def positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(n) for n in needles]
    assert all(p >= 0 for p in found), [n for n, p in zip(needles, found, strict=True) if p < 0]
    return found


def pyxform_xml(path: Path) -> str:
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    result = convert(xlsform=str(path), warnings=warnings)
    return result.xform


class FormParser(HTMLParser):
    """Collects the bits of an HTML page the tests look at."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.charset: str | None = None
        self.tags: list[str] = []
        self.radios: dict[str, list[str]] = {}
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag == "meta" and "charset" in attrs:
            self.charset = attrs["charset"]
        if tag == "input" and attrs.get("type") == "radio":
            self.radios.setdefault(attrs["name"], []).append(attrs["value"])
        for key in ("src", "href"):
            if key in attrs:
                self.external.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def parse_html(page: str) -> FormParser:
    parser = FormParser()
    parser.feed(page)
    parser.close()
    return parser


# --------------------------------------------------------------------------------------------
# Markdown


def test_markdown_english(small, texts):
    md = to_markdown(small)
    assert md.startswith("# Small Test Survey\n")
    assert "Version 0.1.0" in md
    assert "Tester, A. (2026). Small Test Survey (version 0.1.0)." in md
    assert "Please rate how far you agree with each statement about your firm." in md
    # Items (and the check after LEAD) appear in questionnaire order, numbered 1..8.
    item_positions = positions(md, [f"{k + 1}. {en}" for k, (en, _) in enumerate(texts.values())])
    assert item_positions == sorted(item_positions)
    # Sections and sub-sections in order: construct, its dimensions, next construct.
    heads = positions(md, ["## Leadership", "### Vision", "### Expertise", "## Innovation"])
    assert heads == sorted(heads)
    assert heads[2] < item_positions[2] < item_positions[4] < heads[3] < item_positions[5]
    # Every question shows the anchors with their values.
    anchors = "    ".join(f"☐ {v} {label}" for v, label in enumerate(AGREE_EN, start=1))
    assert md.count(anchors) == len(ORDER)
    # Respondent-facing: no keying, no definitions, no ids.
    lowered = md.lower()
    assert "reverse" not in lowered
    for definition in [c.definition for c in small.constructs]:
        assert definition not in md
    for ident in ORDER:
        assert ident not in md


def test_markdown_chinese(small, texts):
    md = to_markdown(small, "zh")
    assert md.startswith("# 小型测试问卷\n")
    assert "请评价您对以下每项关于贵公司的陈述的同意程度。" in md
    zh_positions = positions(md, [f"{k + 1}. {zh}" for k, (_, zh) in enumerate(texts.values())])
    assert zh_positions == sorted(zh_positions)
    for en, _ in texts.values():
        assert en not in md
    positions(md, ["## 领导力", "### 愿景", "### 专长", "## 创新"])
    anchors = "    ".join(f"☐ {v} {label}" for v, label in enumerate(AGREE_ZH, start=1))
    assert md.count(anchors) == len(ORDER)
    assert "Strongly disagree" not in md
    assert "Please rate" not in md
    assert "Leadership" not in md


def test_attention_check_without_after_goes_last(tmp_path):
    def edit(raw):
        del raw["attention_checks"][0]["after"]

    inst = variant(tmp_path, edit)
    md = to_markdown(inst)
    check = md.find("8. To show you are reading carefully")
    assert check > md.find("7. Our firm rarely changes its product range.") > 0
    table = codebook(inst)
    assert list(table["item"]) == [*ORDER[:4], *ORDER[5:], "ATT1"]
    assert list(table["position"]) == list(range(1, 9))


def test_markdown_escapes_markup(tmp_path):
    def edit(raw):
        raw["constructs"][1]["items"][0]["text"] = "Our *R&D* unit uses <tags> and snake_case."

    md = to_markdown(variant(tmp_path, edit))
    assert r"Our \*R&D\* unit uses \<tags\> and snake\_case." in md


# --------------------------------------------------------------------------------------------
# HTML


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_form(small, texts, lang):
    page = to_html(small, lang)
    assert page.startswith("<!DOCTYPE html>\n")
    parsed = parse_html(page)
    assert parsed.html_lang == lang
    assert parsed.charset.lower() == "utf-8"
    assert "style" in parsed.tags
    assert "script" not in parsed.tags and "link" not in parsed.tags and "img" not in parsed.tags
    assert parsed.external == []
    # One radio group per question, in order, with the 7 scale values.
    assert list(parsed.radios) == ORDER
    for values in parsed.radios.values():
        assert values == [str(v) for v in range(1, 8)]
    body = "".join(parsed.text)
    column = 0 if lang == "en" else 1
    found = positions(body, [pair[column] for pair in texts.values()])
    assert found == sorted(found)
    for label in AGREE_EN if lang == "en" else AGREE_ZH:
        assert body.count(label) >= len(ORDER)
    if lang == "zh":
        for en, _ in texts.values():
            assert en not in body
    assert "reverse" not in page.lower()


def test_html_escapes_text(tmp_path):
    def edit(raw):
        raw["constructs"][1]["items"][0]["text"] = 'Our R&D <script>alert("x")</script> unit.'
        raw["instrument"]["title"] = "Tom & Jerry <b>survey</b>"

    page = to_html(variant(tmp_path, edit))
    assert "Our R&amp;D &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; unit." in page
    assert "<title>Tom &amp; Jerry &lt;b&gt;survey&lt;/b&gt;</title>" in page
    parsed = parse_html(page)
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert 'Our R&D <script>alert("x")</script> unit.' in "".join(parsed.text)


# --------------------------------------------------------------------------------------------
# Codebook


def test_codebook_english(small, texts):
    table = codebook(small)
    assert list(table.columns) == list(CODEBOOK_COLUMNS)
    for required in [
        "item",
        "construct",
        "construct_label",
        "dimension",
        "dimension_label",
        "text",
        "scale",
        "value_labels",
        "reverse",
        "position",
        "scale_min",
        "scale_max",
        "construct_status",
        "source",
        "attention_check_expected",
    ]:
        assert required in table.columns
    assert list(table["item"]) == ORDER
    assert list(table["position"]) == list(range(1, 9))
    assert list(table["text"]) == [en for en, _ in texts.values()]
    assert list(table["construct"]) == ["LEAD"] * 4 + [""] + ["INNO"] * 3
    assert list(table["construct_label"]) == ["Leadership"] * 4 + [""] + ["Innovation"] * 3
    assert list(table["dimension"]) == ["LEAD_VIS"] * 2 + ["LEAD_EXP"] * 2 + [""] * 4
    assert list(table["dimension_label"]) == ["Vision"] * 2 + ["Expertise"] * 2 + [""] * 4
    assert list(table["factor"]) == ["LEAD_VIS"] * 2 + ["LEAD_EXP"] * 2 + [""] + ["INNO"] * 3
    assert table["reverse"].dtype == bool
    assert list(table["reverse"]) == [False] * 7 + [True]
    assert set(table["value_labels"]) == {VALUE_LABELS_EN}
    assert set(table["scale"]) == {"agree7"}
    assert set(table["scale_min"]) == {1} and set(table["scale_max"]) == {7}
    assert list(table["construct_status"]) == ["new"] * 4 + [""] + ["adapted"] * 3
    assert table.loc[0, "source"] == "new item"
    assert table.loc[5, "source"] == "adapted from Tester 2026"
    assert table.loc[7, "source"] == ""
    assert table.loc[0, "construct_definition"] == (
        "How far top managers lead through vision and expertise."
    )
    assert table.loc[0, "dimension_definition"] == "A clear picture of the future."
    expected = table["attention_check_expected"]
    assert expected.isna().sum() == 7
    assert int(expected[table["item"] == "ATT1"].iloc[0]) == 2


def test_codebook_chinese(small, texts):
    table = codebook(small, "zh")
    assert list(table["text"]) == [zh for _, zh in texts.values()]
    assert set(table["value_labels"]) == {VALUE_LABELS_ZH}
    assert list(table["construct_label"]) == ["领导力"] * 4 + [""] + ["创新"] * 3
    assert list(table["dimension_label"]) == ["愿景"] * 2 + ["专长"] * 2 + [""] * 4
    assert table.loc[7, "construct_definition"] == "公司推出新产品的频率。"


def test_codebook_csv_has_bom_and_round_trips(small, tmp_path):
    path = export_instrument(small, "codebook", tmp_path / "codebook.csv", lang="zh")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == list(CODEBOOK_COLUMNS)
    assert list(back["item"]) == ORDER
    assert back.loc[7, "text"] == "我们公司很少改变其产品系列。"
    assert back.loc[0, "value_labels"] == VALUE_LABELS_ZH


# --------------------------------------------------------------------------------------------
# XLSForm


def test_xlsform_sheets(small, tmp_path):
    path = to_xlsform(small, tmp_path / "small.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["survey", "choices", "settings"]
    survey = [list(r) for r in book["survey"].iter_rows(values_only=True)]
    header = survey[0]
    assert header[:4] == ["type", "name", "label::English (en)", "label::Chinese (zh)"]
    assert "required" in header
    rows = [dict(zip(header, r, strict=True)) for r in survey[1:]]
    questions = [r for r in rows if (r["type"] or "").startswith("select_one")]
    assert [r["name"] for r in questions] == ORDER
    assert {r["type"] for r in questions} == {"select_one agree7"}
    assert {r["required"] for r in questions} == {"yes"}
    begins = [r["name"] for r in rows if r["type"] == "begin_group"]
    assert begins == ["LEAD", "LEAD_VIS", "LEAD_EXP", "INNO"]
    assert sum(r["type"] == "end_group" for r in rows) == 4
    lead = next(r for r in rows if r["name"] == "LEAD")
    assert (lead["label::English (en)"], lead["label::Chinese (zh)"]) == ("Leadership", "领导力")
    choices = [list(r) for r in book["choices"].iter_rows(values_only=True)]
    assert choices[0] == ["list_name", "name", "label::English (en)", "label::Chinese (zh)"]
    assert choices[1:] == [
        ["agree7", str(v), en, zh]
        for v, en, zh in zip(range(1, 8), AGREE_EN, AGREE_ZH, strict=True)
    ]
    settings = [list(r) for r in book["settings"].iter_rows(values_only=True)]
    assert dict(zip(settings[0], settings[1], strict=True)) == {
        "form_title": "Small Test Survey",
        "form_id": "small",
        "version": "0.1.0",
        "default_language": "English (en)",
    }


def test_xlsform_converts_with_pyxform(small, texts, tmp_path):
    path = export_instrument(small, "xlsform", tmp_path / "small.xlsx")
    xml = pyxform_xml(path)
    for ident in ORDER:
        assert f"/{ident}" in xml
    assert 'lang="English (en)"' in xml and 'lang="Chinese (zh)"' in xml
    for en, zh in texts.values():
        # pyxform turns typographic quotes (“ ”) into ASCII ones in labels.
        assert en in xml and zh.replace("“", '"').replace("”", '"') in xml
    for label in AGREE_EN + AGREE_ZH:
        assert f"<value>{label}</value>" in xml
    assert "领导力" in xml and "Leadership" in xml
    assert 'required="true()"' in xml


def test_xlsform_default_language_zh(small, tmp_path):
    path = export_instrument(small, "xlsform", tmp_path / "small_zh.xlsx", lang="zh")
    settings = list(load_workbook(path)["settings"].iter_rows(values_only=True))
    assert settings[1] == ("小型测试问卷", "small", "0.1.0", "Chinese (zh)")
    assert '<translation lang="Chinese (zh)" default="true()">' in pyxform_xml(path)


def test_xlsform_only_declared_languages(tmp_path):
    inst = variant(tmp_path, english_only)
    path = to_xlsform(inst, tmp_path / "en.xlsx")
    header = next(load_workbook(path)["survey"].iter_rows(values_only=True))
    assert [h for h in header if h.startswith("label")] == ["label::English (en)"]
    xml = pyxform_xml(path)
    assert "Chinese" not in xml and "我们的管理者" not in xml


# --------------------------------------------------------------------------------------------
# REDCap


def test_redcap_dictionary(small, texts, tmp_path):
    table = redcap_dictionary(small)
    assert list(table.columns) == list(REDCAP_COLUMNS)
    assert table.columns[1] == "Form Name"
    assert table.columns[5] == "Choices, Calculations, OR Slider Labels"
    names = list(table["Variable / Field Name"])
    assert names == ["record_id", "instructions", *[i.lower() for i in ORDER]]
    assert table.loc[0, "Field Type"] == "text"
    assert table.loc[1, "Field Type"] == "descriptive"
    assert set(table["Form Name"]) == {"small"}
    fields = table.iloc[2:].reset_index(drop=True)
    assert set(fields["Field Type"]) == {"radio"}
    assert set(fields["Choices, Calculations, OR Slider Labels"]) == {CHOICES_EN}
    assert set(fields["Required Field?"]) == {"y"}
    assert list(fields["Field Label"]) == [en for en, _ in texts.values()]
    assert list(fields["Question Number (surveys only)"]) == [str(k) for k in range(1, 9)]
    assert list(fields["Section Header"]) == [
        "Leadership — Vision",
        "",
        "Leadership — Expertise",
        "",
        "",
        "Innovation",
        "",
        "",
    ]
    for ident, annotation in zip(ORDER, fields["Field Annotation"], strict=True):
        assert annotation.startswith(f"Original id: {ident}")
    assert "attention check, expected answer 2" in fields.loc[4, "Field Annotation"]
    assert "reverse-keyed" in fields.loc[7, "Field Annotation"]
    for name in names:
        assert name == name.lower()
    path = export_instrument(small, "redcap", tmp_path / "redcap.csv")
    assert path.read_text(encoding="utf-8").splitlines()[0] == REDCAP_HEADER


def test_redcap_chinese_choices(small):
    fields = redcap_dictionary(small, "zh").iloc[2:]
    expected = " | ".join(f"{v}, {label}" for v, label in enumerate(AGREE_ZH, start=1))
    assert set(fields["Choices, Calculations, OR Slider Labels"]) == {expected}
    assert fields.iloc[0]["Section Header"] == "领导力 — 愿景"


def test_redcap_case_clash_is_an_input_error(tmp_path):
    def edit(raw):
        raw["constructs"][1]["items"][1]["id"] = "inno1"

    inst = variant(tmp_path, edit)
    with pytest.raises(InputError, match="'inno1' of 'inno1' clashes with 'INNO1'") as info:
        redcap_dictionary(inst)
    assert info.value.exit_code == 2


# --------------------------------------------------------------------------------------------
# Dispatch and errors


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_instrument_writes_each_format(small, tmp_path, fmt):
    target = tmp_path / "out" / f"small{SUFFIXES[fmt]}"
    target.parent.mkdir()
    target.write_text("old content", encoding="utf-8")
    result = export_instrument(small, fmt, target, lang="zh")
    assert result == target
    assert target.stat().st_size > 0
    assert target.read_bytes() != b"old content"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left over


def test_export_instrument_text_formats_match_functions(small, tmp_path):
    md = export_instrument(small, "markdown", tmp_path / "q.md", lang="zh")
    assert md.read_text(encoding="utf-8") == to_markdown(small, "zh")
    page = export_instrument(small, "html", tmp_path / "q.html")
    assert page.read_text(encoding="utf-8") == to_html(small, "en")


def test_unknown_format_is_an_input_error(small, tmp_path):
    with pytest.raises(InputError) as info:
        export_instrument(small, "pdf", tmp_path / "q.pdf")
    assert info.value.exit_code == 2
    assert str(info.value) == (
        "unknown export format 'pdf'; choose one of: markdown, html, codebook, xlsform, redcap"
    )
    assert not (tmp_path / "q.pdf").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_undeclared_language_is_an_input_error(tmp_path, fmt):
    inst = variant(tmp_path, english_only)
    with pytest.raises(InputError) as info:
        export_instrument(inst, fmt, tmp_path / f"q{SUFFIXES[fmt]}", lang="zh")
    assert info.value.exit_code == 2
    assert str(info.value) == "instrument small declares languages en; 'zh' is not available"
    assert not (tmp_path / f"q{SUFFIXES[fmt]}").exists()


@pytest.mark.parametrize("func", [to_markdown, to_html, codebook, redcap_dictionary])
def test_functions_reject_undeclared_language(small, func):
    with pytest.raises(InputError, match="declares languages en, zh; 'fr' is not available"):
        func(small, "fr")


# --------------------------------------------------------------------------------------------
# Bundled instruments


@pytest.mark.parametrize(
    "survey",
    SURVEYS
    or [pytest.param(None, marks=pytest.mark.skip(reason="no bundled surveys/*.yaml exist yet"))],
    ids=lambda p: p.name if isinstance(p, Path) else "none",
)
def test_bundled_surveys_export(survey, tmp_path):
    inst = load_instrument(survey)
    ids = [q.id for q in inst.items()] + [c.id for c in inst.attention_checks]
    for lang in inst.meta.languages:
        for fmt in FORMATS:
            path = export_instrument(inst, fmt, tmp_path / f"{lang}{SUFFIXES[fmt]}", lang=lang)
            assert path.stat().st_size > 0
        table = codebook(inst, lang)
        assert sorted(table["item"]) == sorted(ids)
        assert list(parse_html(to_html(inst, lang)).radios) == list(table["item"])
        xml = pyxform_xml(tmp_path / f"{lang}.xlsx")
        for ident in ids:
            assert f"/{ident}" in xml
        for code in inst.meta.languages:
            assert {"en": 'lang="English (en)"', "zh": 'lang="Chinese (zh)"'}[code] in xml
