"""Score tests of a multi-group WLSMV fit, as lavaan 0.6-14's ``lavTestScore`` and
``modindices`` on the fitted model (what researchers rank the parameters to free by).

lavaan has no robust score test for WLSMV: ``lavTestScore`` warns "se is not `standard'; not
implemented yet; falling back to ordinary score test" and computes, like ``modindices``,
``N g' P g`` (`bayeslead.core.groups_score.release_statistic`, the same code as the ML ladder's)
with g lavaan's DWLS gradient over the unconstrained parameters (one per group and local
parameter), ``g_g = -(n_g - 1) / N Delta_g' W_g (s_g - sigma_g)``, and the expected information
``sum_g n_g / N Delta_g' W_g Delta_g`` (W_g the diagonal DWLS weights, Delta_g the derivatives of
group g's thresholds and polychorics in its local parameters). A candidate releases what the model
with it added to ``group_partial`` no longer restricts: its equality constraints across groups
(lavTestScore's univariate test; with two groups one constraint, 1 df) or, for a parameter the
level fixes in every group (the intercepts of the scalar level, 0 under Wu & Estabrook's
identification; residual variances of the theta strict level), its value in the other groups
(modindices' ``mi``). The total releases every equality constraint (lavTestScore's total test).
"""

from __future__ import annotations

import numpy as np

from bayeslead.core.groups_score import (
    ScoreTest,
    ScoreTests,
    chi2_p,
    equality_rows,
    release_statistic,
)
from bayeslead.sem.ordinal_table import OrdinalTable
from bayeslead.sem.wlsmv import OrdinalSample


def wlsmv_score_tests(
    table: OrdinalTable,
    x: np.ndarray,
    samples: list[OrdinalSample],
    candidates: dict[str, OrdinalTable],
) -> ScoreTests:
    """The score test of every candidate (a key of `table` -> the table with the key added to
    group_partial), largest first, and the total test of every equality constraint of `table` at estimates `x`.
    """
    n_total = sum(s.n for s in samples)
    gradients, blocks = [], []
    for g, sample in enumerate(samples):
        phi = table.local(x, g)
        jac = table.jacobian(phi)
        weighted = jac * sample.weights[:, None]
        gradients.append(-(sample.n - 1) / n_total * weighted.T @ (sample.s - table.moments(phi)))
        blocks.append(sample.n / n_total * jac.T @ weighted)
    free = table.index >= 0

    def system(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Information and gradient over the (group, local) nodes marked in `nodes`."""
        where = [np.flatnonzero(nodes[g]) for g in range(len(samples))]
        info = np.zeros((int(nodes.sum()),) * 2)
        start = 0
        for g, k in enumerate(where):
            span = slice(start, start + len(k))
            info[span, span] = blocks[g][np.ix_(k, k)]
            start += len(k)
        return info, np.concatenate([gradients[g][k] for g, k in enumerate(where)])

    classes = table.index[free]  # node order: group by group
    rows, owner = equality_rows(classes)
    info, score = system(free)
    pairs = [np.flatnonzero(row) for row in rows]
    tests = []
    for key, partial in candidates.items():
        extra = ~free & (partial.index >= 0)  # fixed here, free with the key in group_partial
        split = np.array(
            [partial.index[free][a] != partial.index[free][b] for a, b in pairs], dtype=bool
        )
        if not extra.any() and not split.any():
            continue
        nodes = free | extra
        big_info, big_score = system(nodes)
        # the equality rows kept, over the larger node set (extra nodes appended per group)
        mapping = np.flatnonzero(free[nodes])
        kept = np.zeros((int((~split).sum()), int(nodes.sum())))
        kept[:, mapping] = rows[~split]
        value = release_statistic(big_info, big_score, n_total, kept)
        df = int(split.sum()) + int(extra.sum())
        k = table.keys.index(key)
        name = table.keys[k].replace(" ~1", " ~ 1")  # as group_partial takes it
        tests.append(ScoreTest(name, table.keywords[k], value, df, chi2_p(value, df)))
    tests.sort(key=lambda t: -t.x2)
    total = release_statistic(info, score, n_total, rows[:0])
    return ScoreTests(ScoreTest("(all)", "", total, len(owner), chi2_p(total, len(owner))), tests)
