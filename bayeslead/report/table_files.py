"""Journal tables as files: Markdown, booktabs LaTeX and Word (python-docx), one of each per
table under a run folder's `tables/`."""

from __future__ import annotations

import io

from bayeslead.report.journal import JournalTable, journal_tables
from bayeslead.report.markdown import markdown_table
from bayeslead.report.numbers import DASH, MINUS
from bayeslead.report.summary import view_of_run
from bayeslead.runs import SavedRun

LATEX_ESCAPES = (
    ("\\", r"\textbackslash{}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("$", r"\$"),
    ("#", r"\#"),
    ("_", r"\_"),
    ("{", r"\{"),
    ("}", r"\}"),
    ("~", r"\textasciitilde{}"),
    ("^", r"\textasciicircum{}"),
)
LATEX_SYMBOLS = {
    MINUS: "$-$",
    DASH: "---",
    "<": "$<$",
    ">": "$>$",
    "\u2192": r"$\rightarrow$",
    "\u03bb": r"$\lambda$",
    "\u03b1": r"$\alpha$",
    "\u03c9": r"$\omega$",
    "\u03b2": r"$\beta$",
    "\u03c7\u00b2": r"$\chi^2$",
    "\u221a": r"$\surd$",
}


def latex_text(text: str) -> str:
    """`text` with LaTeX's special characters escaped and the tables' symbols typeset."""
    for a, b in LATEX_ESCAPES:
        text = text.replace(a, b)
    for a, b in LATEX_SYMBOLS.items():
        text = text.replace(a, b)
    return text


def table_markdown(table: JournalTable) -> str:
    """The table under a bold title, its note in italics below."""
    note = f"\n*Note.* {table.note}\n" if table.note else ""
    return f"**{table.title}**\n\n{markdown_table(table.frame)}{note}"


def table_latex(table: JournalTable) -> str:
    """A booktabs `table` environment: first column left-aligned, the others centred."""
    frame = table.frame
    spec = "l" + "c" * (frame.shape[1] - 1)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_text(table.title)}}}",
        rf"\label{{tab:{table.name}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_text(str(c)) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_text(str(v)) for v in row) + r" \\" for row in frame.values]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.note:
        lines += [rf"\par\smallskip{{\footnotesize\textit{{Note.}} {latex_text(table.note)}}}"]
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def table_docx(table: JournalTable) -> bytes:
    """A Word document with the table (APA layout: title above, note below)."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    document.add_paragraph().add_run(table.title).bold = True
    frame = table.frame
    grid = document.add_table(rows=1 + len(frame), cols=frame.shape[1])
    # the cells row by row, once: `grid.cell(i, j)` lists every cell of the table on each call
    cells = [row.cells for row in grid.rows]
    for j, column in enumerate(frame.columns):
        cells[0][j].text = str(column)
    for i, row in enumerate(frame.values, start=1):
        for j, value in enumerate(row):
            cells[i][j].text = str(value)
    for cell in (c for r in cells for c in r):
        for run in (r for p in cell.paragraphs for r in p.runs):
            run.font.size = Pt(9)
    if table.note:
        paragraph = document.add_paragraph()
        paragraph.add_run("Note. ").italic = True
        paragraph.add_run(table.note)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def table_files(tables: list[JournalTable]) -> dict[str, str | bytes]:
    """File name (under `tables/`) -> content, three files per table."""
    out: dict[str, str | bytes] = {}
    for table in tables:
        out[f"tables/{table.name}.md"] = table_markdown(table)
        out[f"tables/{table.name}.tex"] = table_latex(table)
        out[f"tables/{table.name}.docx"] = table_docx(table)
    return out


def run_table_files(run: SavedRun) -> dict[str, str | bytes]:
    """Every journal table of a saved run as files (see `table_files`)."""
    return table_files(journal_tables(view_of_run(run)))
