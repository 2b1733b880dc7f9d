"""Journal tables as Word documents: every cell read back as written."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from docx import Document

from bayeslead.report.journal import JournalTable
from bayeslead.report.table_files import table_docx


def test_word_table_has_every_cell_in_place():
    """Header row, then the frame row by row (filled from each row's cells, once), 9-point
    text, title above and note below."""
    values = np.arange(40 * 5).reshape(40, 5).astype(str)
    frame = pd.DataFrame(values, columns=[f"c{j}" for j in range(5)])
    document = Document(io.BytesIO(table_docx(JournalTable("t", "Title", frame, "A note."))))
    grid = document.tables[0]
    read = [[cell.text for cell in row.cells] for row in grid.rows]
    assert read == [list(frame.columns), *values.tolist()]
    assert {
        run.font.size.pt
        for row in grid.rows
        for c in row.cells
        for p in c.paragraphs
        for run in p.runs
    } == {9.0}
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "Title" and texts[-1] == "Note. A note."
