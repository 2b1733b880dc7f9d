"""`bayeslead invariance`: the measurement-invariance ladder of a config's model across the
groups of `data.group` (`bayeslead.sem.invariance`), written to a run folder: invariance.csv,
invariance_scores.csv (score tests of a failed level), report.html, config.yaml, manifest.json."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from bayeslead.config import RunConfig, load_config
from bayeslead.errors import InputError
from bayeslead.pipeline import load_inputs
from bayeslead.report.invariance import invariance_report, ladder_figure_png
from bayeslead.runs import RunFolder, command_line, config_hash, package_versions
from bayeslead.sem.invariance import Ladder, fit_ladder
from bayeslead.sem.ordinal_ladder import fit_ordinal_ladder


def ladder_config(config: RunConfig, group: str | None) -> RunConfig:
    """The config as the ladder fits it: ML, `group` overriding data.group, group_equal cleared
    (the levels set it)."""
    data = config.data.model_copy(update={"group": group}) if group else config.data
    if not data.group:
        source = config.source or "config"
        raise InputError(
            f"Config {source}: the invariance ladder compares groups: set data.group or pass "
            "--group COLUMN"
        )
    return config.model_copy(update={"data": data, "engine": "sem", "group_equal": []})


def run_invariance(
    config: RunConfig,
    data_path: Path | str | None = None,
    group: str | None = None,
    levels: list[str] | None = None,
) -> Ladder:
    """Fit the ladder of `config` (levels default to `invariance.levels`); ordinal items
    (`bayes.indicators: ordinal` or `sem.estimator: WLSMV`): the WLSMV threshold ladder."""
    config = ladder_config(config, group)
    inputs = load_inputs(config, data_path)
    sem = config.sem_settings
    ladder = fit_ordinal_ladder if sem.estimator == "WLSMV" else fit_ladder
    return ladder(inputs.spec, inputs.data, sem, config.invariance, levels)


def rule_text(config: RunConfig) -> str:
    """The decision rule and its cut-offs, in words (the report's note)."""
    c = config.invariance
    indices = (
        f"delta CFI >= {c.delta_cfi:.3f}, delta RMSEA <= {c.delta_rmsea:.3f}, delta SRMR <= "
        f"{c.delta_srmr_metric:.3f} (metric) / {c.delta_srmr:.3f} (scalar, strict)"
    )
    chisq = f"chi-square difference test p >= {c.alpha:g}"
    text = {"fit_indices": indices, "chisq": chisq, "both": f"{indices} and {chisq}"}[c.rule]
    return (
        f"A level holds against the one before when {text} (invariance.rule: {c.rule}; Chen "
        "2007, Cheung & Rensvold 2002; change them under invariance: in the config). "
        "'established' is true while every level so far holds."
    )


def invariance_to_run_folder(
    config_path: Path | str,
    data_path: Path | str | None = None,
    group: str | None = None,
    levels: list[str] | None = None,
    out: Path | str | None = None,
) -> tuple[Path, Ladder, str]:
    """`bayeslead invariance`: write the ladder to a new run folder under
    `<output>/<name>-invariance/`; returns the folder, the ladder and the rule's text."""
    config = load_config(config_path)
    ladder = run_invariance(config, data_path, group, levels)
    root = Path(out).resolve() if out else (config.output or Path.cwd() / "outputs")
    config_yaml = yaml.safe_dump(config.to_yaml_dict(), sort_keys=False, allow_unicode=True)
    folder = RunFolder(root, f"{config.name}-invariance", config_hash(config_yaml, "", None))
    rule = rule_text(config)
    try:
        folder.write_csv("invariance.csv", ladder.table)
        folder.write_csv("invariance_scores.csv", ladder.scores)
        folder.write_text("config.yaml", config_yaml)
        figure = ladder_figure_png(ladder.table)
        folder.write_text(
            "report.html",
            invariance_report(
                config.name, ladder.table, ladder.scores, ladder.groups, rule, figure
            ),
        )
        folder.write_json(
            "manifest.json",
            {
                "command": command_line(),
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "name": config.name,
                "kind": "invariance",
                "config_file": str(config.source),
                "groups": ladder.groups,
                "converged": ladder.converged,
                "versions": package_versions(),
            },
        )
        path = folder.finish()
    except BaseException:
        folder.abandon()
        raise
    return path, ladder, rule
