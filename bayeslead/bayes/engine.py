"""The Bayesian engine's entry point: the one place that maps a spec to a model family.

`spec.cluster` -> two-level (`models/twolevel`), `spec.group` -> multi-group
(`models/multigroup`), otherwise single-level (`models/single`). Every family is fitted by the
same recipe, `Family.fit` (`bayes.recipe`): ``family_of(spec).fit(spec, data, settings, gates)``.
"""

from __future__ import annotations

from bayeslead.bayes.models.multigroup.fit import MultiGroup
from bayeslead.bayes.models.single.fit import SingleLevel
from bayeslead.bayes.models.twolevel.fit import TwoLevel
from bayeslead.bayes.recipe import Family
from bayeslead.core.spec import ModelSpec


def family_of(spec: ModelSpec) -> Family:
    """The model family that fits `spec`."""
    if spec.cluster:
        return TwoLevel()
    if spec.group:
        return MultiGroup()
    return SingleLevel()
