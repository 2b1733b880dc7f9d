"""The respondent-facing questionnaire as a printable HTML page."""

from __future__ import annotations

import html

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

_CSS = """
body { font-family: "Helvetica Neue", Arial, "PingFang SC", "Microsoft YaHei", sans-serif;
  max-width: 58rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; color: #111; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #999; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.meta, .citation, .licence { color: #444; font-size: 0.9rem; margin: 0.2rem 0; }
.instructions { background: #f4f4f4; padding: 0.6rem 1rem; border-radius: 4px; }
fieldset.question { border: none; border-top: 1px solid #ddd; margin: 0; padding: 0.6rem 0; }
fieldset.question legend { padding: 0; font-weight: 600; }
.qnum { display: inline-block; min-width: 2.2em; }
.options { display: flex; flex-wrap: wrap; gap: 0.3rem 0.9rem; margin: 0.4rem 0 0 2.2em; }
.options label { display: inline-flex; align-items: baseline; gap: 0.25rem; font-size: 0.92rem; }
@media print {
  body { margin: 0; max-width: none; }
  fieldset.question { break-inside: avoid; }
  .instructions { background: none; border: 1px solid #999; }
}
""".strip()


def to_html(instrument: Instrument, lang: str = "en") -> str:
    """A standalone HTML5 questionnaire (inline CSS, no external resources), printable.

    Same content as `to_markdown`; each question is a `<fieldset>` with one radio button per
    scale point (radio group name = item id). All text is HTML-escaped.
    """
    check_language(instrument, lang)
    ui = UI[lang]
    meta = instrument.meta
    e = html.escape
    title = e(collapse(title_text(instrument, lang)))
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{title}</h1>",
        f'<p class="meta">{ui["version"]} {e(meta.version)}</p>',
        f'<p class="citation">{ui["citation"]}: {e(collapse(meta.citation))}</p>',
    ]
    if meta.licence:
        out.append(f'<p class="licence">{ui["licence"]}: {e(meta.licence)}</p>')
    out.append("</header>")
    instructions = instructions_text(instrument, lang)
    if instructions:
        out.append('<section class="instructions">')
        out.append(f"<h2>{ui['instructions']}</h2>")
        out += [f"<p>{e(p)}</p>" for p in paragraphs(instructions)]
        out.append("</section>")
    out.append(f'<form class="questionnaire" id="{e(meta.name)}">')
    for section in layout(instrument):
        out.append('<section class="construct">')
        if section.construct is not None:
            out.append(f"<h2>{e(construct_label(section.construct, lang))}</h2>")
        for block in section.blocks:
            if block.dimension is not None:
                out.append('<section class="dimension">')
                out.append(f"<h3>{e(dimension_label(block.dimension, lang))}</h3>")
            out += _html_questions(block.questions, lang)
            if block.dimension is not None:
                out.append("</section>")
        out += _html_questions(section.checks, lang)
        out.append("</section>")
    out += ["</form>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_questions(questions: list[Question], lang: str) -> list[str]:
    e = html.escape
    out = []
    for q in questions:
        name = e(q.id)
        out.append(f'<fieldset class="question" id="q-{name}">')
        out.append(f'<legend><span class="qnum">{q.number}.</span> {e(q.text(lang))}</legend>')
        out.append('<div class="options">')
        for value, label in points(q.scale, lang):
            anchor = f' <span class="anchor">{e(label)}</span>' if label else ""
            out.append(
                f'<label><input type="radio" name="{name}" value="{value}"> '
                f'<span class="value">{value}</span>{anchor}</label>'
            )
        out.append("</div>")
        out.append("</fieldset>")
    return out
