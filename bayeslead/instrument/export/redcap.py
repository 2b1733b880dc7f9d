"""A REDCap data dictionary (lower-case variable names, one `radio` field per item)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bayeslead.errors import InputError
from bayeslead.instrument.export.layout import (
    UI,
    Question,
    check_language,
    construct_label,
    dimension_label,
    instructions_text,
    layout,
    paragraphs,
    points,
    questions,
    unique_name,
)
from bayeslead.instrument.model import Instrument

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


def redcap_dictionary(instrument: Instrument, lang: str = "en") -> pd.DataFrame:
    """A REDCap data dictionary (columns `REDCAP_COLUMNS`, REDCap's order and spelling).

    First field `record_id`; then an optional `descriptive` field with the instructions; then one
    required `radio` field per item and attention check, with lower-case variable names (the
    original id is kept in the Field Annotation) and a section header at each construct and
    dimension. Raises `InputError` if lower-casing makes two variable names equal.
    """
    check_language(instrument, lang)
    form = _redcap_name(instrument.meta.name)
    ui = UI[lang]
    rows: list[dict[str, object]] = []

    def row(**values: object) -> dict[str, object]:
        out: dict[str, object] = dict.fromkeys(REDCAP_COLUMNS, "")
        out["Form Name"] = form
        for key, value in values.items():
            out[_REDCAP_KEYS[key]] = value
        return out

    rows.append(row(name=REDCAP_RECORD_ID, type="text", label=ui["record_id"]))
    owners: dict[str, str] = {REDCAP_RECORD_ID: "the record id field"}
    instructions = instructions_text(instrument, lang)
    if instructions:
        name = unique_name(
            "instructions", set(owners) | {_redcap_name(q.id) for q in questions(instrument)}
        )
        owners[name] = "the instructions field"
        text = "\n\n".join(paragraphs(instructions))
        rows.append(row(name=name, type="descriptive", label=text))

    for section in layout(instrument):
        section_label = construct_label(section.construct, lang)
        for block in section.blocks:
            dim_label = dimension_label(block.dimension, lang)
            header = " — ".join(x for x in (section_label, dim_label) if x)
            for k, q in enumerate(block.questions):
                rows.append(_redcap_question(q, lang, row, owners, header if k == 0 else ""))
        for k, q in enumerate(section.checks):
            # Checks continue the section they follow; they get a header only if they are alone.
            header = section_label if k == 0 and not section.blocks else ""
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
    q: Question,
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
    choices = " | ".join(f"{value}, {label or value}" for value, label in points(q.scale, lang))
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
