"""Exports of an instrument: printable questionnaires, codebook, XLSForm and REDCap dictionary.

Every export is built from one questionnaire layout (`_layout`), so question numbers, the order
of items and the placement of attention checks agree across formats:

- `to_markdown` / `to_html`: the respondent-facing questionnaire (no reverse keying, no construct
  definitions, no item ids shown);
- `codebook`: one row per item and attention check, for the analyst (keying, definitions, sources);
- `to_xlsform`: an XLSForm (ODK / KoboToolbox / SurveyCTO) with every declared language;
- `redcap_dictionary`: a REDCap data dictionary (lower-case variable names, one `radio` field per
  item).

`export_instrument` writes any of them atomically. Codebook CSVs are UTF-8 *with* a byte-order
mark so that Excel shows Chinese text correctly; REDCap dictionaries are plain UTF-8, which
REDCap's data-dictionary upload expects.

Attention checks are placed right after the last item of the construct named in `after` (inside
its section), or after the last construct when `after` is not given.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayeslead.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from bayeslead.errors import InputError
from bayeslead.instrument.model import Instrument
from bayeslead.instrument.schema import AttentionCheck, Construct, Dimension, Item, Scale

FORMATS: tuple[str, ...] = ("markdown", "html", "codebook", "xlsform", "redcap")
"""Formats accepted by `export_instrument`."""

SUFFIXES: dict[str, str] = {
    "markdown": ".md",
    "html": ".html",
    "codebook": ".csv",
    "xlsform": ".xlsx",
    "redcap": ".csv",
}
"""Conventional file suffix of each format."""

LANGUAGE_NAMES: dict[str, str] = {"en": "English (en)", "zh": "Chinese (zh)"}
"""XLSForm language names (`label::<name>` columns)."""

CODEBOOK_COLUMNS: tuple[str, ...] = (
    "position",
    "item",
    "construct",
    "construct_label",
    "dimension",
    "dimension_label",
    "factor",
    "text",
    "scale",
    "scale_type",
    "scale_min",
    "scale_max",
    "value_labels",
    "reverse",
    "construct_status",
    "construct_definition",
    "dimension_definition",
    "source",
    "attention_check_expected",
)

REDCAP_COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)

REDCAP_RECORD_ID = "record_id"

# Fixed respondent-facing strings of the printable questionnaires.
_UI: dict[str, dict[str, str]] = {
    "en": {
        "version": "Version",
        "citation": "Citation",
        "licence": "Licence",
        "instructions": "Instructions",
        "scale": "Response scale",
        "record_id": "Record ID",
    },
    "zh": {
        "version": "版本",
        "citation": "引用",
        "licence": "许可",
        "instructions": "填写说明",
        "scale": "回答选项",
        "record_id": "记录编号",
    },
}


# --------------------------------------------------------------------------------------------
# Questionnaire layout shared by every export


@dataclass(frozen=True)
class _Question:
    """One numbered question: an item or an attention check."""

    number: int
    id: str
    scale: Scale
    item: Item | None = None
    check: AttentionCheck | None = None
    construct: Construct | None = None
    dimension: Dimension | None = None

    def text(self, lang: str) -> str:
        obj = self.item if self.item is not None else self.check
        assert obj is not None
        return _collapse(_pick(obj.text, obj.text_zh, lang))


@dataclass
class _Block:
    """Questions under one heading: a construct's own items, or one of its dimensions."""

    dimension: Dimension | None
    questions: list[_Question] = field(default_factory=list)


@dataclass
class _Section:
    """One construct (or, with `construct=None`, attention checks of an instrument without
    constructs)."""

    construct: Construct | None
    blocks: list[_Block] = field(default_factory=list)
    checks: list[_Question] = field(default_factory=list)

    def questions(self) -> list[_Question]:
        return [q for block in self.blocks for q in block.questions] + self.checks


def _layout(instrument: Instrument) -> list[_Section]:
    """Sections in questionnaire order with questions numbered 1..n (checks included)."""
    sections: list[_Section] = []
    counter = iter(range(1, 1_000_000))
    after: dict[str | None, list[AttentionCheck]] = {}
    construct_ids = {c.id for c in instrument.constructs}
    for check in instrument.attention_checks:
        key = check.after if check.after in construct_ids else None
        after.setdefault(key, []).append(check)

    def add_checks(section: _Section, checks: list[AttentionCheck]) -> None:
        for check in checks:
            section.checks.append(
                _Question(next(counter), check.id, instrument.scales[check.scale], check=check)
            )

    for i, construct in enumerate(instrument.constructs):
        section = _Section(construct)
        groups: list[tuple[Dimension | None, list[Item]]] = []
        if construct.items:
            groups.append((None, list(construct.items)))
        groups += [(dim, list(dim.items)) for dim in construct.dimensions]
        for dim, items in groups:
            block = _Block(dim)
            for item in items:
                block.questions.append(
                    _Question(
                        next(counter),
                        item.id,
                        instrument.scales[item.scale],
                        item=item,
                        construct=construct,
                        dimension=dim,
                    )
                )
            section.blocks.append(block)
        add_checks(section, after.get(construct.id, []))
        if i == len(instrument.constructs) - 1:
            add_checks(section, after.get(None, []))
        sections.append(section)
    if not instrument.constructs and after.get(None):
        section = _Section(None)
        add_checks(section, after[None])
        sections.append(section)
    return sections


def _questions(instrument: Instrument) -> list[_Question]:
    return [q for section in _layout(instrument) for q in section.questions()]


# --------------------------------------------------------------------------------------------
# Small helpers


def _check_language(instrument: Instrument, lang: str) -> None:
    """Raise `InputError` unless the instrument declares `lang`."""
    declared = list(instrument.meta.languages)
    if lang not in declared:
        raise InputError(
            f"instrument {instrument.meta.name} declares languages {', '.join(declared)}; "
            f"'{lang}' is not available"
        )


def _pick(en: str, zh: str | None, lang: str) -> str:
    return zh if lang == "zh" and zh else en


def _collapse(text: str) -> str:
    """One line of text: YAML block scalars may carry line breaks."""
    return " ".join(text.split())


def _title(instrument: Instrument, lang: str) -> str:
    return _pick(instrument.meta.title, instrument.meta.title_zh, lang)


def _instructions(instrument: Instrument, lang: str) -> str:
    return _pick(instrument.meta.instructions, instrument.meta.instructions_zh, lang).strip()


def _construct_label(construct: Construct | None, lang: str) -> str:
    return _pick(construct.label, construct.label_zh, lang) if construct else ""


def _dimension_label(dimension: Dimension | None, lang: str) -> str:
    return _pick(dimension.label, dimension.label_zh, lang) if dimension else ""


def _scale_labels(scale: Scale, lang: str) -> dict[int, str]:
    """Anchor labels in `lang` (falling back to English, then to any language)."""
    labels = scale.labels.get(lang) or scale.labels.get("en")
    if labels is None and scale.labels:
        labels = next(iter(scale.labels.values()))
    return {int(k): _collapse(v) for k, v in sorted((labels or {}).items())}


def _value_labels(scale: Scale, lang: str) -> str:
    """`1=Strongly disagree; 2=Disagree; ...` (labelled values only)."""
    return "; ".join(f"{value}={label}" for value, label in _scale_labels(scale, lang).items())


def _points(scale: Scale, lang: str) -> list[tuple[int, str]]:
    """Every scale value with its anchor label ('' when unlabelled)."""
    labels = _scale_labels(scale, lang)
    return [(value, labels.get(value, "")) for value in scale.values]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _md(text: str) -> str:
    """Backslash-escape the characters Markdown would read as markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _paragraphs(text: str) -> list[str]:
    """Split free text on blank lines into one-line paragraphs."""
    return [_collapse(p) for p in re.split(r"\n\s*\n", text) if p.strip()]


# --------------------------------------------------------------------------------------------
# Markdown


def to_markdown(instrument: Instrument, lang: str = "en") -> str:
    """A printable questionnaire in Markdown.

    Title, version, citation and respondent instructions, then one section per construct
    (dimensions as sub-sections) with questions numbered through the whole questionnaire and the
    answer options (value and anchor label) under each question. Attention checks appear after
    the construct named in their `after`. Reverse keying and definitions are not shown.
    """
    _check_language(instrument, lang)
    ui = _UI[lang]
    meta = instrument.meta
    out = [f"# {_md(_collapse(_title(instrument, lang)))}", ""]
    out += [f"*{ui['version']} {_md(meta.version)}*", ""]
    out += [f"{ui['citation']}: {_md(_collapse(meta.citation))}", ""]
    if meta.licence:
        out += [f"{ui['licence']}: {_md(meta.licence)}", ""]
    instructions = _instructions(instrument, lang)
    if instructions:
        out += [f"## {ui['instructions']}", ""]
        for paragraph in _paragraphs(instructions):
            out += [_md(paragraph), ""]
    for section in _layout(instrument):
        if section.construct is not None:
            out += [f"## {_md(_construct_label(section.construct, lang))}", ""]
        for block in section.blocks:
            if block.dimension is not None:
                out += [f"### {_md(_dimension_label(block.dimension, lang))}", ""]
            out += _md_questions(block.questions, lang)
        out += _md_questions(section.checks, lang)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_questions(questions: list[_Question], lang: str) -> list[str]:
    out = []
    for q in questions:
        out += [f"{q.number}. {_md(q.text(lang))}", ""]
        options = "    ".join(
            f"☐ {value}" + (f" {_md(label)}" if label else "")
            for value, label in _points(q.scale, lang)
        )
        out += [f"   {options}", ""]
    return out


# --------------------------------------------------------------------------------------------
# HTML

_CSS = """
body { font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei", sans-serif;
  max-width: 58rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #111; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #999; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.meta, .citation, .licence { color: #444; font-size: 0.9rem; margin: 0.2rem 0; }
.instructions { background: #f4f4f4; padding: 0.6rem 1rem; border-radius: 4px; }
fieldset.question { border: none; border-top: 1px solid #ddd; margin: 0; padding: 0.6rem 0; }
fieldset.question legend { padding: 0; font-weight: 600; }
.qnum { display: inline-block; min-width: 2.2em; }
.options { display: flex; flex-wrap: wrap; gap: 0.3rem 0.9rem; margin: 0.4rem 0 0 2.2em; }
.options label { display: inline-flex; align-items: baseline; gap: 0.25rem; font-size: 0.92rem; }
@media print {
  body { margin: 0; max-width: none; }
  fieldset.question { break-inside: avoid; }
  .instructions { background: none; border: 1px solid #999; }
}
""".strip()


def to_html(instrument: Instrument, lang: str = "en") -> str:
    """A standalone HTML5 questionnaire (inline CSS, no external resources), printable.

    Same content as `to_markdown`; each question is a `<fieldset>` with one radio button per
    scale point (radio group name = item id). All text is HTML-escaped.
    """
    _check_language(instrument, lang)
    ui = _UI[lang]
    meta = instrument.meta
    e = html.escape
    title = e(_collapse(_title(instrument, lang)))
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{ui["version"]} {e(meta.version)}</p>',
        f'<p class="citation">{ui["citation"]}: {e(_collapse(meta.citation))}</p>',
    ]
    if meta.licence:
        out.append(f'<p class="licence">{ui["licence"]}: {e(meta.licence)}</p>')
    out.append("</header>")
    instructions = _instructions(instrument, lang)
    if instructions:
        out.append('<section class="instructions">')
        out.append(f"<h2>{ui['instructions']}</h2>")
        out += [f"<p>{e(p)}</p>" for p in _paragraphs(instructions)]
        out.append("</section>")
    out.append(f'<form class="questionnaire" id="{e(meta.name)}">')
    for section in _layout(instrument):
        out.append('<section class="construct">')
        if section.construct is not None:
            out.append(f"<h2>{e(_construct_label(section.construct, lang))}</h2>")
        for block in section.blocks:
            if block.dimension is not None:
                out.append('<section class="dimension">')
                out.append(f"<h3>{e(_dimension_label(block.dimension, lang))}</h3>")
            out += _html_questions(block.questions, lang)
            if block.dimension is not None:
                out.append("</section>")
        out += _html_questions(section.checks, lang)
        out.append("</section>")
    out += ["</form>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_questions(questions: list[_Question], lang: str) -> list[str]:
    e = html.escape
    out = []
    for q in questions:
        name = e(q.id)
        out.append(f'<fieldset class="question" id="q-{name}">')
        out.append(f'<legend><span class="qnum">{q.number}.</span> {e(q.text(lang))}</legend>')
        out.append('<div class="options">')
        for value, label in _points(q.scale, lang):
            anchor = f' <span class="anchor">{e(label)}</span>' if label else ""
            out.append(
                f'<label><input type="radio" name="{name}" value="{value}"> '
                f'<span class="value">{value}</span>{anchor}</label>'
            )
        out.append("</div>")
        out.append("</fieldset>")
    return out


# --------------------------------------------------------------------------------------------
# Codebook


def codebook(instrument: Instrument, lang: str = "en") -> pd.DataFrame:
    """One row per item and attention check, in questionnaire order.

    Columns are `CODEBOOK_COLUMNS`; texts, labels, definitions and value labels are in `lang`.
    `dimension`/`dimension_label` are empty for first-order constructs; attention checks have an
    empty `construct` and their expected answer in `attention_check_expected` (nullable integer,
    missing for items).
    """
    _check_language(instrument, lang)
    rows = []
    for q in _questions(instrument):
        construct, dim = q.construct, q.dimension
        rows.append(
            {
                "position": q.number,
                "item": q.id,
                "construct": construct.id if construct else "",
                "construct_label": _construct_label(construct, lang),
                "dimension": dim.id if dim else "",
                "dimension_label": _dimension_label(dim, lang),
                "factor": (dim.id if dim else construct.id) if construct else "",
                "text": q.text(lang),
                "scale": q.scale.id,
                "scale_type": q.scale.type,
                "scale_min": q.scale.range[0],
                "scale_max": q.scale.range[1],
                "value_labels": _value_labels(q.scale, lang),
                "reverse": bool(q.item.reverse) if q.item else False,
                "construct_status": construct.status if construct else "",
                "construct_definition": (
                    _collapse(_pick(construct.definition, construct.definition_zh, lang))
                    if construct
                    else ""
                ),
                "dimension_definition": (
                    _collapse(_pick(dim.definition, dim.definition_zh, lang)) if dim else ""
                ),
                "source": _collapse(q.item.source or "") if q.item else "",
                "attention_check_expected": q.check.expected if q.check else None,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CODEBOOK_COLUMNS))
    frame["attention_check_expected"] = frame["attention_check_expected"].astype("Int64")
    frame["reverse"] = frame["reverse"].astype(bool)
    for column in ("position", "scale_min", "scale_max"):
        frame[column] = frame[column].astype("int64")
    return frame


def _csv_bytes(frame: pd.DataFrame, bom: bool) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


# --------------------------------------------------------------------------------------------
# XLSForm


def xlsform_sheets(instrument: Instrument, lang: str = "en") -> dict[str, list[list[object]]]:
    """The `survey`, `choices` and `settings` sheets as rows (first row = header).

    Labels are given in every language the instrument declares (`label::English (en)`,
    `label::Chinese (zh)`); `lang` is the form's default language.
    """
    _check_language(instrument, lang)
    langs = list(instrument.meta.languages)
    label_cols = [f"label::{LANGUAGE_NAMES[code]}" for code in langs]
    used = {q.id for q in _questions(instrument)} | {c.id for c in instrument.constructs}
    used |= {d.id for c in instrument.constructs for d in c.dimensions}

    survey: list[list[object]] = [["type", "name", *label_cols, "required", "appearance"]]

    def labels(get: Callable[[str], str]) -> list[str]:
        return [get(code) for code in langs]

    if any(_instructions(instrument, code) for code in langs):
        name = _unique("instructions", used)
        survey.append(["note", name, *labels(lambda c: _instructions(instrument, c)), "", ""])

    def question_row(q: _Question) -> list[object]:
        appearance = "likert" if q.scale.type == "likert" else ""
        return [
            f"select_one {q.scale.id}",
            q.id,
            *labels(q.text),
            "yes",
            appearance,
        ]

    for section in _layout(instrument):
        construct = section.construct
        if construct is not None:
            survey.append(
                [
                    "begin_group",
                    construct.id,
                    *labels(lambda c, k=construct: _construct_label(k, c)),
                    "",
                    "field-list",
                ]
            )
        for block in section.blocks:
            dim = block.dimension
            if dim is not None:
                survey.append(
                    [
                        "begin_group",
                        dim.id,
                        *labels(lambda c, d=dim: _dimension_label(d, c)),
                        "",
                        "",
                    ]
                )
            survey += [question_row(q) for q in block.questions]
            if dim is not None:
                survey.append(["end_group", "", *([""] * len(langs)), "", ""])
        survey += [question_row(q) for q in section.checks]
        if construct is not None:
            survey.append(["end_group", "", *([""] * len(langs)), "", ""])

    choices: list[list[object]] = [["list_name", "name", *label_cols]]
    for scale_id in _used_scales(instrument):
        scale = instrument.scales[scale_id]
        per_lang = {code: dict(_points(scale, code)) for code in langs}
        for value in scale.values:
            choices.append(
                [
                    scale.id,
                    str(value),
                    *[per_lang[code][value] or str(value) for code in langs],
                ]
            )

    settings: list[list[object]] = [
        ["form_title", "form_id", "version", "default_language"],
        [
            _collapse(_title(instrument, lang)),
            instrument.meta.name,
            instrument.meta.version,
            LANGUAGE_NAMES[lang],
        ],
    ]
    return {"survey": survey, "choices": choices, "settings": settings}


def to_xlsform(instrument: Instrument, path: Path | str, lang: str = "en") -> Path:
    """Write an XLSForm workbook (sheets `survey`, `choices`, `settings`) atomically.

    One `select_one <scale id>` question per item and attention check, grouped per construct
    (`field-list` pages; dimensions as nested groups), all required, labels in every declared
    language; `lang` is the default language. Returns `path`.
    """
    from openpyxl import Workbook

    sheets = xlsform_sheets(instrument, lang)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    path = Path(path)
    with atomic_path(path) as tmp:
        workbook.save(tmp)
    return path


def _used_scales(instrument: Instrument) -> list[str]:
    """Scale ids in order of first use in the questionnaire."""
    seen: dict[str, None] = {}
    for q in _questions(instrument):
        seen.setdefault(q.scale.id, None)
    return list(seen)


def _unique(name: str, used: set[str]) -> str:
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate)
    return candidate


# --------------------------------------------------------------------------------------------
# REDCap


def redcap_dictionary(instrument: Instrument, lang: str = "en") -> pd.DataFrame:
    """A REDCap data dictionary (columns `REDCAP_COLUMNS`, REDCap's order and spelling).

    First field `record_id`; then an optional `descriptive` field with the instructions; then one
    required `radio` field per item and attention check, with lower-case variable names (the
    original id is kept in the Field Annotation) and a section header at each construct and
    dimension. Raises `InputError` if lower-casing makes two variable names equal.
    """
    _check_language(instrument, lang)
    form = _redcap_name(instrument.meta.name)
    ui = _UI[lang]
    rows: list[dict[str, object]] = []

    def row(**values: object) -> dict[str, object]:
        out: dict[str, object] = dict.fromkeys(REDCAP_COLUMNS, "")
        out["Form Name"] = form
        for key, value in values.items():
            out[_REDCAP_KEYS[key]] = value
        return out

    rows.append(row(name=REDCAP_RECORD_ID, type="text", label=ui["record_id"]))
    owners: dict[str, str] = {REDCAP_RECORD_ID: "the record id field"}
    instructions = _instructions(instrument, lang)
    if instructions:
        name = _unique(
            "instructions", set(owners) | {_redcap_name(q.id) for q in _questions(instrument)}
        )
        owners[name] = "the instructions field"
        text = "\n\n".join(_paragraphs(instructions))
        rows.append(row(name=name, type="descriptive", label=text))

    for section in _layout(instrument):
        construct_label = _construct_label(section.construct, lang)
        for block in section.blocks:
            dim_label = _dimension_label(block.dimension, lang)
            header = " — ".join(x for x in (construct_label, dim_label) if x)
            for k, q in enumerate(block.questions):
                rows.append(_redcap_question(q, lang, row, owners, header if k == 0 else ""))
        for k, q in enumerate(section.checks):
            # Checks continue the section they follow; they get a header only if they are alone.
            header = construct_label if k == 0 and not section.blocks else ""
            rows.append(_redcap_question(q, lang, row, owners, header))
    return pd.DataFrame(rows, columns=list(REDCAP_COLUMNS))


_REDCAP_KEYS = {
    "name": "Variable / Field Name",
    "header": "Section Header",
    "type": "Field Type",
    "label": "Field Label",
    "choices": "Choices, Calculations, OR Slider Labels",
    "required": "Required Field?",
    "number": "Question Number (surveys only)",
    "annotation": "Field Annotation",
}


def _redcap_name(ident: str) -> str:
    return ident.lower()


def _redcap_question(
    q: _Question,
    lang: str,
    row: Callable[..., dict[str, object]],
    owners: dict[str, str],
    header: str,
) -> dict[str, object]:
    name = _redcap_name(q.id)
    if name in owners:
        raise InputError(
            f"REDCap variable name '{name}' of '{q.id}' clashes with {owners[name]}; "
            "REDCap variable names are lower-case, so ids must differ other than in case"
        )
    owners[name] = f"'{q.id}'"
    choices = " | ".join(f"{value}, {label or value}" for value, label in _points(q.scale, lang))
    if q.check is not None:
        annotation = f"Original id: {q.id}; attention check, expected answer {q.check.expected}"
    else:
        annotation = f"Original id: {q.id}"
        if q.item is not None and q.item.reverse:
            annotation += "; reverse-keyed"
    return row(
        name=name,
        header=header,
        type="radio",
        label=q.text(lang),
        choices=choices,
        required="y",
        number=str(q.number),
        annotation=annotation,
    )


# --------------------------------------------------------------------------------------------
# Dispatch


def export_instrument(instrument: Instrument, fmt: str, path: Path | str, lang: str = "en") -> Path:
    """Write `instrument` as `fmt` (one of `FORMATS`) in language `lang` to `path` atomically.

    For `xlsform`, every declared language is written and `lang` is the default language.
    Raises `InputError` (exit code 2) for an unknown format or an undeclared language.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    _check_language(instrument, lang)
    path = Path(path)
    if fmt == "markdown":
        return atomic_write_text(path, to_markdown(instrument, lang))
    if fmt == "html":
        return atomic_write_text(path, to_html(instrument, lang))
    if fmt == "codebook":
        return atomic_write_bytes(path, _csv_bytes(codebook(instrument, lang), bom=True))
    if fmt == "xlsform":
        return to_xlsform(instrument, path, lang)
    return atomic_write_bytes(path, _csv_bytes(redcap_dictionary(instrument, lang), bom=False))


__all__ = [
    "CODEBOOK_COLUMNS",
    "FORMATS",
    "REDCAP_COLUMNS",
    "SUFFIXES",
    "codebook",
    "export_instrument",
    "redcap_dictionary",
    "to_html",
    "to_markdown",
    "to_xlsform",
    "xlsform_sheets",
]
