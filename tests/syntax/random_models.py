"""A seeded generator of valid lavaan model syntax with formatting noise, for round-trip tests.

`random_model(rng)` draws the model's content (factors, regressions with interactions,
covariances, intercepts, thresholds, every kind of modifier, per-group vectors, blocks,
definitions and constraints) and writes it the way people do: comments, ';', lines continued
after or before '+', spacing. The content, not the formatting, is what the parser must keep.
"""

from __future__ import annotations

import random

NUMBERS = ["1", "0", "-1", "0.5", ".25", "2.", "1e-3", "-2.5e+1", "sqrt(2)", "(1/4)", "0.123456789"]


def _label(rng: random.Random) -> str:
    return rng.choice(["a", "b", "c", "b1", "x9.group1", "L_2", "int", "t1", "lab.2"])


def _value(rng: random.Random, kind: str) -> str:
    if kind == "num":
        return rng.choice(NUMBERS + ["NA"])
    return rng.choice([_label(rng), f'"{_label(rng)} x"', "NA"])


def _modifier(rng: random.Random, groups: int) -> str:
    vector = groups > 1 and rng.random() < 0.3
    choice = rng.randrange(9)
    if choice == 0:
        return _label(rng)
    if choice == 1:
        return rng.choice(NUMBERS)
    if choice == 2:
        return "NA"
    if choice == 3 and vector:
        return f"c({', '.join(_value(rng, 'num') for _ in range(groups))})"
    if choice == 4 and vector:
        return f"c({', '.join(_value(rng, 'lab') for _ in range(groups))})"
    if choice == 5:
        inner = ", ".join(rng.choice(NUMBERS[:6]) for _ in range(groups if vector else 1))
        return f"start({'c(' + inner + ')' if vector else inner})"
    if choice == 6:
        return f'label("{_label(rng)}")'
    if choice == 7:
        return f'equal("{_label(rng)}")'
    return rng.choice([f"lower({rng.choice(NUMBERS[:4])})", 'prior("normal(0, 1)")', "upper(1)"])


def _term(rng: random.Random, var: str, groups: int) -> str:
    mods = [_modifier(rng, groups) for _ in range(rng.choice([0, 0, 1, 1, 2]))]
    if mods and rng.random() < 0.1 and mods[-1] in NUMBERS[:6]:
        return f"{mods[-1]}?{var}"  # start-value shorthand
    return "".join(f"{m}*" for m in mods) + var


def _expression(rng: random.Random, labels: list[str], depth: int = 3) -> str:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(labels + ["2", "0.5", "1e-2"])
    op = rng.choice([" + ", " - ", "*", "/", "^"])
    left, right = _expression(rng, labels, depth - 1), _expression(rng, labels, depth - 1)
    text = f"{left}{op}{right}"
    if rng.random() < 0.3:
        text = f"({text})"
    if rng.random() < 0.1:
        text = f"{rng.choice(['sqrt', 'abs', 'exp', 'log'])}({text})"
    if rng.random() < 0.1:
        text = f"-{text}" if text.startswith("(") else f"-({text})"
    return text


def _block_formulas(rng: random.Random, groups: int) -> list[str]:
    items = [f"y{k}" for k in range(1, 21)]
    rng.shuffle(items)
    factors = [f"F{k}" for k in range(1, rng.randint(2, 4))]
    lines = []
    for f in factors:
        terms = [_term(rng, items.pop(), groups) for _ in range(rng.randint(2, 3))]
        lines.append(f"{f} =~ " + " + ".join(terms))
    for k, outcome in enumerate(factors[1:], start=1):
        preds = factors[:k] + rng.sample(
            ["w1", "w2", "w1:w2", f"{factors[0]}:w1"], rng.randint(0, 2)
        )
        lines.append(f"{outcome} ~ " + " + ".join(_term(rng, p, groups) for p in preds))
    if rng.random() < 0.5:
        lines.append(f"{items[0]} + {items[1]} ~ " + _term(rng, "w1", groups))  # multiple lhs
    if rng.random() < 0.6:
        lines.append(f"{items[2]} ~~ " + " + ".join(_term(rng, v, groups) for v in items[3:5]))
    if rng.random() < 0.5:
        lines.append(f"{factors[0]} ~~ {_term(rng, factors[0], groups)}")
    if rng.random() < 0.5:
        lines.append(f"{items[5]} ~ {_term(rng, '1', groups)}")
    if rng.random() < 0.2:
        lines.append(f"{items[6]} ~ 0")
    if rng.random() < 0.4:
        lines.append(f"{items[7]} | " + " + ".join(_term(rng, f"t{k}", groups) for k in (1, 2, 3)))
    if rng.random() < 0.2:
        lines.append(f"{factors[0]} =~ .")
    return lines


def _noisy(rng: random.Random, line: str) -> str:
    """Write one formula as people do: spacing, continuation lines, trailing comments."""
    if " + " in line and rng.random() < 0.3:
        head, _, tail = line.partition(" + ")
        line = f"{head} +\n      {tail}" if rng.random() < 0.5 else f"{head}\n    + {tail}"
    if rng.random() < 0.2:
        line = line.replace(" ", "  ", 1)
    if rng.random() < 0.2:
        line = "   " + line
    if rng.random() < 0.2:
        line += rng.choice(["   # a comment", " ! remark", "  # x1 =~ y ; comment"])
    return line


def random_model(rng: random.Random) -> str:
    """A valid model text."""
    layout = rng.choice(["plain", "plain", "groups", "levels", "groups+levels", "vectors"])
    groups = 3 if layout == "vectors" else (2 if "groups" in layout else 1)
    blocks: list[tuple[str, ...]] = [()]
    if layout == "groups":
        blocks = [("group: Pasteur",), ("group: Grant-White",)]
    elif layout == "levels":
        blocks = [("level: 1",), ("level: 2",)]
    elif layout == "groups+levels":
        blocks = [
            (f"group: {g}", f"level: {lv}")
            for g in ("1", '"school B"')
            for lv in ("within", "between")
        ]
    lines: list[str] = []
    for header in blocks:
        lines += list(header)
        lines += [_noisy(rng, f) for f in _block_formulas(rng, groups)]
        if rng.random() < 0.3:
            lines.append("")
    labels = ["a", "b", "c", "b1"]
    for k in range(rng.randint(0, 3)):
        lines.append(f"def{k} := {_expression(rng, labels)}")
    for _ in range(rng.randint(0, 2)):
        lines.append(
            f"{rng.choice(labels)} {rng.choice(['==', '<', '>'])} {_expression(rng, labels, 2)}"
        )
    if rng.random() < 0.3 and len(lines) > 3:
        k = rng.randrange(1, len(lines))
        if (
            ":" not in lines[k]
            and ":" not in lines[k - 1]
            and "#" not in lines[k - 1]
            and "!" not in lines[k - 1]
        ):
            lines[k - 1 : k + 1] = [f"{lines[k - 1]}; {lines[k].strip()}"]
    if rng.random() < 0.3:
        lines.insert(0, "# generated model")
    return "\n".join(lines) + "\n"
