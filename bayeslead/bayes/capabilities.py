"""What the Bayesian engine estimates of the lavaan syntax (`bayeslead.syntax.check_model`
refuses the rest, naming the engine), and when it samples lavaan's marker metric.

The engine samples standardised latents on z-scored items, where an equality that holds in
lavaan's marker metric on raw items (``dem60 =~ a*y2; dem65 =~ a*y6``) does not hold and a
fixed value other than 0 has no meaning. A model with such constraints (`samples_marker_metric`)
is sampled on the marker metric itself: one random variable per free index of the constrained
parameter table, items centred and divided by one pooled SD (which leaves loadings and paths
unchanged and scales every variance alike, so equalities survive), or only centred when a
fixed non-zero variance or a freed marker would not survive that scaling. Single-level models
of continuous items only.
"""

from bayeslead.core.spec import ModelSpec
from bayeslead.syntax import Capabilities

CAPABILITIES = Capabilities(
    equality=True,
    fixed_values=True,
    intercepts=False,
    thresholds=True,
    levels=True,
    interactions=True,
    engine="engine: bayes",
)


def samples_marker_metric(spec: ModelSpec) -> bool:
    """Whether `spec` has equality constraints, freed markers or non-zero fixed values."""
    labels = [s.label for s in spec.settings if s.label]
    return bool(
        spec.equalities
        or spec.label_values
        or len(labels) != len(set(labels))
        or any(s.equal or s.free or s.fixed not in (None, 0.0) for s in spec.settings)
    )


def keeps_item_scale(spec: ModelSpec) -> bool:
    """Whether the items may only be centred: a fixed non-zero (co)variance or a freed marker
    (with the latent variance fixed instead) is not invariant to dividing the items by an SD."""
    return any(s.free or (s.op == "~~" and s.fixed not in (None, 0.0)) for s in spec.settings)
