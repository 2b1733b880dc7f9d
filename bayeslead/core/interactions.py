"""Latent interactions of a ModelSpec: the product terms (`RECO:ENV` in `paths`), which paths
they moderate, and the indices of moderated mediation (Hayes 2015) they define."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# `ModelSpec` and `Effect` live in `bayeslead.core.spec`, which imports this module
ModelSpec = Effect = Any


@dataclass(frozen=True)
class Interaction:
    """A latent product term `left:right` in the equation of `outcome` (lavaan/modsem `:`)."""

    outcome: str
    left: str
    right: str

    @property
    def name(self) -> str:
        """The product's name as written in the config and lavaan syntax, e.g. ``RECO:ENV``."""
        return f"{self.left}:{self.right}"

    @property
    def label(self) -> str:
        """The lavaan label of the product's coefficient, e.g. ``BI_on_RECO_x_ENV``."""
        return f"{self.outcome}_on_{self.left}_x_{self.right}"

    @property
    def key(self) -> str:
        return f"{self.outcome} ~ {self.name}"

    def moderator_of(self, predictor: str) -> str | None:
        """The other component when `predictor` is one of the two, else None."""
        if predictor == self.left:
            return self.right
        return self.left if predictor == self.right else None


@dataclass(frozen=True)
class ModeratedMediation:
    """An index of moderated mediation (Hayes 2015): `effect`'s indirect effect is linear in
    `moderator` because exactly one of its links (number `link`) is moderated by it."""

    name: str
    effect: Effect
    moderator: str
    link: int
    interaction: Interaction


def moderators_of(spec: ModelSpec, outcome: str, predictor: str) -> list[tuple[str, Interaction]]:
    """(moderator, interaction) of every interaction moderating the path predictor -> outcome."""
    out = []
    for q in spec.interactions:
        moderator = q.moderator_of(predictor) if q.outcome == outcome else None
        if moderator is not None:
            out.append((moderator, q))
    return out


def moderated_mediations(spec: ModelSpec) -> list[ModeratedMediation]:
    """The indices of moderated mediation: per effect and moderator moderating exactly one
    link (first stage, second stage or a serial link). Named ``imm_<effect>``, or
    ``imm_<effect>_<moderator>`` when several moderators act on the chain; a moderator on
    two links makes the indirect effect quadratic in it and defines no index."""
    out = []
    for effect in spec.effects:
        found: dict[str, list[tuple[int, Interaction]]] = {}
        for k, link in enumerate(effect.links):
            for moderator, q in moderators_of(spec, link.outcome, link.predictor):
                found.setdefault(moderator, []).append((k, q))
        for moderator, hits in found.items():
            if len(hits) == 1:
                name = f"imm_{effect.name}" + (f"_{moderator}" if len(found) > 1 else "")
                out.append(ModeratedMediation(name, effect, moderator, *hits[0]))
    return out
