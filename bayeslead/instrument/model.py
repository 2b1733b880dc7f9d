"""The validated `Instrument`: what the rest of bayeslead reads from a survey file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bayeslead.errors import Problem
from bayeslead.instrument.schema import (
    AttentionCheck,
    Construct,
    Dimension,
    Item,
    Metadata,
    Scale,
)


@dataclass(frozen=True)
class ItemInfo:
    """An item with the construct (and dimension) it measures and its response scale."""

    item: Item
    construct: Construct
    dimension: Dimension | None
    scale: Scale

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def factor(self) -> str:
        """The first-order construct the item loads on (the dimension for second-order ones)."""
        return self.dimension.id if self.dimension else self.construct.id

    def text(self, lang: str = "en") -> str:
        return self.item.text_zh if lang == "zh" and self.item.text_zh else self.item.text


@dataclass(frozen=True)
class Instrument:
    """A validated instrument, possibly merged from several files through `includes`."""

    meta: Metadata
    scales: dict[str, Scale]
    references: dict[str, str]
    constructs: tuple[Construct, ...]
    attention_checks: tuple[AttentionCheck, ...]
    source: Path
    warnings: tuple[Problem, ...] = field(default=())

    def items(self) -> list[ItemInfo]:
        """Every construct item in questionnaire order (attention checks excluded)."""
        out = []
        for construct in self.constructs:
            for item in construct.items:
                out.append(ItemInfo(item, construct, None, self.scales[item.scale]))
            for dim in construct.dimensions:
                for item in dim.items:
                    out.append(ItemInfo(item, construct, dim, self.scales[item.scale]))
        return out

    def item(self, item_id: str) -> ItemInfo:
        for info in self.items():
            if info.id == item_id:
                return info
        raise KeyError(item_id)

    def construct(self, construct_id: str) -> Construct:
        for construct in self.constructs:
            if construct.id == construct_id:
                return construct
        raise KeyError(construct_id)

    def indicators(self) -> dict[str, list[str]]:
        """First-order factor (construct or dimension) id -> its item ids."""
        out: dict[str, list[str]] = {}
        for info in self.items():
            out.setdefault(info.factor, []).append(info.id)
        return out

    def second_order(self) -> dict[str, list[str]]:
        """Second-order construct id -> its dimension ids."""
        return {c.id: [d.id for d in c.dimensions] for c in self.constructs if c.dimensions}

    def label(self, factor_id: str, lang: str = "en") -> str:
        """Label of a construct or dimension in the requested language."""
        for construct in self.constructs:
            for obj in (construct, *construct.dimensions):
                if obj.id == factor_id:
                    return obj.label_zh if lang == "zh" and obj.label_zh else obj.label
        raise KeyError(factor_id)
