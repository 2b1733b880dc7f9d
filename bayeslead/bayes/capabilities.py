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

A single-level continuous model whose syntax labels parameters or defines `:=` quantities is
sampled on the marker metric too (`samples_marker_metric`), where its priors are on lavaan's
scale. On the standardised sampler an endogenous construct has residual variance 1, so a path
into a construct the model explains almost fully is large (political democracy: dem65 has
R-squared 0.96 and ``dem65 ~ dem60`` is about 4 there), and the default ``paths: normal(0, 1)``
pulls it to 0 and the residual variance up: on poldem_contrast (N = 75) the posterior mean of
``dem65 ~~ dem65`` was 0.64 against lavaan's 0.17 (SE 0.21); the marker-metric sampler gives
0.25, as the flat-prior posterior of lavaan's profile likelihood does (0.18 to 0.29).
"""

from bayeslead.config import BayesConfig
from bayeslead.core.spec import ModelSpec
from bayeslead.syntax import Capabilities

CAPABILITIES = Capabilities(
    equality=True,
    fixed_values=True,
    intercepts=True,
    thresholds=True,
    levels=True,
    interactions=True,
    engine="engine: bayes",
)


def needs_marker_metric(spec: ModelSpec) -> bool:
    """Whether `spec` has equality constraints, freed markers or non-zero fixed values, which
    only the marker metric can sample."""
    labels = [s.label for s in spec.settings if s.label]
    return bool(
        spec.equalities
        or spec.label_values
        or len(labels) != len(set(labels))
        or any(s.equal or s.free or s.fixed not in (None, 0.0) for s in spec.settings)
    )


def samples_marker_metric(spec: ModelSpec, settings: BayesConfig) -> bool:
    """Whether `spec` is sampled on lavaan's marker metric: it needs it
    (`needs_marker_metric`), or it is a single-level model of continuous items without latent
    interactions whose syntax labels parameters or defines ``:=`` quantities."""
    lavaan_terms = any(s.label for s in spec.settings) or bool(spec.definitions)
    single = not (spec.cluster or spec.group or spec.interactions)
    continuous = settings.indicators == "continuous"
    return needs_marker_metric(spec) or (lavaan_terms and single and continuous)


def keeps_item_scale(spec: ModelSpec) -> bool:
    """Whether the items may only be centred: a fixed non-zero (co)variance or a freed marker
    (with the latent variance fixed instead) is not invariant to dividing the items by an SD."""
    return any(s.free or (s.op == "~~" and s.fixed not in (None, 0.0)) for s in spec.settings)
