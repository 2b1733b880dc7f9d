"""The single-level family: one-level models of continuous items (marginal normal likelihood) or
ordinal items (ordered probit/logit on standardised latent scores, or the limited-information
normal likelihood of the polychoric correlations, `bayes.ordinal`), with posterior predictive
checks (chi-square PPP, item means, SDs, correlations or category shares) and PSIS-LOO. Latent
interactions sample the scores of the products' components (continuous items) or shift
the first-order scores' prior mean (ordinal items) and report conditional effects per draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm

from bayeslead.bayes.blocks.ordinal import check_ordinal_support
from bayeslead.bayes.capabilities import (
    keeps_item_scale,
    needs_marker_metric,
    samples_marker_metric,
)
from bayeslead.bayes.data import ContinuousData, OrdinalData, continuous_data, ordinal_data
from bayeslead.bayes.models.single.build import (
    build_continuous_model,
    build_interaction_model,
    build_ordinal_model,
    build_polychoric_model,
)
from bayeslead.bayes.models.single.limited import (
    LIMITED_INFORMATION,
    PPP_DISCREPANCY,
    choose_ordinal_estimator,
    item_polychorics,
    limited_fit_measures,
    sandwich_adjust,
    threshold_draws,
)
from bayeslead.bayes.models.single.summaries import (
    mean_draws,
    ordinal_checks,
    ppc_subset,
    predictive_checks,
    ystar_variances,
)
from bayeslead.bayes.ppc import continuous_item_checks
from bayeslead.bayes.recipe import Checks, Family, Graph, Prepared, Setup, Summary
from bayeslead.bayes.start import (
    continuous_start,
    interaction_start,
    marker_start,
    ordinal_start,
    polychoric_start,
)
from bayeslead.bayes.summaries import (
    conditional_tables,
    defined_rows,
    intercept_rows,
    marker_posterior,
    pooled_posterior,
    threshold_rows,
)
from bayeslead.config import BayesConfig
from bayeslead.core.polychoric import Polychoric
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem
from bayeslead.psychometrics.tables import (
    htmt_table,
    latent_correlation_table,
    reliability_table,
)


@dataclass(frozen=True, kw_only=True)
class SingleData(Prepared):
    """The model's items (N x p, NaN = missing), standardised (continuous) or coded (ordinal)."""

    frame: pd.DataFrame  # the responses (reliability and HTMT read the items from it)
    x: np.ndarray
    continuous: ContinuousData | None = None
    ordinal: OrdinalData | None = None
    polychoric: Polychoric | None = None  # the limited-information route (bayes.ordinal)
    ordinal_reason: str = ""  # which ordinal estimator runs and why


class SingleLevel(Family):
    """One-level SEM with continuous or ordinal indicators; a constrained model of continuous
    items is sampled on lavaan's marker metric (`bayes.capabilities`)."""

    marker_metric = True
    intercepts = True

    def prepare(self, spec: ModelSpec, data: ResponseData, settings: BayesConfig) -> SingleData:
        if spec.interactions:
            check_interaction_support(spec, data, settings)
        check_intercept_support(spec, settings)
        if settings.indicators == "ordinal":
            check_ordinal_support(spec)
            if needs_marker_metric(spec):
                raise InputError(
                    "equality constraints, freed markers and non-zero fixed values need "
                    "continuous indicators with engine: bayes (or use engine: sem)"
                )
        x = data.frame[list(spec.manifest)].to_numpy(dtype=float)
        if settings.indicators == "ordinal":
            odata = ordinal_data(x)
            setting = "full" if spec.interactions else settings.ordinal  # scores are needed
            estimator, reason = choose_ordinal_estimator(setting, len(odata.item))
            pc = None
            if estimator == "polychoric":
                pc = item_polychorics(x, list(spec.manifest), str(data.path))
            return SingleData(
                frame=data.frame, x=x, ordinal=odata, polychoric=pc, ordinal_reason=reason
            )
        constrained = samples_marker_metric(spec, settings)
        scaled = not constrained or not keeps_item_scale(spec)
        cdata = continuous_data(x, standardize=scaled, pooled=constrained)
        return SingleData(frame=data.frame, x=x, continuous=cdata)

    def build(self, setup: Setup, data: SingleData) -> Graph:
        """Continuous items and polychoric correlations enter as `pm.Data` containers (see
        `build_continuous_model`): the compiled model depends on the structure only."""
        spec, table, priors = setup.spec, setup.table, setup.priors
        if spec.interactions and data.continuous is not None:
            model = build_interaction_model(spec, table, data.continuous, priors)
            return Graph(model=model, low_rank_mass_matrix=True)
        if data.polychoric is not None:
            model = build_polychoric_model(spec, table, data.polychoric, priors)
        elif data.ordinal is not None:
            model = build_ordinal_model(spec, table, data.ordinal, priors, setup.settings.link)
            if spec.interactions:  # the diagonal metric failed the R-hat gate (README)
                return Graph(model=model, low_rank_mass_matrix=True)
        else:
            model = build_continuous_model(spec, table, data.continuous, priors)
        return Graph(model=model)

    def start(self, setup: Setup, data: SingleData, graph: Graph) -> dict[str, np.ndarray]:
        spec, table, priors = setup.spec, setup.table, setup.priors
        if spec.interactions and data.continuous is not None:
            return interaction_start(spec, table, priors, data.continuous)
        if data.polychoric is not None:
            return polychoric_start(spec, table, priors, data.polychoric.corr)
        if data.ordinal is not None:
            return ordinal_start(spec, table, priors, data.x, data.ordinal)
        if setup.on_marker_metric:
            return marker_start(spec, table, priors, data.continuous)
        return continuous_start(spec, table, priors, data.continuous)

    def stored(self, model: pm.Model) -> list[str]:
        """The sampled variables, theta and thresholds (not the per-respondent scores)."""
        names = [v.name for v in model.free_RVs if v.name != "scores"]
        return names + [n for n in ("theta", "thresholds") if n in model.named_vars]

    def summarise(self, setup: Setup, data: SingleData, graph: Graph, idata) -> Summary:
        """With the limited-information route, the draws of theta are first sandwich-adjusted
        (`limited.sandwich_adjust`; the raw ones stay in the trace as `theta_unadjusted`) and
        the thresholds drawn from their two-step estimates (`limited.threshold_draws`)."""
        if data.polychoric is not None:
            _adjust_limited_draws(setup, data.polychoric, idata)
        theta_std = idata.posterior["theta"].values
        if setup.on_marker_metric:
            theta, estimates, effects, convergence, draws = pooled_posterior(
                setup.spec, setup.marker, theta_std, data.continuous.sd[0], setup.settings.hdi_prob
            )
            estimates = _with_intercepts(setup, data, theta, idata, estimates)
            rows = pd.concat([estimates, defined_rows(effects)], ignore_index=True)
            return Summary(
                theta=theta,
                estimates=rows,
                effects=effects,
                convergence=convergence,
                effect_draws=draws,
            )
        if data.ordinal is not None:
            manifest_scale = 1.0 / np.sqrt(ystar_variances(setup.table, theta_std))
        else:
            manifest_scale = data.continuous.sd
        theta, estimates, effects, convergence, draws = marker_posterior(
            setup.spec,
            setup.table,
            setup.marker,
            theta_std,
            manifest_scale,
            setup.settings.hdi_prob,
        )
        if data.continuous is not None:
            estimates = _with_intercepts(setup, data, theta, idata, estimates)
        rows = [estimates, defined_rows(effects)]
        if data.ordinal is not None:
            rows.append(threshold_rows(idata, data.ordinal, setup.spec))
        estimates = pd.concat(rows, ignore_index=True)
        tables = {}
        if setup.spec.interactions:
            tables = conditional_tables(setup.spec, setup.marker, theta)
        return Summary(
            theta=theta,
            estimates=estimates,
            effects=effects,
            convergence=convergence,
            tables=tables,
            effect_draws=draws,
        )

    def check(
        self, setup: Setup, data: SingleData, summary: Summary, idata, diagnostics: dict
    ) -> Checks:
        """Posterior predictive checks, PSIS-LOO on request, reliability and HTMT."""
        spec, settings, marker = setup.spec, setup.settings, setup.marker
        theta_std = idata.posterior["theta"].values
        theta = summary.theta
        rng = np.random.default_rng(settings.seed)
        subset = ppc_subset(theta_std, rng)
        tables: dict[str, pd.DataFrame] = {}
        fit: dict[str, float] = {}
        problems: list[Problem] = []
        cdata = data.continuous
        if spec.interactions:
            problems.append(
                Problem(
                    "bayes",
                    "posterior predictive checks and PSIS-LOO are not computed with latent "
                    "interactions: the items are not jointly normal given the parameters",
                    "warning",
                )
            )
        elif cdata is not None:
            fit, problems = predictive_checks(setup.table, theta_std, cdata, settings, idata)
            flat = theta.reshape(-1, theta.shape[-1])[subset]
            mu = np.broadcast_to(cdata.mean, (len(subset), len(cdata.mean)))
            if not cdata.complete:
                mu = (
                    cdata.mean
                    + cdata.sd
                    * idata.posterior["intercepts"].values.reshape(-1, len(cdata.mean))[subset]
                )
            tables["ppc_items"], tables["ppc_pairs"] = continuous_item_checks(
                marker.sigma(flat), mu, data.x, list(spec.manifest), rng
            )
            fit["ppc_pairs_outside_share"] = float(tables["ppc_pairs"].outside.mean())
        else:
            if data.polychoric is not None:
                fit, problems = limited_fit_measures(setup.table, data.polychoric, theta_std, rng)
            tables["ppc_categories"] = ordinal_checks(
                setup.table, theta_std, subset, idata, data.ordinal, spec, rng
            )
            fit["ppc_categories_outside_share"] = float(tables["ppc_categories"].outside.mean())
        if settings.loo and cdata is None and not spec.interactions:
            why = (
                "the limited-information likelihood has no casewise terms"
                if data.polychoric is not None
                else "their likelihood is conditional on the latent scores"
            )
            problems.append(
                Problem(
                    "bayes.loo",
                    f"PSIS-LOO is not computed for ordinal indicators: {why}",
                    "warning",
                )
            )
        reliability = None
        if cdata is not None and spec.first_order:  # none for observed-variable path models
            mean = theta.reshape(-1, theta.shape[-1]).mean(axis=0)
            reliability = reliability_table(marker, mean, data.frame, spec)
            tables["latent_correlations"] = latent_correlation_table(marker, mean, spec)
        return Checks(
            fit=fit,
            tables=tables,
            problems=problems,
            reliability=reliability,
            htmt=htmt_table(data.frame[list(spec.items)].dropna(), spec),
        )

    def info(self, setup: Setup, data: SingleData, graph: Graph, sampler: str) -> dict:
        settings, priors = setup.settings, setup.priors
        ordinal = data.ordinal is not None
        limited = data.polychoric is not None
        ordinal_info: dict[str, str] = {}
        if limited:
            likelihood = f", {LIMITED_INFORMATION}"
            ordinal_info["ppp_discrepancy"] = PPP_DISCREPANCY
        else:
            likelihood = f", ordered {settings.link}" if ordinal else ", marginal normal likelihood"
        if ordinal:
            ordinal_info |= {
                "ordinal_estimator": "polychoric" if limited else "full",
                "ordinal_estimator_reason": data.ordinal_reason,
            }
        return {
            "estimator": f"Bayes ({settings.indicators} indicators{likelihood})",
            **ordinal_info,
            "n": int(len(data.x)),
            "identification": "lavaan's marker metric with the model's constraints, items "
            "divided by one pooled SD"
            if setup.on_marker_metric
            else "standardised latents, first loading of each construct positive; "
            "reported on lavaan's marker metric",
            "chains": settings.chains,
            "tune": settings.tune,
            "seed": settings.seed,
            "priors": {name: str(prior) for name, prior in priors.classes.items()}
            | {key: str(prior) for key, prior in priors.parameters.items()},
            "missing": "pairwise present: each polychoric correlation from the respondents who "
            "answered both items (assumes blanks missing completely at random)"
            if limited
            else "responses missing at random are left out of the likelihood"
            if ordinal
            else (
                "none (complete data)"
                if data.continuous.complete
                else "exact likelihood of each respondent's observed items (FIML)"
            ),
            "sampler": sampler,
        } | (
            {
                "interactions": "exact latent products of the sampled first-order scores (the "
                "products shift the scores' prior mean)"
                if ordinal
                else "exact latent products: the scores of the products' components are "
                "sampled, every other construct is integrated out (nutpie low-rank metric)"
            }
            if setup.spec.interactions
            else {}
        )


def _with_intercepts(
    setup: Setup, data: SingleData, theta: np.ndarray, idata, estimates: pd.DataFrame
) -> pd.DataFrame:
    """`estimates` with lavaan's `~1` rows after the parameters when the model has `~ 1`."""
    if not setup.spec.intercepts:
        return estimates
    rng = np.random.default_rng(setup.settings.seed)
    means = mean_draws(setup.spec, setup.marker, theta, data.continuous, idata, rng)
    rows = intercept_rows(setup.marker, theta, means, setup.settings.hdi_prob)
    k = len(setup.marker.params)
    return pd.concat([estimates[:k], rows, estimates[k:]], ignore_index=True)


def _adjust_limited_draws(setup: Setup, pc: Polychoric, idata) -> None:
    """Replace the trace's theta by its sandwich-adjusted draws (the raw ones are kept as
    `theta_unadjusted`) and add threshold draws from the two-step estimates."""
    posterior = idata.posterior
    raw = posterior["theta"]
    posterior["theta_unadjusted"] = raw.copy()
    posterior["theta"] = raw.copy(data=sandwich_adjust(setup.table, pc, raw.values))
    shape = raw.shape[:2]
    cuts = threshold_draws(pc, shape, np.random.default_rng(setup.settings.seed))
    posterior["thresholds"] = (("chain", "draw", "thresholds_dim"), cuts)


def check_interaction_support(spec: ModelSpec, data: ResponseData, settings: BayesConfig) -> None:
    """Latent interactions: complete responses (continuous items); ordinal items need
    first-order components (only first-order constructs have scores there)."""
    problems = []
    if settings.indicators == "ordinal":
        if settings.ordinal == "polychoric":
            problems.append(
                Problem(
                    "bayes.ordinal",
                    "latent interactions need the full-information ordinal model (the "
                    "polychoric route has no latent scores): use bayes.ordinal: full",
                )
            )
        second = {f.name for f in spec.second_order}
        for q in spec.interactions:
            if {q.left, q.right} & second:
                problems.append(
                    Problem(
                        "bayes.indicators",
                        f"'{q.name}': with ordinal indicators both components must be "
                        "first-order constructs",
                    )
                )
    elif data.has_missing:
        problems.append(
            Problem("data", "latent interactions need complete responses in this version")
        )
    if problems:
        raise InputError("The model cannot be fitted:", problems)


def check_intercept_support(spec: ModelSpec, settings: BayesConfig) -> None:
    """`~ 1` rows (lavaan's saturated mean structure) need continuous items without latent
    interactions."""
    if not spec.intercepts:
        return
    if settings.indicators == "ordinal":
        raise InputError(
            "intercepts ('~ 1') with ordinal indicators: the thresholds take their place "
            "(remove the '~ 1' lines)"
        )
    if spec.interactions:
        raise InputError(
            "intercepts ('~ 1') with latent interactions are not estimated by engine: bayes "
            "(remove the '~ 1' lines, or use engine: sem)"
        )
