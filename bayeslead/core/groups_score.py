"""Score (Lagrange multiplier) tests of the equality constraints of a multi-group fit, as
lavaan's ``lavTestScore``: which equal parameters to free for partial invariance.

The constrained model's global parameters are spread back to one parameter per group and local
parameter (the unconstrained vector theta), with the equality constraints as rows of R
(``theta_a - theta_b = 0``). With the unit information I of theta and the score s (gradient of
logL / N) at the constrained estimates, the statistic for releasing a set of constraints is
``N s' P s``, P the upper-left block of the generalised inverse of ``[[I, R_0'], [R_0, 0]]`` and
R_0 the constraints kept; releasing all gives lavaan's total test, one constraint its univariate
test (1 df), and all constraints of one parameter (G - 1 of them) the test of freeing that
parameter in every group. Expected information on complete data, observed information (numerical
derivatives of the analytic score) with blank responses, as the fit's standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from bayeslead.core.groups import GroupTable
from bayeslead.core.groups_ml import GroupSample, unit_information
from bayeslead.core.mvnorm import minus2_loglik


@dataclass(frozen=True)
class ScoreTest:
    """One released set of constraints: the parameter (lavaan key), its group.equal keyword,
    the statistic, its df and p-value."""

    parameter: str
    keyword: str
    x2: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class ScoreTests:
    total: ScoreTest  # every equality constraint released at once
    parameters: list[ScoreTest]  # one per constrained parameter, largest statistic first


def score_tests(table: GroupTable, x: np.ndarray, samples: list[GroupSample]) -> ScoreTests:
    """lavaan's score tests of every equality constraint across groups (module docstring)."""
    nodes = [(g, k) for g in range(table.n_groups) for k in np.flatnonzero(table.index[g] >= 0)]
    position = {node: i for i, node in enumerate(nodes)}
    n = sum(s.n for s in samples)
    size = len(nodes)
    info = np.zeros((size, size))
    score = np.zeros(size)
    for g, sample in enumerate(samples):
        local = table.local(x, g)
        free = np.flatnonzero(table.index[g] >= 0)
        rows = np.array([position[(g, k)] for k in free])
        gradient = _local_gradient(table, local, sample)
        if sample.complete:
            block = unit_information(table, local)
        else:
            block = _observed_unit_information(table, local, sample)
        info[np.ix_(rows, rows)] = sample.n / n * block[np.ix_(free, free)]
        score[rows] = -0.5 * gradient[free] / n
    classes = np.array([table.index[g, k] for g, k in nodes])
    constraints, owner = equality_rows(classes)
    if not len(constraints):
        return ScoreTests(ScoreTest("", "", 0.0, 0, float("nan")), [])
    tests = []
    for j in dict.fromkeys(owner):
        value = release_statistic(info, score, n, constraints[owner != j])
        df = int(np.sum(owner == j))
        _, k = nodes[int(np.flatnonzero(classes == j)[0])]
        tests.append(ScoreTest(table.keys[k], table.keywords[k], value, df, chi2_p(value, df)))
    tests.sort(key=lambda t: -t.x2)
    total = release_statistic(info, score, n, constraints[:0])
    return ScoreTests(ScoreTest("(all)", "", total, len(owner), chi2_p(total, len(owner))), tests)


def equality_rows(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The equality constraints of nodes sharing a class (a global free index): rows of R
    (``theta_first - theta_other = 0``, one per other member) and the class of each row."""
    rows, owner = [], []
    for j in dict.fromkeys(classes.tolist()):
        members = np.flatnonzero(classes == j)
        for other in members[1:]:
            row = np.zeros(len(classes))
            row[members[0]], row[other] = 1.0, -1.0
            rows.append(row)
            owner.append(j)
    return np.array(rows).reshape(-1, len(classes)), np.array(owner, dtype=int)


def release_statistic(info: np.ndarray, score: np.ndarray, n: int, kept: np.ndarray) -> float:
    """lavaan's score statistic ``N s' P s`` for releasing every restriction not in `kept`:
    P the upper-left block of the generalised inverse of ``[[I, R'], [R, 0]]`` (R = `kept`,
    rows over the unconstrained parameters; nothing kept: the generalised inverse of I)."""
    m, size = kept.shape[0], len(score)
    bordered = np.block([[info, kept.T], [kept, np.zeros((m, m))]]) if m else info
    p = np.linalg.pinv(bordered)[:size, :size]
    return float(n * score @ p @ score)


def chi2_p(x2: float, df: int) -> float:
    """The chi-square p-value of a score statistic (NaN without df)."""
    return float(stats.chi2.sf(x2, df)) if df > 0 else float("nan")


def _local_gradient(table: GroupTable, phi: np.ndarray, sample: GroupSample) -> np.ndarray:
    """Gradient of the group's -2 logL with respect to its local parameters."""
    sigma, mu, d_sigma, d_mu = table.jacobian(phi)
    _, g_sigma, g_mu = minus2_loglik(sigma, mu, sample.patterns)
    return np.einsum("ij,kij->k", g_sigma, d_sigma) + d_mu @ g_mu


def _observed_unit_information(
    table: GroupTable, phi: np.ndarray, sample: GroupSample
) -> np.ndarray:
    """Half the Hessian of the group's -2 logL per respondent (central differences)."""
    size = len(phi)
    hess = np.empty((size, size))
    for k in range(size):
        h = 1e-5 * max(1.0, abs(phi[k]))
        up, down = phi.copy(), phi.copy()
        up[k] += h
        down[k] -= h
        hess[:, k] = (_local_gradient(table, up, sample) - _local_gradient(table, down, sample)) / (
            2 * h
        )
    return 0.25 * (hess + hess.T) / sample.n
