"""Study results from the replicate records: power with Monte Carlo error, recovery (bias,
RMSE, coverage), SBC rank uniformity, and time spent compiling vs sampling. Pure pandas/numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

SBC_BINS = 10  # rank histogram bins (ranks 0..99 -> 10 bins of 10)
# Fewest replicates per sample size for which the Monte Carlo summaries mean something: the
# normal-approximation SE sqrt(p(1 - p)/R) of a power or a coverage (R = 1 gives SE 0), and the
# chi-square test of SBC ranks (expected count >= 5 in each of the 10 bins).
MIN_REPLICATES = {"power": 20, "recovery": 20, "sbc": 5 * SBC_BINS}


def too_few_replicates(kind: str, reps: int) -> str | None:
    """The warning for a study with fewer replicates than `MIN_REPLICATES[kind]`, else None."""
    least = MIN_REPLICATES[kind]
    if reps >= least:
        return None
    what = "the SBC rank test" if kind == "sbc" else "Monte Carlo standard errors"
    return (
        f"--reps {reps} is below {least}, the fewest for {what}: they are not available (NaN"
        + (", and no parameter passes" if kind == "sbc" else "")
        + f"); use --reps {least} or more (200 for a paper)"
    )


def ok_records(records: list[dict]) -> list[dict]:
    return [r for r in records if r["status"] == "ok"]


def outcome_counts(records: list[dict]) -> pd.DataFrame:
    """Replicates finished, succeeded and failed per sample size, and (Bayesian fits) how many
    successful ones failed a convergence gate (they are still counted in the results)."""
    frame = pd.DataFrame(
        {
            "n": [r["n"] for r in records],
            "ok": [r["status"] == "ok" for r in records],
            "not_converged": [
                r["status"] == "ok" and not r.get("diagnostics", {}).get("passed", True)
                for r in records
            ],
        }
    )
    columns = ["n", "finished", "ok", "failed", "not_converged"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    out = frame.groupby("n").agg(
        finished=("ok", "size"), ok=("ok", "sum"), not_converged=("not_converged", "sum")
    )
    out["failed"] = out.finished - out.ok
    return out.reset_index()[columns].astype(int)


def _proportion_row(n: int, target: str, name: str, hits: list[bool], extra: dict) -> dict:
    r = len(hits)
    p = float(np.mean(hits)) if r else np.nan
    mcse = float(np.sqrt(p * (1 - p) / r)) if r >= MIN_REPLICATES["power"] else np.nan
    return {
        "n": n,
        "target": target,
        "name": name,
        "replicates": r,
        "power": p,
        "mcse": mcse,
    } | extra


def power_table(records: list[dict]) -> pd.DataFrame:
    """Per sample size and named effect: the share of successful replicates whose interval
    excludes zero (and per hypothesis: the share supported), with its Monte Carlo SE."""
    rows = []
    good = ok_records(records)
    for n in sorted({r["n"] for r in good}):
        at_n = [r for r in good if r["n"] == n]
        for name in at_n[0]["effects"]:
            values = [r["effects"][name] for r in at_n if name in r["effects"]]
            hits = [lower > 0 or upper < 0 for _, lower, upper, _ in values]
            mean = {"mean_est": float(np.mean([v[0] for v in values]))}
            rows.append(_proportion_row(n, "effect", name, hits, mean))
        for name in at_n[0].get("hypotheses", {}):
            hits = [r["hypotheses"][name] for r in at_n if name in r.get("hypotheses", {})]
            rows.append(_proportion_row(n, "hypothesis", name, hits, {"mean_est": np.nan}))
    columns = ["n", "target", "name", "replicates", "power", "mcse", "mean_est"]
    return pd.DataFrame(rows, columns=columns)


def monotone_violations(power: pd.DataFrame, z: float = 2.0) -> list[str]:
    """Places where power falls with sample size by more than `z` combined Monte Carlo SEs."""
    out = []
    for (target, name), grp in power.groupby(["target", "name"], sort=False):
        grp = grp.sort_values("n")
        for a, b in zip(grp.itertuples(), list(grp.itertuples())[1:], strict=False):
            if b.power < a.power - z * np.hypot(a.mcse, b.mcse):
                out.append(
                    f"{target} {name}: power {a.power:.3f} at n = {a.n} but {b.power:.3f} at "
                    f"n = {b.n}"
                )
    return out


def recovery_table(records: list[dict], true_values: dict[str, float]) -> pd.DataFrame:
    """Per sample size and parameter with a true value: mean estimate, bias, relative bias,
    RMSE and interval coverage (with its Monte Carlo SE)."""
    rows = []
    good = ok_records(records)
    for n in sorted({r["n"] for r in good}):
        at_n = [r for r in good if r["n"] == n]
        for key, true in true_values.items():
            values = np.array([r["parameters"][key] for r in at_n if key in r["parameters"]])
            if not len(values):
                continue
            est, lower, upper = values[:, 0], values[:, 1], values[:, 2]
            covered = (lower <= true) & (true <= upper)
            coverage = float(covered.mean())
            rows.append(
                {
                    "n": n,
                    "parameter": key,
                    "true": true,
                    "mean_est": float(est.mean()),
                    "bias": float(est.mean() - true),
                    "rel_bias": float((est.mean() - true) / true) if true != 0 else np.nan,
                    "rmse": float(np.sqrt(np.mean((est - true) ** 2))),
                    "coverage": coverage,
                    "coverage_mcse": float(np.sqrt(coverage * (1 - coverage) / len(values)))
                    if len(values) >= MIN_REPLICATES["recovery"]
                    else np.nan,
                    "replicates": len(values),
                }
            )
    return pd.DataFrame(rows)


def sbc_table(records: list[dict], draws: int, alpha: float = 0.01) -> pd.DataFrame:
    """Chi-square test of uniform ranks per parameter, Bonferroni-corrected over parameters:
    a parameter passes when its p-value exceeds alpha / k."""
    good = [r for r in ok_records(records) if "ranks" in r]
    if not good:
        return pd.DataFrame(columns=["parameter", "replicates", "chisq", "pvalue", "passes"])
    keys = list(good[0]["ranks"])
    threshold = alpha / len(keys)
    rows = []
    for key in keys:
        ranks = np.array([r["ranks"][key] for r in good])
        counts = rank_histogram(ranks, draws)
        chisq, pvalue = stats.chisquare(counts)
        if len(ranks) < MIN_REPLICATES["sbc"]:
            chisq = pvalue = np.nan
        rows.append(
            {
                "parameter": key,
                "replicates": len(ranks),
                "mean_rank": float(ranks.mean() / draws),
                "chisq": float(chisq),
                "df": SBC_BINS - 1,
                "pvalue": float(pvalue),
                "threshold": threshold,
                "passes": bool(pvalue > threshold),
            }
        )
    return pd.DataFrame(rows)


def rank_histogram(ranks: np.ndarray, draws: int) -> np.ndarray:
    """Counts of ranks (0..draws) in `SBC_BINS` equal bins."""
    edges = np.linspace(0, draws + 1, SBC_BINS + 1)
    return np.histogram(ranks, bins=edges)[0]


def timing_summary(records: list[dict]) -> dict[str, float]:
    """Total compile and fitting seconds over the replicates, and the compile share."""
    compile_s = float(sum(r.get("compile_s", 0.0) for r in records))
    fit_s = float(sum(r.get("fit_s", 0.0) for r in records))
    total = float(sum(r.get("seconds", 0.0) for r in records))
    compiles = sum(1 for r in records if r.get("compile_s", 0.0) > 0)
    return {
        "compile_s": round(compile_s, 2),
        "fit_s": round(fit_s, 2),
        "replicate_s": round(total, 2),
        "compile_share": round(compile_s / total, 4) if total else 0.0,
        "compilations": compiles,
    }
