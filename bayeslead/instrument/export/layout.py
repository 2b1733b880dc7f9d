"""The questionnaire layout every export is built from, so question numbers, the order of items
and the placement of attention checks agree across formats; and the text helpers (language
choice, labels, scale points) the formats share.

Attention checks are placed right after the last item of the construct named in `after` (inside
its section), or after the last construct when `after` is not given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bayeslead.errors import InputError
from bayeslead.instrument.model import Instrument
from bayeslead.instrument.schema import AttentionCheck, Construct, Dimension, Item, Scale

# Fixed respondent-facing strings of the printable questionnaires and REDCap.
UI: dict[str, dict[str, str]] = {
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


@dataclass(frozen=True)
class Question:
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
        return collapse(pick(obj.text, obj.text_zh, lang))


@dataclass
class Block:
    """Questions under one heading: a construct's own items, or one of its dimensions."""

    dimension: Dimension | None
    questions: list[Question] = field(default_factory=list)


@dataclass
class Section:
    """One construct (or, with `construct=None`, attention checks of an instrument without
    constructs)."""

    construct: Construct | None
    blocks: list[Block] = field(default_factory=list)
    checks: list[Question] = field(default_factory=list)

    def questions(self) -> list[Question]:
        return [q for block in self.blocks for q in block.questions] + self.checks


def layout(instrument: Instrument) -> list[Section]:
    """Sections in questionnaire order with questions numbered 1..n (checks included)."""
    sections: list[Section] = []
    counter = iter(range(1, 1_000_000))
    after: dict[str | None, list[AttentionCheck]] = {}
    construct_ids = {c.id for c in instrument.constructs}
    for check in instrument.attention_checks:
        key = check.after if check.after in construct_ids else None
        after.setdefault(key, []).append(check)

    def add_checks(section: Section, checks: list[AttentionCheck]) -> None:
        for check in checks:
            section.checks.append(
                Question(next(counter), check.id, instrument.scales[check.scale], check=check)
            )

    for i, construct in enumerate(instrument.constructs):
        section = Section(construct)
        groups: list[tuple[Dimension | None, list[Item]]] = []
        if construct.items:
            groups.append((None, list(construct.items)))
        groups += [(dim, list(dim.items)) for dim in construct.dimensions]
        for dim, items in groups:
            block = Block(dim)
            for item in items:
                block.questions.append(
                    Question(
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
        section = Section(None)
        add_checks(section, after[None])
        sections.append(section)
    return sections


def questions(instrument: Instrument) -> list[Question]:
    return [q for section in layout(instrument) for q in section.questions()]


def check_language(instrument: Instrument, lang: str) -> None:
    """Raise `InputError` unless the instrument declares `lang`."""
    declared = list(instrument.meta.languages)
    if lang not in declared:
        raise InputError(
            f"instrument {instrument.meta.name} declares languages {', '.join(declared)}; "
            f"'{lang}' is not available"
        )


def pick(en: str, zh: str | None, lang: str) -> str:
    return zh if lang == "zh" and zh else en


def collapse(text: str) -> str:
    """One line of text: YAML block scalars may carry line breaks."""
    return " ".join(text.split())


def title_text(instrument: Instrument, lang: str) -> str:
    return pick(instrument.meta.title, instrument.meta.title_zh, lang)


def instructions_text(instrument: Instrument, lang: str) -> str:
    return pick(instrument.meta.instructions, instrument.meta.instructions_zh, lang).strip()


def construct_label(construct: Construct | None, lang: str) -> str:
    return pick(construct.label, construct.label_zh, lang) if construct else ""


def dimension_label(dimension: Dimension | None, lang: str) -> str:
    return pick(dimension.label, dimension.label_zh, lang) if dimension else ""


def scale_labels(scale: Scale, lang: str) -> dict[int, str]:
    """Anchor labels in `lang` (falling back to English, then to any language)."""
    labels = scale.labels.get(lang) or scale.labels.get("en")
    if labels is None and scale.labels:
        labels = next(iter(scale.labels.values()))
    return {int(k): collapse(v) for k, v in sorted((labels or {}).items())}


def value_labels(scale: Scale, lang: str) -> str:
    """`1=Strongly disagree; 2=Disagree; ...` (labelled values only)."""
    return "; ".join(f"{value}={label}" for value, label in scale_labels(scale, lang).items())


def points(scale: Scale, lang: str) -> list[tuple[int, str]]:
    """Every scale value with its anchor label ('' when unlabelled)."""
    labels = scale_labels(scale, lang)
    return [(value, labels.get(value, "")) for value in scale.values]


def paragraphs(text: str) -> list[str]:
    """Split free text on blank lines into one-line paragraphs."""
    return [collapse(p) for p in re.split(r"\n\s*\n", text) if p.strip()]


def unique_name(name: str, used: set[str]) -> str:
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate)
    return candidate
