"""The multi-group family: the recipe's steps, start values and the grouped chi-square PPP. Its
graph (and the invariance it assumes) is in `build.py` (continuous items) and `ordinal.py`
(ordinal items), its per-group tables in `summaries.py`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from bayeslead.bayes.blocks.ordinal import (
    check_ordinal_support,
    cut_items,
    refuse_limited_information,
)
from bayeslead.bayes.blocks.parameters import initial_values
from bayeslead.bayes.models.multigroup.build import GroupData, build_multigroup_model, group_data
from bayeslead.bayes.models.multigroup.invariance import (
    Deviations,
    deviation_plan,
    deviation_table,
)
from bayeslead.bayes.models.multigroup.ordinal import (
    OrdinalGroups,
    build_ordinal_multigroup_model,
    ordinal_groups,
    ordinal_multigroup_start,
)
from bayeslead.bayes.models.multigroup.refit import refit_search
from bayeslead.bayes.models.multigroup.summaries import (
    group_differences,
    group_effects,
    group_estimates,
    group_thetas,
    tagged,
)
from bayeslead.bayes.ppc import grouped_chisq_ppp
from bayeslead.bayes.priors import PriorSet
from bayeslead.bayes.recipe import Checks, Family, Graph, Prepared, Setup, Summary
from bayeslead.bayes.start import ml_on_z
from bayeslead.bayes.summaries import defined_rows
from bayeslead.config import BayesConfig, DiagnosticsConfig
from bayeslead.core.partable import ParameterTable, marker_scales, rescale
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import Problem
from bayeslead.phases import Phases
from bayeslead.psychometrics.tables import htmt_table, reliability_table
from bayeslead.results import FitResult


@dataclass(frozen=True, kw_only=True)
class MultiGroupData(Prepared):
    """The items (N x p) and group labels of every row, and the groups' rows for the likelihood
    (continuous items: `data`; ordinal items: `ordinal`)."""

    frame: pd.DataFrame  # the responses (reliability and HTMT read the items from it)
    x: np.ndarray
    groups: pd.Series  # each row's group label
    data: GroupData | None = None
    ordinal: OrdinalGroups | None = None

    @property
    def groups_of(self) -> GroupData | OrdinalGroups:
        """The group structure (labels, counts) of whichever items the model has."""
        return self.ordinal if self.ordinal is not None else self.data


@dataclass(frozen=True, kw_only=True)
class MultiGroupSummary(Summary):
    """The summary with every group's draws on lavaan's metric."""

    by_group: list[np.ndarray]


class MultiGroup(Family):
    """One measurement model, structural paths partially pooled across groups; continuous
    items (marginal normal likelihood) or ordinal items (`ordinal.py`)."""

    def fit(
        self,
        spec: ModelSpec,
        data: ResponseData,
        settings: BayesConfig,
        gates: DiagnosticsConfig,
        progress: bool = True,
        phases: Phases | None = None,
    ) -> FitResult:
        """The recipe; approximate invariance then searches for the non-invariant items
        (`refit.py`: flagged items freed and the model refitted, `bayes.refit`), the phases'
        times summed over every fit."""
        phases = phases or Phases(show=progress)
        once = partial(
            super().fit, data=data, settings=settings, gates=gates, progress=progress, phases=phases
        )
        first = once(spec)
        if settings.invariance != "approximate":
            return first
        return refit_search(once, spec, first, settings.refit, phases.note)

    def prepare(self, spec: ModelSpec, data: ResponseData, settings: BayesConfig) -> MultiGroupData:
        refuse_limited_information(settings, "multi-group")
        x = data.frame[list(spec.manifest)].to_numpy(dtype=float)
        labels = data.id_column(spec.group, "group labels")
        where = f"Data file {data.path}, column '{spec.group}'"
        if settings.indicators == "ordinal":
            check_ordinal_support(spec)
            odata, problems = ordinal_groups(x, labels, where)
            problems += _loo_problem(settings)
            return MultiGroupData(
                problems=problems,
                frame=data.frame,
                x=x,
                groups=data.clusters[spec.group],
                ordinal=odata,
            )
        gdata, problems = group_data(x, labels, where)
        problems += _loo_problem(settings)
        return MultiGroupData(
            problems=problems, frame=data.frame, x=x, groups=data.clusters[spec.group], data=gdata
        )

    def build(self, setup: Setup, data: MultiGroupData) -> Graph:
        spec, table, priors = setup.spec, setup.table, setup.priors
        plan = plan_of(setup, data)
        if data.ordinal is not None:
            model = build_ordinal_multigroup_model(
                spec, table, data.ordinal, priors, plan, setup.settings.link
            )
        else:
            model = build_multigroup_model(spec, table, data.data, priors, plan)
        return Graph(model=model)

    def start(self, setup: Setup, data: MultiGroupData, graph: Graph) -> dict[str, np.ndarray]:
        spec, table, priors = setup.spec, setup.table, setup.priors
        if data.ordinal is not None:
            initial = ordinal_multigroup_start(spec, table, priors, data.x, data.ordinal)
        else:
            initial = multigroup_start(spec, table, priors, data.data)
        return {k: v for k, v in initial.items() if k in graph.model.named_vars}

    def stored(self, model: pm.Model) -> list[str]:
        """The sampled variables (not the per-respondent scores of ordinal items), theta, the
        population paths and the groups' thresholds."""
        names = [v.name for v in model.free_RVs if v.name != "scores"]
        derived = ("theta", "population_paths", "thresholds", "group_thresholds")
        return names + [n for n in derived if n in model.named_vars]

    def summarise(
        self, setup: Setup, data: MultiGroupData, graph: Graph, idata
    ) -> MultiGroupSummary:
        spec, table, marker = setup.spec, setup.table, setup.marker
        gdata, hdi = data.groups_of, setup.settings.hdi_prob
        item_sd = None if data.data is None else data.data.sd  # ordinal: y* (theta) metric
        post = idata.posterior
        theta_std = post["theta"].values
        scales = marker_scales(table, theta_std, item_sd)
        pooled = rescale(table, marker, theta_std, scales)
        plan = plan_of(setup, data)
        by_group, group_scales = group_thetas(spec, table, marker, post, scales, plan, item_sd)
        thresholds = None
        if data.ordinal is not None:
            keys = data.ordinal.threshold_keys(list(spec.manifest))
            thresholds = (keys, cut_items(data.ordinal.codes), post["group_thresholds"].values)
        estimates, conv = group_estimates(
            spec,
            table,
            marker,
            pooled,
            by_group,
            post,
            scales,
            gdata,
            hdi,
            group_scales,
            plan,
            thresholds,
        )
        effects, effect_conv = group_effects(spec, marker, pooled, by_group, gdata, hdi)
        defined = [
            tagged(defined_rows(frame.drop(columns="group")), label)
            for label, frame in effects.groupby("group", sort=False)
        ]
        estimates = pd.concat([estimates, *defined], ignore_index=True)
        differences = group_differences(spec, marker, by_group, post, group_scales, gdata, hdi)
        tables = {"group_differences": differences}
        deviations, deviation_conv = deviation_table(plan, post, gdata.labels, hdi)
        if plan.any:
            tables["invariance_deviations"] = deviations
        return MultiGroupSummary(
            theta=pooled,
            estimates=estimates,
            effects=effects,
            convergence=pd.concat([conv, effect_conv, deviation_conv]),
            tables=tables,
            by_group=by_group,
        )

    def check(
        self,
        setup: Setup,
        data: MultiGroupData,
        summary: MultiGroupSummary,
        idata,
        diagnostics: dict,
    ) -> Checks:
        """Grouped chi-square PPP (complete data), each group's draws in the InferenceData,
        reliability and HTMT."""
        spec, marker, gdata = setup.spec, setup.marker, data.groups_of
        fit = {}
        if data.data is not None and not np.isnan(data.data.z).any():
            fit = grouped_ppp(
                marker, summary.by_group, data.x, data.groups, data.data, setup.settings.seed
            )
        idata.posterior["group_estimate"] = xr.DataArray(
            np.stack(summary.by_group, axis=2),
            dims=("chain", "draw", "group", "estimate_dim"),
            coords={"group": gdata.labels, "estimate_dim": [q.key for q in marker.free_params]},
        )
        flat = summary.theta.reshape(-1, summary.theta.shape[-1])
        reliability = None
        if data.data is not None:
            reliability = reliability_table(marker, flat.mean(axis=0), data.frame, spec)
        return Checks(
            fit=fit,
            reliability=reliability,
            htmt=htmt_table(data.frame[list(spec.items)].dropna(), spec),
        )

    def info(self, setup: Setup, data: MultiGroupData, graph: Graph, sampler: str) -> dict:
        settings, priors, gdata = setup.settings, setup.priors, data.groups_of
        ordinal = data.ordinal is not None
        return {
            "estimator": f"Bayes (multi-group, ordered {settings.link} per group, latent scores "
            "sampled)"
            if ordinal
            else "Bayes (multi-group, continuous indicators, marginal normal likelihood per group)",
            "n": int(gdata.counts.sum()),
            "groups": dict(zip(gdata.labels, gdata.counts.tolist(), strict=True)),
            "reference_group": gdata.labels[0],
            "invariance": invariance_text(setup, ordinal),
            "pooling": "structural paths partially pooled across groups (beta_g ~ N(beta, tau))",
            "hypotheses": "evaluated on the pooled (population-mean) paths; see group_differences.csv",
            "identification": ORDINAL_IDENTIFICATION
            if ordinal
            else "reference group's latents standardised, first loading of each "
            "construct positive; reported on lavaan's marker metric",
            "sampler": sampler,
            "chains": settings.chains,
            "tune": settings.tune,
            "seed": settings.seed,
            "missing": "responses missing at random are left out of the likelihood"
            if ordinal
            else "exact likelihood per missing-data pattern within each group",
            "fit": "none for ordinal items"
            if ordinal
            else "chi-square PPP summed over groups (complete data only)",
            "priors": {name: str(prior) for name, prior in priors.classes.items()}
            | {key: str(prior) for key, prior in priors.parameters.items()},
        }


ORDINAL_IDENTIFICATION = (
    "Wu & Estabrook (2016), theta parameterisation: y* intercepts 0 and residual variances 1 in "
    "every group, thresholds and loadings equal (or deviating, bayes.invariance), latent means "
    "and variances free in all but the reference group (sampled zero-sum over groups); reported "
    "on lavaan's marker metric, latent means and thresholds on the reference group's origin"
)


def _loo_problem(settings: BayesConfig) -> list[Problem]:
    if not settings.loo:
        return []
    return [Problem("bayes.loo", "PSIS-LOO is not computed for multi-group fits", "warning")]


def plan_of(setup: Setup, data: MultiGroupData) -> Deviations:
    """Which loadings, intercepts or thresholds deviate across groups (`invariance.py`)."""
    thresholds = None
    if data.ordinal is not None:
        thresholds = data.ordinal.threshold_keys(list(setup.spec.manifest))
    return deviation_plan(
        setup.spec, setup.table, setup.priors, setup.settings.invariance, thresholds
    )


def grouped_ppp(
    marker: ParameterTable,
    by_group: list[np.ndarray],
    x: np.ndarray,
    groups: pd.Series,
    data: GroupData,
    seed: int,
) -> dict[str, float]:
    """Chi-square PPP summed over the groups (complete data; raw metric)."""
    labels = groups.astype(str).to_numpy()
    sigmas, scatters = [], []
    for label, theta in zip(data.labels, by_group, strict=True):
        rows = x[labels == label]
        centred = rows - rows.mean(axis=0)
        scatters.append(centred.T @ centred)
        sigmas.append(marker.sigma(theta.reshape(-1, theta.shape[-1])))
    rng = np.random.default_rng(seed)
    return grouped_chisq_ppp(sigmas, scatters, list(data.counts), rng)


def multigroup_start(
    spec: ModelSpec, table: ParameterTable, priors: PriorSet, data: GroupData
) -> dict:
    """Pooled ML estimates for the shared parameters; groups start equal to the pooled model."""
    _, theta, mean = ml_on_z(spec, data.z)
    initial = initial_values(spec, table, priors, theta)
    m = len(table.variables) - table.n_manifest
    # the pooled z-scores have mean 0, where the gradient of the intercepts vanishes (nutpie
    # refuses exactly zero gradients)
    initial["intercepts"] = np.full(table.n_manifest, 0.01) if mean is None else mean
    initial["group_sd"] = np.zeros((m, len(data.labels)))  # log SDs
    initial["group_means"] = np.zeros((m, len(data.labels)))
    if spec.regressions:
        paths = np.array([theta[table.index(r.key)] for r in spec.regressions])
        initial["group_paths"] = np.tile(paths, (len(data.labels), 1))
        initial["group_path_sd"] = np.full(len(paths), 0.2)
        initial["population_z"] = np.full(len(paths), 0.1)  # nutpie refuses zero gradients
    return initial


def invariance_text(setup: Setup, ordinal: bool = False) -> str:
    """What the fit held equal across groups (info.json's `invariance`)."""
    mode = setup.settings.invariance
    freed = ", ".join(setup.spec.group_partial)
    residuals = "item residual variances equal across groups"
    items = "item intercepts"
    if ordinal:
        residuals = "y* intercepts 0 and residual variances 1 in every group (Wu & Estabrook 2016)"
        items = "thresholds"
    if mode == "full":
        return f"loadings, {items} and {residuals}"
    prior = setup.priors.classes
    if mode == "partial":
        return (
            f"loadings and {items} equal across groups except {freed} (deviations "
            f"{prior['group_free']}); {residuals}"
        )
    exempt = f"; {freed} freed ({prior['group_free']})" if freed else ""
    return (
        f"approximate: every loading and {items[:-1]} deviates by group from the groups' "
        f"common value, deviations {prior['group_deviation']} on the standardised scale "
        f"(zero-sum over groups){exempt}; {residuals}"
    )
