"""Exports of an instrument: printable questionnaires, codebook, XLSForm and REDCap dictionary.

Every export is built from one questionnaire layout (`layout.layout`), so question numbers, the order
of items and the placement of attention checks agree across formats:

- `to_markdown` / `to_html`: the respondent-facing questionnaire (no reverse keying, no construct
  definitions, no item ids shown);
- `codebook`: one row per item and attention check, for the analyst (keying, definitions, sources);
- `to_xlsform`: an XLSForm (ODK / KoboToolbox / SurveyCTO) with every declared language;
- `redcap_dictionary`: a REDCap data dictionary (lower-case variable names, one `radio` field per
  item).

`export_instrument` writes any of them atomically. Codebook CSVs are UTF-8 *with* a byte-order
mark so that Excel shows Chinese text correctly; REDCap dictionaries are plain UTF-8, which
REDCap's data-dictionary upload expects.

One module per format (`markdown`, `html`, `codebook`, `xlsform`, `redcap`) over the shared
`layout`; this package module only dispatches.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from bayeslead.atomic import atomic_write_bytes, atomic_write_text
from bayeslead.errors import InputError
from bayeslead.instrument.export.codebook import codebook
from bayeslead.instrument.export.html import to_html
from bayeslead.instrument.export.layout import check_language
from bayeslead.instrument.export.markdown import to_markdown
from bayeslead.instrument.export.redcap import redcap_dictionary
from bayeslead.instrument.export.xlsform import to_xlsform
from bayeslead.instrument.model import Instrument

FORMATS: tuple[str, ...] = ("markdown", "html", "codebook", "xlsform", "redcap")


SUFFIXES: dict[str, str] = {
    "markdown": ".md",
    "html": ".html",
    "codebook": ".csv",
    "xlsform": ".xlsx",
    "redcap": ".csv",
}


def export_instrument(instrument: Instrument, fmt: str, path: Path | str, lang: str = "en") -> Path:
    """Write `instrument` as `fmt` (one of `FORMATS`) in language `lang` to `path` atomically.

    For `xlsform`, every declared language is written and `lang` is the default language.
    Raises `InputError` (exit code 2) for an unknown format or an undeclared language.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    check_language(instrument, lang)
    path = Path(path)
    if fmt == "markdown":
        return atomic_write_text(path, to_markdown(instrument, lang))
    if fmt == "html":
        return atomic_write_text(path, to_html(instrument, lang))
    if fmt == "codebook":
        return atomic_write_bytes(path, _csv_bytes(codebook(instrument, lang), bom=True))
    if fmt == "xlsform":
        return to_xlsform(instrument, path, lang)
    return atomic_write_bytes(path, _csv_bytes(redcap_dictionary(instrument, lang), bom=False))


def _csv_bytes(frame: pd.DataFrame, bom: bool) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")
