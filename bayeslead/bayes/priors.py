"""Priors of the Bayesian SEM: a closed grammar, documented defaults, per-class and per-parameter overrides.

The model samples standardised items (z-scores) with standardised latent variables: every latent
(residual) variance is 1 and the first loading of each construct is positive. On that scale the
defaults are weakly informative:

| class | default | meaning on the standardised scale |
| --- | --- | --- |
| ``loadings`` | ``normal(0, 1)`` (first loading: ``halfnormal(1)``) | a latent SD moves an item by a few SDs at most |
| ``paths`` | ``normal(0, 1)`` | coefficients between standardised latents rarely exceed 2 |
| ``interactions`` | ``normal(0, 1)`` | coefficient of a latent product (`BI ~ RECO:ENV`); standardised interactions rarely exceed 0.3 |
| ``residual_sd`` | ``halfnormal(1)`` | item residual SDs below about 2 (items have SD 1) |
| ``latent_correlation`` | ``lkj(2)`` | exogenous construct correlations, mild shrinkage to 0 |
| ``residual_correlation`` | ``beta(2, 2)`` on (r + 1) / 2 | correlated residuals of items |
| ``observed_sd`` | ``halfnormal(2)`` | SD of an observed (non-item) structural variable |
| ``intercepts`` | ``normal(0, 1)`` | item means (only with missing data) |
| ``thresholds`` | ``normal(0, 1.5)`` | first cut point of each item, in units of its y* SD |
| ``threshold_gaps`` | ``lognormal(0, 1)`` | distance between consecutive cut points |
| ``slope_sd`` | ``gamma(2, 10)`` | between-cluster SD of a random slope (mean 0.2) |
| ``between_sd`` | ``gamma(2, 4)`` | between-cluster SD of a latent, two-level models (mean 0.5) |
| ``between_residual_sd`` | ``gamma(2, 8)`` | between-cluster SD of an item's residual (mean 0.25) |
| ``level3_sd`` | ``gamma(2, 6)`` | SD of a construct between level-3 units, three-level models (mean 0.33) |
| ``group_path_sd`` | ``lognormal(-1.5, 0.6)`` | SD of a path across groups, multi-group models (median 0.22) |
| ``group_sd`` | ``lognormal(0, 0.5)`` | latent (residual) SDs of the groups (log SDs zero-sum over groups; lognormal(0, sd) only) |
| ``group_means`` | ``normal(0, 1)`` | latent intercepts of the groups (zero-sum over groups; normal(0, sd) only) |
| ``group_deviation`` | ``normal(0, 0.1)`` | a group's deviation of a loading or item intercept from the groups' common value (``bayes.invariance: approximate``; variance 0.01, Muthén & Asparouhov 2013; zero-sum over groups; normal(0, sd) only) |
| ``group_free`` | ``normal(0, 1)`` | the same deviation of a parameter freed across groups (``group_partial``; ``bayes.invariance: partial`` or ``approximate``) |
| ``method_loading`` | ``halfnormal(0.5)`` | standardised loading of a common method factor on every item (`bayeslead cmv`; the prior of its absolute value: sampled signed under the reflected prior, no boundary at 0) |

The SDs of the cluster-level variance components have boundary-avoiding gamma(2, rate) priors
(Chung et al. 2013): their density vanishes at 0, which keeps posterior mass off the boundary
where half-normal priors let samplers stall (tail ESS of 114 for between item SDs on the shared
two-level data with half-normal priors).

The between-group SD of a path gets a lognormal prior (95% between 0.07 and 0.72): with two
groups and little between-group spread, gamma(2, 5) left mass near zero, where group paths and
their SD form a funnel (151 divergent transitions on simulated two-group data; none with the
lognormal).

Override a class (``priors: {paths: "normal(0, 0.5)"}``) or one parameter in lavaan notation
(``priors: {"SENS ~ TL": "normal(0.3, 0.2)", "TL =~ tle2": "normal(1, 0.5)"}``); the parameter
wins over its class. Families: normal(mu, sigma), halfnormal(sigma), student_t(nu, mu, sigma),
exponential(lam), gamma(alpha, beta), lognormal(mu, sigma), beta(alpha, beta), lkj(eta).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayeslead.core.keys import parse_key
from bayeslead.errors import InputError, Problem

FAMILIES = {
    "normal": 2,
    "halfnormal": 1,
    "student_t": 3,
    "exponential": 1,
    "gamma": 2,
    "lognormal": 2,
    "beta": 2,
    "lkj": 1,
}
POSITIVE = {"halfnormal", "exponential", "gamma", "lognormal"}
DEFAULTS = {
    "loadings": "normal(0, 1)",
    "first_loading": "halfnormal(1)",
    "paths": "normal(0, 1)",
    "interactions": "normal(0, 1)",
    "residual_sd": "halfnormal(1)",
    "latent_correlation": "lkj(2)",
    "residual_correlation": "beta(2, 2)",
    "observed_sd": "halfnormal(2)",
    "intercepts": "normal(0, 1)",
    "thresholds": "normal(0, 1.5)",
    "threshold_gaps": "lognormal(0, 1)",
    "slope_sd": "gamma(2, 10)",
    "between_sd": "gamma(2, 4)",
    "between_residual_sd": "gamma(2, 8)",
    "level3_sd": "gamma(2, 6)",
    "group_path_sd": "lognormal(-1.5, 0.6)",
    "group_sd": "lognormal(0, 0.5)",
    "group_means": "normal(0, 1)",
    "group_deviation": "normal(0, 0.1)",
    "group_free": "normal(0, 1)",
    "method_loading": "halfnormal(0.5)",
}
# A constrained model samples lavaan's marker metric on items divided by one pooled SD
# (`bayes.capabilities`): loadings are ratios of item SDs (about 0.5 to 2.5 on the tutorial
# models), paths and latent SDs are in item units, so the standardised-scale priors of loadings
# and paths are doubled in width.
MARKER_DEFAULTS = DEFAULTS | {"loadings": "normal(0, 2)", "paths": "normal(0, 2)"}
SUPPORT = {
    "loadings": "real",
    "first_loading": "positive",
    "paths": "real",
    "interactions": "real",
    "residual_sd": "positive",
    "latent_correlation": "lkj",
    "residual_correlation": "unit",
    "observed_sd": "positive",
    "intercepts": "real",
    "thresholds": "real",
    "threshold_gaps": "positive",
    "slope_sd": "positive",
    "between_sd": "positive",
    "between_residual_sd": "positive",
    "level3_sd": "positive",
    "group_path_sd": "positive",
    "group_sd": "positive",
    "group_means": "real",
    "group_deviation": "real",
    "group_free": "real",
    "method_loading": "positive",
}
_SPEC = re.compile(r"^\s*([a-z_]+)\s*\(([^()]*)\)\s*$")


@dataclass(frozen=True)
class Prior:
    family: str
    args: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.family}({', '.join(f'{a:g}' for a in self.args)})"


def parse_prior(text: str, where: str = "priors") -> Prior:
    """Parse ``family(a, b)`` with numeric arguments; raise `InputError` naming the key."""
    match = _SPEC.match(str(text))
    if not match or match.group(1) not in FAMILIES:
        known = ", ".join(f"{f}(...)" for f in FAMILIES)
        raise InputError(f"Config: {where}: cannot read prior {text!r}; use one of: {known}")
    family = match.group(1)
    try:
        args = tuple(float(a) for a in match.group(2).split(",") if a.strip())
    except ValueError:
        raise InputError(f"Config: {where}: prior {text!r} has a non-numeric argument") from None
    if len(args) != FAMILIES[family]:
        raise InputError(
            f"Config: {where}: {family} takes {FAMILIES[family]} argument(s), got {text!r}"
        )
    scale_args = {
        "normal": [1],
        "halfnormal": [0],
        "student_t": [0, 2],
        "exponential": [0],
        "gamma": [0, 1],
    }
    if any(args[i] <= 0 for i in scale_args.get(family, [])) or (
        family in ("beta", "lkj", "lognormal") and args[-1] <= 0
    ):
        raise InputError(f"Config: {where}: prior {text!r} needs positive scale/shape arguments")
    return Prior(family, args)


@dataclass(frozen=True)
class PriorSet:
    """Class defaults plus per-parameter overrides, validated against the model's parameters."""

    classes: dict[str, Prior]
    parameters: dict[str, Prior]

    def for_parameter(self, key: str, cls: str) -> Prior:
        """The prior of parameter `key` (``'lhs op rhs'``) belonging to class `cls`."""
        return self.parameters.get(key, self.classes[cls])


def prior_set(
    overrides: dict[str, str], parameter_keys: set[str], defaults: dict[str, str] = DEFAULTS
) -> PriorSet:
    """Merge config `bayes.priors` into the defaults; reject unknown classes and parameters."""
    classes = {name: parse_prior(text, f"priors.{name}") for name, text in defaults.items()}
    parameters: dict[str, Prior] = {}
    problems = []
    for key, text in overrides.items():
        parts = parse_key(key)
        if parts:
            norm = " ".join(parts)
            if norm not in parameter_keys:
                problems.append(Problem(f"bayes.priors.{key}", "not a free parameter of the model"))
                continue
            parameters[norm] = parse_prior(text, f"bayes.priors.{key}")
        elif key in DEFAULTS:
            classes[key] = parse_prior(text, f"bayes.priors.{key}")
        else:
            known = ", ".join(DEFAULTS)
            problems.append(
                Problem(
                    f"bayes.priors.{key}",
                    f"unknown prior class; use one of {known} or 'LHS op RHS'",
                )
            )
    for name, prior in classes.items():
        _check_support(name, prior, problems)
    if problems:
        raise InputError("Config: bayes.priors has problems:", problems)
    return PriorSet(classes, parameters)


def _check_support(name: str, prior: Prior, problems: list[Problem]) -> None:
    support = SUPPORT[name]
    ok = {
        "real": prior.family in ("normal", "student_t"),
        "positive": prior.family in POSITIVE,
        "lkj": prior.family == "lkj",
        "unit": prior.family == "beta",
    }[support]
    if not ok:
        problems.append(
            Problem(f"bayes.priors.{name}", f"{prior} does not fit a {support}-valued parameter")
        )
