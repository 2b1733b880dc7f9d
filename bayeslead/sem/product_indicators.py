"""Latent interactions for the ML engine: unconstrained double-mean-centred product indicators.

Marsh, Wen & Hau (2004) and Lin, Wen, Marsh & Lin (2010): the items of both components are
mean-centred, multiplied in matched pairs (first with first, second with second, ... in
questionnaire order, as `semTools::indProd(match = TRUE)`; the extra items of the longer
construct are left out) and the products centred again. A latent product measured by them (free
loadings, marker first; free residual variances; free variance) enters the outcome's equation as
one more predictor, covaries with the exogenous constructs and with the disturbance of an
endogenous component. This is the linear SEM lavaan users fit with `indProd`, so its estimates
are checked against lavaan on the same product indicators.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bayeslead.core.interactions import Interaction
from bayeslead.core.spec import Factor, ModelSpec, Regression
from bayeslead.errors import InputError


@dataclass(frozen=True)
class ProductFactor:
    """The latent product of one interaction and its matched item pairs."""

    interaction: Interaction
    pairs: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """The product factor's identifier in the ML model, e.g. ``RECO_x_ENV``."""
        return f"{self.interaction.left}_x_{self.interaction.right}"

    @property
    def indicators(self) -> tuple[str, ...]:
        return tuple(f"{a}_x_{b}" for a, b in self.pairs)


def product_factors(spec: ModelSpec) -> list[ProductFactor]:
    """The matched item pairs of every interaction (components must be first-order)."""
    out = []
    for q in spec.interactions:
        items = []
        for name in (q.left, q.right):
            factor = spec.factor(name)
            if factor.order != 1:
                raise InputError(
                    f"paths.{q.outcome}: '{q.name}': the ML engine forms product indicators from "
                    f"items; {name} is a second-order construct (use one of its dimensions, or "
                    "engine: bayes)"
                )
            items.append(factor.indicators)
        pairs = tuple(zip(items[0], items[1], strict=False))
        out.append(ProductFactor(q, pairs))
    return out


def product_indicator_spec(spec: ModelSpec, products: list[ProductFactor]) -> ModelSpec:
    """The linear model with each interaction replaced by its latent product."""
    factors = [Factor(p.name, p.indicators, 1) for p in products]
    regressions = [Regression(p.interaction.outcome, p.name) for p in products]
    covariances = [
        (component, p.name)
        for p in products
        for component in (p.interaction.left, p.interaction.right)
        if spec.is_endogenous(component)
    ]
    first = spec.first_order
    return replace(
        spec,
        factors=(*first, *factors, *spec.second_order),
        regressions=(*spec.regressions, *regressions),
        covariances=(*spec.covariances, *covariances),
        interactions=(),
    )


def with_products(frame: pd.DataFrame, products: list[ProductFactor]) -> pd.DataFrame:
    """`frame` plus the double-mean-centred product of every matched pair (NaN stays NaN)."""
    columns = {}
    for p in products:
        for (a, b), name in zip(p.pairs, p.indicators, strict=True):
            x, w = frame[a].to_numpy(float), frame[b].to_numpy(float)
            product = (x - np.nanmean(x)) * (w - np.nanmean(w))
            columns[name] = product - np.nanmean(product)
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def renamed(products: list[ProductFactor]) -> dict[str, str]:
    """ML identifiers of the product factors -> the interaction names (``RECO:ENV``)."""
    return {p.name: p.interaction.name for p in products}
