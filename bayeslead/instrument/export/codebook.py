"""The analyst's codebook: one row per item and attention check."""

from __future__ import annotations

import pandas as pd

from bayeslead.instrument.export.layout import (
    check_language,
    collapse,
    construct_label,
    dimension_label,
    pick,
    questions,
    value_labels,
)
from bayeslead.instrument.model import Instrument

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


def codebook(instrument: Instrument, lang: str = "en") -> pd.DataFrame:
    """One row per item and attention check, in questionnaire order.

    Columns are `CODEBOOK_COLUMNS`; texts, labels, definitions and value labels are in `lang`.
    `dimension`/`dimension_label` are empty for first-order constructs; attention checks have an
    empty `construct` and their expected answer in `attention_check_expected` (nullable integer,
    missing for items).
    """
    check_language(instrument, lang)
    rows = []
    for q in questions(instrument):
        construct, dim = q.construct, q.dimension
        rows.append(
            {
                "position": q.number,
                "item": q.id,
                "construct": construct.id if construct else "",
                "construct_label": construct_label(construct, lang),
                "dimension": dim.id if dim else "",
                "dimension_label": dimension_label(dim, lang),
                "factor": (dim.id if dim else construct.id) if construct else "",
                "text": q.text(lang),
                "scale": q.scale.id,
                "scale_type": q.scale.type,
                "scale_min": q.scale.range[0],
                "scale_max": q.scale.range[1],
                "value_labels": value_labels(q.scale, lang),
                "reverse": bool(q.item.reverse) if q.item else False,
                "construct_status": construct.status if construct else "",
                "construct_definition": (
                    collapse(pick(construct.definition, construct.definition_zh, lang))
                    if construct
                    else ""
                ),
                "dimension_definition": (
                    collapse(pick(dim.definition, dim.definition_zh, lang)) if dim else ""
                ),
                "source": collapse(q.item.source or "") if q.item else "",
                "attention_check_expected": q.check.expected if q.check else None,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CODEBOOK_COLUMNS))
    frame["attention_check_expected"] = frame["attention_check_expected"].astype("Int64")
    frame["reverse"] = frame["reverse"].astype(bool)
    for column in ("position", "scale_min", "scale_max"):
        frame[column] = frame[column].astype("int64")
    return frame
