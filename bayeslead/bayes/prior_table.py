"""The priors of a Bayesian fit as a table (WAMBS and BARG checklists; blavaan prints them in
`summary()`): every prior class the model uses and every per-parameter override, with its
distribution, whether it is bayeslead's default or set in the config, and the scale it acts on."""

from __future__ import annotations

import pandas as pd

from bayeslead.bayes.priors import DEFAULTS, PriorSet
from bayeslead.config import BayesConfig
from bayeslead.core.keys import parse_key
from bayeslead.core.spec import ModelSpec

PRIOR_COLUMNS = ["parameter", "applies to", "distribution", "source", "scale"]
STANDARDISED = "standardised latents, z-scored items"
APPLIES = {
    "loadings": ("loadings after the first of each construct", STANDARDISED),
    "first_loading": ("first loading of each construct (positive: fixes the sign)", STANDARDISED),
    "paths": ("structural paths", "standardised latents"),
    "residual_sd": ("item residual SDs", "item SD = 1"),
    "latent_correlation": ("correlations of the exogenous constructs (LKJ)", "correlation"),
    "residual_correlation": ("residual correlations of items, on (r + 1) / 2", "correlation"),
    "observed_sd": ("SDs of observed structural variables", "z-scored variable"),
    "intercepts": ("item means (missing data)", "z-scored items"),
    "thresholds": ("first threshold of each ordinal item", "latent response SD"),
    "threshold_gaps": ("distance between consecutive thresholds", "latent response SD"),
    "slope_sd": ("between-cluster SD of a random slope", "standardised latents"),
    "between_sd": ("between-cluster SD of a latent", "standardised latents"),
    "between_residual_sd": ("between-cluster SD of an item residual", "item SD = 1"),
    "level3_sd": ("SD of a construct between level-3 units", "standardised latents"),
    "group_path_sd": ("SD of a path across groups", "standardised latents"),
    "group_sd": ("latent (residual) SDs of the groups, log zero-sum", "standardised latents"),
    "group_means": ("latent intercepts of the groups, zero-sum", "standardised latents"),
}
KIND_CLASS = {"=~": "loadings", "~": "paths", "~~": "residual_correlation"}


def used_classes(spec: ModelSpec, settings: BayesConfig, has_missing: bool) -> list[str]:
    """The prior classes a model of `spec` fitted with `settings` draws from."""
    ordinal = settings.indicators == "ordinal"
    used = {"loadings", "first_loading"}
    used |= {"thresholds", "threshold_gaps"} if ordinal else {"residual_sd"}
    if spec.regressions:
        used.add("paths")
    if len(spec.exogenous()) > 1:
        used.add("latent_correlation")
    items = set(spec.items)
    if any(a in items for a, _ in spec.covariances):
        used.add("residual_correlation")
    if spec.observed:
        used.add("observed_sd")
    if has_missing and not ordinal:
        used.add("intercepts")
    if spec.cluster:
        used |= {"between_sd", "between_residual_sd", "slope_sd"}
    if spec.level3:
        used.add("level3_sd")
    if spec.group:
        used |= {"group_path_sd", "group_sd", "group_means"}
    return [name for name in DEFAULTS if name in used]


def prior_table(
    priors: PriorSet, spec: ModelSpec, settings: BayesConfig, has_missing: bool
) -> pd.DataFrame:
    """One row per prior class the model uses, then one per parameter override."""
    user = {key for key in settings.priors if not parse_key(key)}
    rows = [
        {
            "parameter": name,
            "applies to": APPLIES[name][0],
            "distribution": str(priors.classes[name]),
            "source": "user-set" if name in user else "default",
            "scale": APPLIES[name][1],
        }
        for name in used_classes(spec, settings, has_missing)
    ]
    for key, prior in priors.parameters.items():
        cls = KIND_CLASS.get(parse_key(key)[1], "loadings")
        rows.append(
            {
                "parameter": key,
                "applies to": f"this parameter (overrides {cls})",
                "distribution": str(prior),
                "source": "user-set",
                "scale": APPLIES[cls][1],
            }
        )
    return pd.DataFrame(rows, columns=PRIOR_COLUMNS)
