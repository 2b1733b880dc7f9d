"""Pydantic schema of a survey instrument file (`surveys/*.yaml`).

The schema checks the shape of the file (types, required keys, unknown keys). Cross-references
(scale ids, citation keys, duplicate ids, translations) are checked in `validate.py`, so that every
problem in a file is reported at once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["en", "zh"]
Status = Literal["validated", "adapted", "new"]
ScaleType = Literal["likert", "ordinal", "nominal", "numeric"]


class StrictModel(BaseModel):
    """Base for every file schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    title: str
    title_zh: str | None = None
    version: str
    languages: list[Language] = ["en"]
    citation: str
    licence: str
    authors: list[str] = []
    description: str = ""
    instructions: str = ""
    instructions_zh: str | None = None


class Scale(StrictModel):
    """A response scale: `points` ordered values from `range[0]` to `range[1]`."""

    id: str
    type: ScaleType = "likert"
    points: int = Field(ge=2, le=101)
    range: tuple[int, int]
    labels: dict[Language, dict[int, str]] = {}

    @property
    def ordered(self) -> bool:
        return self.type != "nominal"

    @property
    def values(self) -> list[int]:
        return list(range(self.range[0], self.range[1] + 1))


class Item(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    text: str
    text_zh: str | None = None
    scale: str
    reverse: bool = False
    source: str | None = None


class Dimension(StrictModel):
    """A first-order facet of a second-order construct."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    label: str
    label_zh: str | None = None
    definition: str = ""
    definition_zh: str | None = None
    sources: list[str] = []
    items: list[Item]


class Construct(StrictModel):
    """A construct measured by items directly, or by dimensions (then it is second-order)."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    label: str
    label_zh: str | None = None
    definition: str
    definition_zh: str | None = None
    status: Status
    sources: list[str] = []
    items: list[Item] = []
    dimensions: list[Dimension] = []
    marker: bool = False  # a scale unrelated to the model: CFA marker for common-method variance


class AttentionCheck(StrictModel):
    """An instructed-response item: respondents reading carefully answer `expected`."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    text: str
    text_zh: str | None = None
    scale: str
    expected: int
    after: str | None = None


class InstrumentFile(StrictModel):
    """The content of one `surveys/*.yaml` file."""

    instrument: Metadata
    includes: list[str] = []
    references: dict[str, str] = {}
    scales: list[Scale] = []
    constructs: list[Construct] = []
    attention_checks: list[AttentionCheck] = []
