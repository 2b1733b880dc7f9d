"""What a reader sees instead of ids: the instrument's construct labels and item texts.

`label_table` is written to a run folder as `labels.csv`, so reports, tables and diagrams of a
saved run show labels without reading the instrument again; ids stand in where the instrument
gives no label (or the model has no instrument).
"""

from __future__ import annotations

import pandas as pd

from bayeslead.core.spec import ModelSpec
from bayeslead.instrument import Instrument

LABEL_COLUMNS = ["id", "kind", "label", "text"]


def label_table(spec: ModelSpec, instrument: Instrument | None = None) -> pd.DataFrame:
    """One row per construct, item and observed variable of `spec`: id, kind, label, text."""
    texts = {info.id: info.text() for info in instrument.items()} if instrument else {}
    rows = [
        {"id": f.name, "kind": "construct", "label": spec.labels.get(f.name) or f.name, "text": ""}
        for f in spec.factors
    ]
    rows += [{"id": i, "kind": "item", "label": i, "text": texts.get(i, "")} for i in spec.items]
    rows += [{"id": v, "kind": "observed", "label": v, "text": ""} for v in spec.observed]
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)
