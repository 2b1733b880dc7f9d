"""An XLSForm (ODK / KoboToolbox / SurveyCTO) with every declared language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bayeslead.atomic import atomic_path
from bayeslead.instrument.export.layout import (
    Question,
    check_language,
    collapse,
    construct_label,
    dimension_label,
    instructions_text,
    layout,
    points,
    questions,
    title_text,
    unique_name,
)
from bayeslead.instrument.model import Instrument

LANGUAGE_NAMES: dict[str, str] = {"en": "English (en)", "zh": "Chinese (zh)"}


def xlsform_sheets(instrument: Instrument, lang: str = "en") -> dict[str, list[list[object]]]:
    """The `survey`, `choices` and `settings` sheets as rows (first row = header).

    Labels are given in every language the instrument declares (`label::English (en)`,
    `label::Chinese (zh)`); `lang` is the form's default language.
    """
    check_language(instrument, lang)
    langs = list(instrument.meta.languages)
    label_cols = [f"label::{LANGUAGE_NAMES[code]}" for code in langs]
    used = {q.id for q in questions(instrument)} | {c.id for c in instrument.constructs}
    used |= {d.id for c in instrument.constructs for d in c.dimensions}

    survey: list[list[object]] = [["type", "name", *label_cols, "required", "appearance"]]

    def labels(get: Callable[[str], str]) -> list[str]:
        return [get(code) for code in langs]

    if any(instructions_text(instrument, code) for code in langs):
        name = unique_name("instructions", used)
        survey.append(["note", name, *labels(lambda c: instructions_text(instrument, c)), "", ""])

    def question_row(q: Question) -> list[object]:
        appearance = "likert" if q.scale.type == "likert" else ""
        return [
            f"select_one {q.scale.id}",
            q.id,
            *labels(q.text),
            "yes",
            appearance,
        ]

    for section in layout(instrument):
        construct = section.construct
        if construct is not None:
            survey.append(
                [
                    "begin_group",
                    construct.id,
                    *labels(lambda c, k=construct: construct_label(k, c)),
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
                        *labels(lambda c, d=dim: dimension_label(d, c)),
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
        per_lang = {code: dict(points(scale, code)) for code in langs}
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
            collapse(title_text(instrument, lang)),
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
    for q in questions(instrument):
        seen.setdefault(q.scale.id, None)
    return list(seen)
