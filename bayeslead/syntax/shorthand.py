"""The instrument shorthand ``F =~ .``: F's items from the instrument (a second-order construct
brings its dimensions and their items).

``.`` keeps the measurement visible to a lavaan reader (``SENS ~ TL`` alone would make TL an
observed variable); lavaan itself needs the expanded syntax, which every run writes to its
``model.lav``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bayeslead.syntax.lexer import LavaanProblem, did_you_mean
from bayeslead.syntax.model import Element, ParsedModel


def expand_instrument(
    model: ParsedModel, constructs: Mapping[str, Sequence[str]], source: str = "model"
) -> tuple[ParsedModel, list[LavaanProblem]]:
    """Replace every ``F =~ .`` by F's members; members that are constructs themselves (the
    dimensions of a second-order construct) get their items unless the model measures them."""
    defined = {e.lhs for e in model.elements if e.op == "=~" and e.rhs != "."}
    problems: list[LavaanProblem] = []
    out: list[Element] = []
    for e in model.elements:
        if e.op != "=~" or e.rhs != ".":
            out.append(e)
            continue
        if e.lhs not in constructs:
            hint = did_you_mean(e.lhs, constructs) if constructs else "; no instrument is given"
            message = f"'{e.lhs} =~ .' takes the items of '{e.lhs}' from the instrument{hint}"
            problems.append(LavaanProblem(e.lhs_line, e.lhs_column, message, source=source))
            continue
        pending = [e.lhs]
        while pending:
            name = pending.pop(0)
            for member in constructs[name]:
                out.append(replace(e, lhs=name, rhs=member, modifiers=()))
                if member in constructs and member not in defined:
                    defined.add(member)
                    pending.append(member)
    return replace(model, elements=tuple(out)), problems
