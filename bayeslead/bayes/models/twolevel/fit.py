"""The two-level family (continuous or ordinal indicators, optionally a third level): cluster
checks, the recipe's steps, and start values. Its graph is in `build.py` (`ordinal.py`,
`level3.py` for the add-ons), its own tables in `summaries.py`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm

from bayeslead.bayes.blocks.ordinal import check_ordinal_support, refuse_limited_information
from bayeslead.bayes.data import ContinuousData, OrdinalData, continuous_data, ordinal_data
from bayeslead.bayes.kernels.twolevel import ClusterMoments, cluster_moments
from bayeslead.bayes.models.twolevel.blanks import (
    Blanks,
    missing_statement,
    moments_with_blanks,
    rows_used,
)
from bayeslead.bayes.models.twolevel.build import (
    build_twolevel_model,
    slope_positions,
    twolevel_start,
)
from bayeslead.bayes.models.twolevel.covariates import (
    Covariates,
    covariate_data,
    covariate_rows,
    intercept_shift,
    lavaan_syntax,
    level_effect_rows,
    level_theta,
    level_variables,
)
from bayeslead.bayes.models.twolevel.latent_means import Z_NAME, latent_mean_start
from bayeslead.bayes.models.twolevel.level3 import (
    Level3,
    level3_rows,
    level3_start,
    level3_units,
    level3_variances,
)
from bayeslead.bayes.models.twolevel.ordinal import (
    build_ordinal_twolevel_model,
    ordinal_twolevel_start,
)
from bayeslead.bayes.models.twolevel.summaries import (
    between_theta,
    cluster_effects,
    divergence_levels,
    icc_table,
    intercept_rows,
    latent_covariances,
    level_effects,
    level_estimates,
    ystar_sd,
)
from bayeslead.bayes.recipe import Checks, Family, Graph, Prepared, Setup, Summary, fixed_table
from bayeslead.bayes.summaries import threshold_rows
from bayeslead.config import BayesConfig
from bayeslead.core.partable import marker_scales, rescale
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem

SCORES = (
    "scores",
    "between_z",
    "slope_free",
    Z_NAME,  # latent cluster means of covariates at both levels
)  # per-respondent and per-cluster latent scores (ordinal)


def check_clusters(data: ResponseData, column: str) -> tuple[np.ndarray, list[Problem]]:
    """Cluster ids of the complete rows; errors for unusable cluster columns."""
    ids = data.id_column(column, "cluster ids")
    where = f"Data file {data.path}, column '{column}'"
    sizes = ids.value_counts()
    if (sizes == 1).all():
        raise InputError(
            f"{where}: every cluster has a single respondent, so between- and within-cluster parts "
            "cannot be separated; fit a single-level model (remove data.cluster)"
        )
    problems = []
    if (sizes == 1).mean() > 0.5:
        problems.append(
            Problem(
                column,
                f"{int((sizes == 1).sum())} of {len(sizes)} clusters have one respondent: they inform the "
                "between level only, and random slopes are estimated from the larger clusters",
                "warning",
            )
        )
    return ids.to_numpy(), problems


@dataclass(frozen=True, kw_only=True)
class TwoLevelData(Prepared):
    """The rows used (`keep`), their items, cluster ids and index, standardised (continuous, with
    the cluster moments and the blank answers' layout) or coded (ordinal)."""

    source: ResponseData
    ids: np.ndarray  # cluster id of every row of the data
    keep: np.ndarray  # rows used: any response and no blank covariate
    left_out: dict[str, list[int]] = field(default_factory=dict)  # file rows by reason
    x: np.ndarray
    labels: np.ndarray  # cluster ids, in order
    cluster: np.ndarray  # each kept row's cluster as an index into labels
    continuous: ContinuousData | None = None
    moments: ClusterMoments | None = None
    blanks: Blanks | None = None  # continuous items' blank answers, integrated out
    ordinal: OrdinalData | None = None
    covariates: Covariates = field(default_factory=Covariates)


@dataclass(frozen=True, kw_only=True)
class TwoLevelGraph(Graph):
    """The model with its random-slope positions and third level."""

    positions: list[tuple[int, int]]
    level3: Level3 | None = None


class TwoLevel(Family):
    """Respondents in clusters: within and between structures, random slopes, a third level."""

    def prepare(self, spec: ModelSpec, data: ResponseData, settings: BayesConfig) -> TwoLevelData:
        ordinal = settings.indicators == "ordinal"
        refuse_limited_information(settings, "two-level")
        if spec.observed and (ordinal or spec.level3):
            raise InputError(
                "Config: observed: observed covariates in two-level models "
                f"({', '.join(spec.observed)}) need continuous indicators and two levels "
                "(no data.level3) in this version"
            )
        if ordinal:
            check_ordinal_support(spec)
        ids, problems = check_clusters(data, spec.cluster)
        frame, k = data.frame[list(spec.manifest)], len(spec.items)
        keep, dropped, left_out = rows_used(frame, k, data.first_row)
        levels = ((), (), ())
        if spec.observed:  # which covariates have a between part, on the rows used
            where = f"Data file {data.path}"
            levels = level_variables(spec, frame[keep], ids[keep], settings, where)
        problems += dropped
        x = frame.to_numpy(dtype=float)[keep]
        labels, cluster = np.unique(ids[keep], return_inverse=True)
        common = dict(
            problems=problems, source=data, ids=ids, keep=keep, x=x, labels=labels, cluster=cluster
        )
        common["left_out"] = left_out
        if ordinal:
            return TwoLevelData(**common, ordinal=ordinal_data(x))
        cdata = continuous_data(x)
        covariates = Covariates()
        if spec.observed:
            covariates = covariate_data(spec, *levels, cdata.z, x, cdata.mean, cdata.sd, ids[keep])
        z = cdata.z[:, :k]
        if np.isnan(z).any():  # level-1 covariates: (N, 0) without
            moments, blanks = moments_with_blanks(z, ids[keep], cdata.z[:, covariates.level1_cols])
        else:
            moments, blanks = cluster_moments(z, ids[keep]), None
        return TwoLevelData(
            **common, continuous=cdata, moments=moments, blanks=blanks, covariates=covariates
        )

    def fixed_values(self, data: TwoLevelData) -> tuple[dict, dict]:
        """The covariates' (co)variances at their sample values (lavaan's fixed.x)."""
        return data.covariates.fixed_std, data.covariates.fixed_marker

    def build(self, setup: Setup, data: TwoLevelData) -> TwoLevelGraph:
        spec, table, priors, settings = setup.spec, setup.table, setup.priors, setup.settings
        positions = slope_positions(spec, table, settings.random_slopes)
        if data.ordinal is not None:
            if spec.level3:
                raise InputError(
                    "bayes.indicators: a third level (data.level3) supports continuous indicators "
                    "in this version; use indicators: continuous or remove data.level3"
                )
            model = build_ordinal_twolevel_model(
                spec,
                table,
                data.ordinal,
                data.cluster,
                data.labels,
                priors,
                positions,
                settings.between_paths,
                settings.link,
            )
            return TwoLevelGraph(model=model, positions=positions)
        level3, problems = None, []
        if spec.level3:
            level3, problems = level3_units(data.source, spec.level3, data.ids, data.moments.labels)
        if data.covariates.level1 and positions:
            raise InputError(
                "bayes.random_slopes: random slopes with covariates that vary within clusters "
                f"({', '.join(data.covariates.level1)}) are not estimated by engine: bayes yet"
            )
        model = build_twolevel_model(
            spec,
            table,
            data.moments,
            priors,
            positions,
            settings.between_paths,
            level3,
            data.covariates,
            data.blanks,
        )
        # nutpie's low-rank metric: with the diagonal one the bundled firm study
        # (configs/tl_dc_bi_hierarchical.yaml) failed the ESS gate (bulk ESS 359 on a residual
        # variance of the two-indicator second-order BI); low-rank: 1,135, R-hat 1.004 (README).
        return TwoLevelGraph(
            model=model,
            problems=problems,
            positions=positions,
            level3=level3,
            low_rank_mass_matrix=True,
        )

    def start(
        self, setup: Setup, data: TwoLevelData, graph: TwoLevelGraph
    ) -> dict[str, np.ndarray]:
        spec, table, priors, settings = setup.spec, setup.table, setup.priors, setup.settings
        if data.ordinal is not None:
            return ordinal_twolevel_start(
                spec,
                table,
                priors,
                data.x,
                data.ordinal,
                data.cluster,
                graph.positions,
                settings.between_paths,
            )
        initial = twolevel_start(
            spec,
            table,
            priors,
            settings.between_paths,
            data.continuous,
            data.moments,
            graph.positions,
        )
        if data.covariates.both:
            initial |= latent_mean_start(
                spec, table, data.covariates.latent, settings.between_paths
            )
        if graph.level3:
            initial |= level3_start(table, graph.level3)
        return initial

    def stored(self, model: pm.Model) -> list[str]:
        """The sampled variables but the latent scores, and the between-level deterministics."""
        stored = ("theta", "beta_between", "psi_between", "slope_corr", "covariate_paths_between")
        stored += ("slopes", "thresholds", "latent_sd")  # ordinal
        return [v.name for v in model.free_RVs if v.name not in SCORES] + [
            n for n in stored if n in model.named_vars
        ]

    def summarise(self, setup: Setup, data: TwoLevelData, graph: TwoLevelGraph, idata) -> Summary:
        spec, table, marker, settings = setup.spec, setup.table, setup.marker, setup.settings
        positions, level3 = graph.positions, graph.level3
        post = idata.posterior
        p = table.n_manifest
        theta_std = post["theta"].values
        ordinal = data.ordinal is not None
        if ordinal:
            scales = marker_scales(table, theta_std, 1.0 / ystar_sd(table, theta_std, post))
            theta_b = np.zeros((*theta_std.shape[:-1], p))
            level_rows = threshold_rows(idata, data.ordinal, spec)
        else:
            scales = marker_scales(table, theta_std, data.continuous.sd)
            theta_b = post["between_residual_sd"].values ** 2
            level_rows = intercept_rows(marker, data.continuous, post, settings.hdi_prob)
        reported = rescale(table, marker, theta_std, scales)
        covariates = data.covariates
        between = between_theta(
            table, marker, theta_std, post, scales, theta_b, covariates.both_cols
        )
        between_marker = fixed_table(marker, covariates.latent.between)
        within = level_theta(marker, reported, covariates.between)
        between = level_theta(marker, between, covariates.within)
        if not ordinal and covariates.names:
            shift = intercept_shift(
                marker, within, between, covariates, data.continuous.mean, len(spec.items)
            )
            level_rows = intercept_rows(marker, data.continuous, post, settings.hdi_prob, shift)
        estimates, conv = level_estimates(
            marker,
            within,
            between,
            level_rows,
            post,
            positions,
            table,
            scales,
            settings.hdi_prob,
            between_residuals=not ordinal,
            between_marker=between_marker,
        )
        if covariates.names:
            estimates, conv = covariate_rows(estimates, conv, marker, covariates)
        upper = None
        if level3:
            rows, level3_conv = level3_rows(table, post, scales, settings.hdi_prob)
            estimates = pd.concat([estimates, rows[estimates.columns]], ignore_index=True)
            conv = pd.concat([conv, level3_conv])
            upper = level3_variances(table, post).reshape(-1, len(table.variables) - p)
        effects, effect_conv = level_effects(
            spec,
            marker,
            within,
            between,
            post,
            positions,
            table,
            scales,
            settings.hdi_prob,
            between_marker,
        )
        if covariates.names:
            effects, effect_conv = level_effect_rows(effects, effect_conv, spec, covariates)
        icc = icc_table(
            *latent_covariances(table, theta_std, post, positions),
            list(table.variables[p:]),
            upper,
        )
        tables = {"icc": icc}
        if settings.cluster_effects and positions:
            tables["cluster_effects"] = cluster_effects(
                spec, marker, within, post, positions, table, scales, data.labels
            )
        return Summary(
            theta=reported,
            estimates=estimates,
            effects=effects,
            convergence=pd.concat([conv, effect_conv]),
            tables=tables,
        )

    def check(
        self, setup: Setup, data: TwoLevelData, summary: Summary, idata, diagnostics: dict
    ) -> Checks:
        """Which level divergent transitions come from, when there are any."""
        if not diagnostics["divergences"]:
            return Checks()
        return Checks(problems=[Problem("diagnostics", divergence_levels(idata), "warning")])

    def info(self, setup: Setup, data: TwoLevelData, graph: TwoLevelGraph, sampler: str) -> dict:
        spec, settings, priors = setup.spec, setup.settings, setup.priors
        ordinal = data.ordinal is not None
        info = {
            "estimator": (
                f"Bayes (two-level, ordinal indicators, ordered {settings.link} on explicit "
                "standardised latent scores)"
                if ordinal
                else "Bayes (two-level, continuous indicators, marginal normal likelihood per cluster)"
            ),
            "n": int(data.keep.sum()),
            "clusters": len(data.labels),
            "cluster_size_mean": float(data.keep.sum() / len(data.labels)),
            "random_slopes": [f"{o} ~ {p_}" for p_, o in settings.random_slopes],
            "between_paths": settings.between_paths,
            "sampler": sampler,
            "chains": settings.chains,
            "tune": settings.tune,
            "seed": settings.seed,
            "missing": missing_statement(ordinal, data.blanks, int((~data.keep).sum())),
            "priors": {name: str(prior) for name, prior in priors.classes.items()},
        }
        info |= {"rows_left_out": data.left_out} if data.left_out else {}  # file rows by reason
        if data.covariates.names:
            info["covariates"] = {
                "within_only": list(data.covariates.within),
                "between_only": list(data.covariates.between),
                "within_and_between": list(data.covariates.both),
                "fixed_x": "(co)variances and means at the sample values (at both levels: lavaan's h1)",
            }
            info["lavaan_syntax"] = lavaan_syntax(spec, data.covariates)
        if graph.level3:
            info["level3"] = (
                f"{spec.level3} ({len(graph.level3.labels)} units; construct intercepts)"
            )
        if ordinal:
            info["between_item_residuals"] = (
                "fixed at 0: items vary between clusters only through their constructs"
            )
            info["thresholds"] = "in units of each item's total y* SD at the mean slopes"
        return info
