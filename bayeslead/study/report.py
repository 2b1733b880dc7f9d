"""The study's outputs, rebuilt from `replicates.jsonl`: tables (CSV), figures (PNG),
`summary.json` and a Markdown report saying what was simulated, from which truth, and how
reliable the Monte Carlo estimates are."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bayeslead.atomic import atomic_write_text
from bayeslead.report.figures import save_figure
from bayeslead.report.markdown import markdown_table
from bayeslead.runs import package_versions, to_jsonable
from bayeslead.study.design import SBC_DRAWS, StudyDesign, StudyModel
from bayeslead.study.figures import power_curve_figure, sbc_rank_figure
from bayeslead.study.summary import (
    monotone_violations,
    outcome_counts,
    power_table,
    recovery_table,
    sbc_table,
    timing_summary,
    too_few_replicates,
)


@dataclass
class StudySummary:
    """What the CLI prints: counts, timing, the main table and any warnings."""

    folder: Path
    counts: pd.DataFrame
    timing: dict[str, float]
    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def display_table(self) -> pd.DataFrame:
        """The main table with p-values and thresholds in significant digits."""
        out = self.table.copy()
        for column in ("pvalue", "threshold"):
            if column in out:
                out[column] = out[column].map("{:.3g}".format)
        return out

    @property
    def failed(self) -> int:
        return int(self.counts.failed.sum()) if not self.counts.empty else 0


def write_study_outputs(
    folder: Path, design: StudyDesign, model: StudyModel, records: list[dict]
) -> StudySummary:
    """Write the tables, figures, summary.json and report.md of a (possibly partial) study."""
    counts = outcome_counts(records)
    timing = timing_summary(records)
    warnings: list[str] = []
    few = too_few_replicates(design.kind, design.reps)
    if few:
        warnings.append(few)
    if design.kind == "power":
        table = power_table(records)
        warnings += [
            f"not monotone beyond Monte Carlo error: {v}" for v in monotone_violations(table)
        ]
        if not table.empty:
            save_figure(power_curve_figure(table), folder / "power_curve.png")
        name = "power.csv"
    elif design.kind == "recovery":
        table = recovery_table(records, model.true_values)
        name = "recovery.csv"
    else:
        table = sbc_table(records, SBC_DRAWS)
        failing = list(table.parameter[~table.passes]) if not table.empty else []
        if failing and not few:
            warnings.append("ranks not uniform (Bonferroni 0.01/k) for: " + ", ".join(failing))
        if not table.empty:
            save_figure(sbc_rank_figure(records, SBC_DRAWS, table), folder / "sbc_ranks.png")
        name = "sbc.csv"
    atomic_write_text(folder / name, table.to_csv(index=False, lineterminator="\n"))
    failures = pd.DataFrame(
        [
            {k: r.get(k) for k in ("n", "rep", "seed", "error")}
            for r in records
            if r["status"] != "ok"
        ],
        columns=["n", "rep", "seed", "error"],
    )
    atomic_write_text(folder / "failures.csv", failures.to_csv(index=False, lineterminator="\n"))
    summary = StudySummary(folder, counts, timing, table, warnings)
    atomic_write_text(
        folder / "summary.json",
        json.dumps(
            to_jsonable(
                {
                    "design": design.to_dict(),
                    "truth_source": model.truth_source,
                    "truth": model.truth.model_dump(),
                    "true_values": model.true_values,
                    "counts": counts.to_dict(orient="records"),
                    "timing": timing,
                    "warnings": warnings,
                    "versions": package_versions(),
                }
            ),
            indent=2,
        )
        + "\n",
    )
    atomic_write_text(folder / "report.md", study_markdown(design, model, summary, failures))
    return summary


_TITLES = {
    "power": "Power analysis",
    "recovery": "Parameter recovery",
    "sbc": "Simulation-based calibration",
}

_READING = {
    "power": (
        "`power` is the share of successful replicates whose {level} interval of the effect excludes "
        "zero (for hypotheses: the share in which the hypothesis was supported by the config's "
        "decision rule); `mcse` is its Monte Carlo standard error, sqrt(p(1 - p) / R)."
    ),
    "recovery": (
        "True values are on lavaan's marker metric for continuous unit-variance responses (the "
        "ML solution on the population covariance matrix); with Likert responses and ordinal "
        "indicators these are the values on the latent responses y* standardised to total "
        "variance 1, which the simulated categories cut (thresholds are not compared). "
        "`coverage` is the share of {level} "
        "intervals containing the true value; with R replicates its Monte Carlo SE is "
        "`coverage_mcse`."
    ),
    "sbc": (
        f"Each replicate draws the parameters from the prior, data from the model, and ranks the "
        f"prior draw among {SBC_DRAWS} evenly thinned posterior draws (Talts et al. 2018). Ranks "
        "are uniform when the posterior is calibrated; `pvalue` is a chi-square test on 10 bins, "
        "passing above the Bonferroni level 0.01/k (`threshold`)."
    ),
}


def _interval_level(design: StudyDesign, model: StudyModel) -> str:
    """The intervals' level: 95% for ML (Wald or bootstrap), `bayes.hdi_prob` for posteriors."""
    level = 0.95 if design.engine == "sem" else model.bayes.hdi_prob
    return f"{100 * level:g}%"


def study_markdown(
    design: StudyDesign, model: StudyModel, summary: StudySummary, failures: pd.DataFrame
) -> str:
    """The study report."""
    t = summary.timing
    fitter = "maximum likelihood" if design.engine == "sem" else "Bayesian"
    if design.engine == "sem":
        fitter += (
            f", percentile bootstrap with {design.bootstrap} resamples"
            if design.bootstrap
            else ", Wald/delta-method intervals"
        )
    lines = [
        f"# {_TITLES[design.kind]}: {Path(design.config).name}",
        "",
        f"- Replicates: {design.reps} per sample size; sizes {', '.join(map(str, design.sizes))}"
        + (f"; {design.cluster_size} respondents per cluster" if design.cluster_size else ""),
        f"- Engine: {fitter}",
        f"- Responses simulated as: {design.responses}",
        f"- Truth: {model.truth_source}",
        f"- Study seed: {design.seed} (replicate seeds from numpy SeedSequence(seed, (n, rep)))",
        f"- Time: {t['replicate_s']:.1f} s over all replicates, of which compiling "
        f"{t['compile_s']:.1f} s ({100 * t['compile_share']:.1f}%, {t['compilations']} "
        f"compilations) and fitting/sampling {t['fit_s']:.1f} s",
        "",
        "## Replicates",
        "",
        markdown_table(summary.counts),
        "",
        f"## {_TITLES[design.kind]}",
        "",
        _READING[design.kind].format(level=_interval_level(design, model)),
        "",
        markdown_table(summary.display_table),
    ]
    if summary.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in summary.warnings]
    if not failures.empty:
        lines += ["", "## Failed replicates", "", markdown_table(failures.head(20))]
    return "\n".join(lines) + "\n"
