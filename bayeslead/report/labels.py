"""Labels of a saved run (its `labels.csv`): construct labels and item texts, ids as fallback."""

from __future__ import annotations

import pandas as pd


class Labels:
    """Look up what a reader sees for an id: `name` (label, else id) and `text` (item text)."""

    def __init__(self, table: pd.DataFrame | None = None):
        table = (
            table if table is not None else pd.DataFrame(columns=["id", "kind", "label", "text"])
        )
        table = table.astype(object).where(table.notna(), "")
        self._label = {str(i): str(v) for i, v in zip(table["id"], table["label"], strict=True)}
        self._text = {str(i): str(v) for i, v in zip(table["id"], table["text"], strict=True)}
        kinds = table["kind"] if "kind" in table else pd.Series("", index=table.index)
        self.constructs = {
            str(i) for i, k in zip(table["id"], kinds, strict=True) if k == "construct"
        }

    def name(self, key: str) -> str:
        """The label of a construct or variable, or `key` itself."""
        return self._label.get(key) or key

    def text(self, key: str) -> str:
        """The wording of an item ('' when the instrument gives none)."""
        return self._text.get(key, "")

    def with_id(self, key: str) -> str:
        """``Label (ID)`` when a label exists, else the id."""
        label = self.name(key)
        return f"{label} ({key})" if label != key else key
