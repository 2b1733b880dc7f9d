"""The respondent-facing questionnaire in Markdown."""

from __future__ import annotations

import re

from bayeslead.instrument.export.layout import (
    UI,
    Question,
    check_language,
    collapse,
    construct_label,
    dimension_label,
    instructions_text,
    layout,
    paragraphs,
    points,
    title_text,
)
from bayeslead.instrument.model import Instrument

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>])")


def _md(text: str) -> str:
    """Backslash-escape the characters Markdown would read as markup."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def to_markdown(instrument: Instrument, lang: str = "en") -> str:
    """A printable questionnaire in Markdown.

    Title, version, citation and respondent instructions, then one section per construct
    (dimensions as sub-sections) with questions numbered through the whole questionnaire and the
    answer options (value and anchor label) under each question. Attention checks appear after
    the construct named in their `after`. Reverse keying and definitions are not shown.
    """
    check_language(instrument, lang)
    ui = UI[lang]
    meta = instrument.meta
    out = [f"# {_md(collapse(title_text(instrument, lang)))}", ""]
    out += [f"*{ui['version']} {_md(meta.version)}*", ""]
    out += [f"{ui['citation']}: {_md(collapse(meta.citation))}", ""]
    if meta.licence:
        out += [f"{ui['licence']}: {_md(meta.licence)}", ""]
    instructions = instructions_text(instrument, lang)
    if instructions:
        out += [f"## {ui['instructions']}", ""]
        for paragraph in paragraphs(instructions):
            out += [_md(paragraph), ""]
    for section in layout(instrument):
        if section.construct is not None:
            out += [f"## {_md(construct_label(section.construct, lang))}", ""]
        for block in section.blocks:
            if block.dimension is not None:
                out += [f"### {_md(dimension_label(block.dimension, lang))}", ""]
            out += _md_questions(block.questions, lang)
        out += _md_questions(section.checks, lang)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_questions(questions: list[Question], lang: str) -> list[str]:
    out = []
    for q in questions:
        out += [f"{q.number}. {_md(q.text(lang))}", ""]
        options = "    ".join(
            f"☐ {value}" + (f" {_md(label)}" if label else "")
            for value, label in points(q.scale, lang)
        )
        out += [f"   {options}", ""]
    return out
