"""The model syntax's settings and equality constraints on the rows of a parameter table.

`apply_settings` applies what the user said about single rows in lavaan's order (after the
defaults): ``NA*`` frees, a number fixes, a label names, ``start()`` sets the start value.
`equality_classes` then numbers the free parameters: rows sharing a label, an ``equal()``
target or an ``a == b`` pair form one class with one free index (lavaan's ``ceq.simple``,
theta = K x), and ``a == 0.5`` fixes a whole class. Issues that add equalities (measurement
invariance across groups, CFA identification) add their classes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TypeVar

from bayeslead.core.spec import ModelSpec

Row = TypeVar("Row")  # a `bayeslead.core.partable.Parameter`


def apply_settings(spec: ModelSpec, params: Sequence[Row]) -> list[Row]:
    """The rows with the syntax's settings applied: ``NA*`` frees, a number fixes, a label
    names, ``start()`` sets the start value (free indices are assigned afterwards)."""
    out = list(params)
    for s in spec.settings:
        k = next(
            (
                k
                for k, p in enumerate(out)
                if (p.lhs, p.op, p.rhs) == (s.lhs, s.op, s.rhs)
                or (s.op == "~~" and (p.lhs, p.op, p.rhs) == (s.rhs, s.op, s.lhs))
            ),
            None,
        )
        if k is None:
            raise ValueError(f"the setting of '{s.key}' names no parameter of the model")
        p = out[k]
        if s.free:
            p = replace(p, free=0, value=0.0)
        if s.fixed is not None:
            p = replace(p, free=-1, value=s.fixed)
        out[k] = replace(
            p,
            label=s.label or p.label,
            start=s.start,
            free=p.free if p.free < 0 else 0,
        )
    return out


def equality_classes(spec: ModelSpec, params: Sequence[Row]) -> list[Row]:
    """Free indices by equality class: rows sharing a label, ``equal()`` targets and
    ``a == b`` pairs get one index; ``a == 0.5`` fixes the class; indices follow row order."""
    parent = list(range(len(params)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a: int, b: int) -> None:
        parent[root(a)] = root(b)

    named: dict[str, int] = {}
    for k, p in enumerate(params):
        named.setdefault(f"{p.lhs}{p.op}{p.rhs}", k)
        if p.label:
            if p.label in named:
                union(k, named[p.label])
            named.setdefault(p.label, k)
    for s in spec.settings:
        if s.equal and s.equal in named:
            union(named[f"{s.lhs}{s.op}{s.rhs}"], named[s.equal])
    for a, b in spec.equalities:
        union(named[a], named[b])
    fixed = {root(named[name]): value for name, value in spec.label_values}
    index: dict[int, int] = {}
    out = []
    for k, p in enumerate(params):
        r = root(k)
        if r in fixed:
            out.append(replace(p, free=-1, value=fixed[r]))
        elif p.free >= 0:
            out.append(replace(p, free=index.setdefault(r, len(index))))
        else:
            out.append(p)
    return out
