"""Multi-group ML (`engine: sem` with `data.group`), as lavaan's ``sem(..., group = )``.

The model is fitted in every group with a mean structure (`bayeslead.core.groups`), with the
config's `group_equal` / `group_partial` (lavaan's ``group.equal`` / ``group.partial``) as
equality classes across the groups; groups in order of appearance in the data, the first the
reference group (latent means 0). Complete data: ML on each group's sample moments with
expected-information standard errors; blank responses: FIML per group (lavaan's
``missing = "ml"``) with observed information, or listwise deletion with `sem.missing:
listwise`. Estimates, effects and R-squared per group (a `group` column), fit measures with
lavaan's multi-group definitions (`bayeslead.sem.group_tables.group_fit_measures`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from bayeslead.config import SemConfig
from bayeslead.core.effects import effect_draws
from bayeslead.core.groups import GroupTable, build_group_table
from bayeslead.core.groups_ml import (
    GroupSample,
    expected_information,
    fit_groups,
    group_sample,
    observed_information,
)
from bayeslead.core.spec import ModelSpec
from bayeslead.data import ResponseData
from bayeslead.errors import InputError, Problem
from bayeslead.results import EFFECT_COLUMNS, FitResult
from bayeslead.sem.group_tables import (
    comparability,
    group_differences,
    group_fit_measures,
    mean_rows,
)
from bayeslead.sem.quality import measurement_quality
from bayeslead.sem.tables import effect_tables, estimates_table, r2_rows

MIN_GROUP = 10  # respondents below which a group cannot carry its own covariance matrix


def fit_sem_groups(spec: ModelSpec, data: ResponseData, settings: SemConfig) -> FitResult:
    """Fit `spec` in every group of `spec.group` by ML (FIML with blanks). BLAS runs on one
    thread: the matrices are small, and threads waiting for a busy core cost 10x the time."""
    with threadpool_limits(limits=1):
        return _fit(spec, data, settings)


def _fit(spec: ModelSpec, data: ResponseData, settings: SemConfig) -> FitResult:
    if spec.interactions:
        raise InputError(
            "data.group: latent interactions (A:B paths) are not estimated in multi-group "
            "models; fit each group separately or drop the interaction"
        )
    started = time.perf_counter()
    labels = data.id_column(spec.group, "group labels").astype(str)
    frame = data.frame[list(spec.manifest)]
    problems: list[Problem] = []
    use_fiml = settings.missing == "fiml" or (data.has_missing and settings.missing == "auto")
    info: dict[str, object] = {"estimator": "ML", "n_input": int(len(frame))}
    if data.has_missing and not use_fiml:
        keep = frame.notna().all(axis=1)
        frame, labels = frame[keep], labels[keep]
        dropped = info["n_input"] - len(frame)
        problems.append(
            Problem("data", f"listwise deletion dropped {dropped} incomplete rows", "warning")
        )
    groups = tuple(pd.unique(labels))
    check_group_values(spec, groups)
    samples = group_samples(frame, labels, groups, f"Data file {data.path}, column '{spec.group}'")
    table = group_table(spec, groups)
    solution = fit_groups(table, samples)
    x = solution.theta
    info |= {
        "n": int(sum(s.n for s in samples)),
        "groups": {g: s.n for g, s in zip(groups, samples, strict=True)},
        "reference_group": groups[0],
        "group_equal": list(spec.group_equal),
        "group_partial": list(spec.group_partial),
        "n_free": table.n_free,
    }
    solution.record(info, problems)
    if use_fiml:
        information = observed_information(table, x, samples)
        info["missing"] = "FIML per group (full-information ML over missing-data patterns)"
        info["se"] = "standard (observed information)"
    else:
        information = (
            expected_information(table, x, samples)
            if settings.information == "expected"
            else observed_information(table, x, samples)
        )
        info["missing"] = "none (complete data)" if info["n_input"] == info["n"] else "listwise"
        info["se"] = f"standard ({settings.information} information)"
    cov_x = invert(information, problems)
    if settings.bootstrap > 0:
        info["bootstrap"] = "not available for multi-group fits (delta-method standard errors)"
    estimates, effects = group_tables(spec, table, x, cov_x)
    problems += heywood_by_group(table, x)
    paths_ok, means_ok, sentence = comparability(table)
    info["invariance"] = sentence
    if not means_ok:
        problems.append(Problem("group comparison", sentence, "warning"))
    reliability, htmt, correlations = measurement_quality(spec, frame)
    return FitResult(
        engine="sem",
        estimates=estimates,
        effects=effects,
        fit=group_fit_measures(table, x, samples),
        info=info,
        reliability=reliability,
        htmt=htmt,
        extra_tables={
            "group_differences": group_differences(spec, table, x, cov_x, paths_ok, means_ok)
        }
        | ({} if correlations is None else {"latent_correlations": correlations}),
        problems=problems,
        timings={"estimation_s": round(time.perf_counter() - started, 3)},
        theta=x,
        theta_cov=cov_x,
    )


def group_table(spec: ModelSpec, groups: tuple[str, ...]) -> GroupTable:
    """The multi-group table of `spec`; `InputError` for a group.partial naming no parameter."""
    if "thresholds" in spec.group_equal:
        raise InputError(
            "group_equal: thresholds are parameters of ordinal items: declare them with "
            "bayes.indicators: ordinal (fitted by WLSMV) or drop 'thresholds'"
        )
    table = build_group_table(spec, groups, spec.group_equal, spec.group_partial)
    known = {"".join(k.split()) for k in table.keys}
    known |= {"~~".join(reversed(k.split("~~"))) for k in known if "~~" in k}
    unknown = [k for k in spec.group_partial if "".join(k.split()) not in known]
    if unknown:
        raise InputError(
            f"group_partial: {', '.join(unknown)} names no parameter of the model (write lavaan "
            "keys such as 'x3 ~ 1', 'visual =~ x2', 'x1 ~~ x1')"
        )
    return table


def check_group_values(spec: ModelSpec, groups: tuple[str, ...]) -> None:
    """`InputError` when a ``c(...)`` of the syntax has not one value per group."""
    wrong = [
        f"c(...) on '{s.key}' has {len(s.group_labels or s.group_fixed)} values"
        for s in spec.settings
        if len(s.group_labels or s.group_fixed) not in (0, len(groups))
    ]
    if wrong:
        raise InputError(
            f"model: {'; '.join(wrong)} for {len(groups)} groups ({', '.join(groups)}, in "
            f"the order they appear in column '{spec.group}', lavaan's order)"
        )


def group_samples(
    frame: pd.DataFrame, labels: pd.Series, groups: tuple[str, ...], where: str
) -> list[GroupSample]:
    """Each group's responses and saturated moments; `InputError` for fewer than two groups,
    a group too small for its covariance matrix or an item without variance in a group."""
    if len(groups) < 2:
        raise InputError(
            f"{where}: only one group ({groups[0]!r}); a multi-group model needs at least two "
            "(remove data.group for a single-group fit)"
        )
    samples = []
    for g in groups:
        rows = frame[(labels == g).to_numpy()]
        if len(rows) < max(MIN_GROUP, rows.shape[1] + 1):
            raise InputError(
                f"{where}: group {g!r} has {len(rows)} respondents, too few to estimate "
                f"{rows.shape[1]} items' covariances within the group; merge it with another group"
            )
        constant = [c for c in rows.columns if rows[c].nunique(dropna=True) < 2]
        if constant:
            raise InputError(
                f"{where}: in group {g!r} every respondent gave the same answer to "
                f"{', '.join(constant)}; the group's covariance matrix is singular"
            )
        samples.append(group_sample(rows.to_numpy(dtype=float)))
    return samples


def invert(information: np.ndarray, problems: list[Problem]) -> np.ndarray:
    """The sampling covariance (inverse information); NaN with a problem when singular."""
    try:
        cov = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        problems.append(
            Problem("estimation", "the information matrix is singular: no standard errors")
        )
        return np.full(information.shape, np.nan)
    if np.any(np.diag(cov) < 0):
        problems.append(
            Problem("estimation", "negative sampling variances: standard errors unreliable")
        )
    return cov


def group_tables(
    spec: ModelSpec, table: GroupTable, x: np.ndarray, cov_x: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """estimates.csv (parameters, means, `:=` rows and R-squared per group) and effects.csv,
    each with a `group` column."""
    q, base = table.q, table.base
    estimates, effects = [], []
    for g, label in enumerate(table.groups):
        k = table.expansion(g)
        phi, cov = table.local(x, g), k @ cov_x @ k.T
        theta, cov_theta = phi[:q], cov[:q, :q]
        draws = effect_draws(spec, base, theta)
        defined, effect_rows = effect_tables(spec, base, theta, cov_theta, draws, None)
        block = pd.concat(
            [
                estimates_table(base, theta, cov_theta),
                mean_rows(table, phi, cov, g),
                defined,
                r2_rows(base, theta),
            ],
            ignore_index=True,
        )
        for s in spec.settings:  # c(...) labels: this group's
            if s.group_labels:
                rows = (block.lhs == s.lhs) & (block.op == s.op) & (block.rhs == s.rhs)
                block.loc[rows, "label"] = s.group_labels[g] or ""
        block.insert(4, "group", label)
        estimates.append(block)
        if len(effect_rows):
            effect_rows.insert(3, "group", label)
            effects.append(effect_rows)
    empty = pd.DataFrame(columns=[*EFFECT_COLUMNS[:3], "group", *EFFECT_COLUMNS[3:]])
    effects_frame = pd.concat(effects, ignore_index=True) if effects else empty
    return pd.concat(estimates, ignore_index=True), effects_frame


def heywood_by_group(table: GroupTable, x: np.ndarray) -> list[Problem]:
    """Negative variance estimates, named with their group."""
    problems = []
    for g, label in enumerate(table.groups):
        theta = table.local(x, g)[: table.q]
        for p in table.base.free_params:
            if p.op == "~~" and p.lhs == p.rhs and theta[p.free] < 0:
                problems.append(
                    Problem(
                        f"{p.key} [{label}]",
                        f"Heywood case: negative variance estimate {theta[p.free]:.4f} in group "
                        f"{label!r}; the model is misspecified there or a construct has too few "
                        "or too weak indicators",
                    )
                )
    return problems
