"""`bayeslead cmv`: is it common-method variance? Harman, the CFA marker technique, the ULMC.

Reads the model's items and the marker scale's (a construct flagged `marker: true` in the
instrument, or named by `cmv.marker`), then runs on the complete rows: Harman's single factor
(first unrotated principal component and principal-axis factor shares, and the one-factor CFA
against the measurement model), the CFA marker sequence with its chi-square difference tests
(`sem.cmv`), and the structural model plain, with the marker block and with the unmeasured
latent method construct, reporting how much the key indirect effect moves. Results go to a run
folder: cmv.csv (one long table), the detailed tables and report.html.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bayeslead.config import RunConfig, config_problem, load_config
from bayeslead.core.spec import Factor, ModelSpec
from bayeslead.data import load_responses
from bayeslead.instrument import Instrument, load_instrument
from bayeslead.pipeline import load_inputs
from bayeslead.psychometrics.validity import (
    harman_principal_axis_share,
    harman_single_factor_share,
)
from bayeslead.report.cmv import cmv_report, effect_sentence
from bayeslead.runs import RunFolder, command_line, config_hash, package_versions
from bayeslead.sem.cmv import (
    harman_cfa,
    marker_sequence,
    standardised_method_loading,
    structural_sensitivity,
)


@dataclass(frozen=True)
class CmvResult:
    """The tables of a method-variance check and the sentence about the key effect."""

    summary: pd.DataFrame  # cmv.csv: section, name, statistic, value, df, pvalue
    models: pd.DataFrame
    tests: pd.DataFrame
    effects: pd.DataFrame
    sentence: str
    n: int


def key_effect(config: RunConfig, spec: ModelSpec) -> str | None:
    if config.cmv.effect is not None:
        if config.cmv.effect not in {e.name for e in spec.effects}:
            raise config_problem(config, "cmv.effect", "not a named effect of the config")
        return config.cmv.effect
    return spec.effects[0].name if spec.effects else None


def run_cmv(config: RunConfig, data_path: Path | str | None = None) -> CmvResult:
    """Every check on the config's data (complete rows of the model and marker items)."""
    instrument = load_instrument(config.instrument) if config.instrument else None
    marker = marker_factor(config, instrument)
    inputs = load_inputs(config, data_path)
    spec, responses = inputs.spec, inputs.data.frame
    if marker.name not in spec.latents:  # an instrument marker outside the model: read its items
        extra = load_responses(
            inputs.data.path,
            list(marker.indicators),
            instrument=instrument,
            scale=config.data.scale,
            column_map=config.data.columns,
            missing_codes=config.data.missing_codes,
            sheet=config.data.sheet,
        )
        responses = responses.join(extra.frame)
    if marker.name in spec.latents:
        if any(marker.name in (r.outcome, r.predictor) for r in spec.regressions):
            raise config_problem(config, "cmv.marker", "the marker must not take part in paths")
        kept = tuple(f for f in spec.factors if f.name != marker.name)
        spec = dataclasses.replace(spec, factors=kept)
    frame = responses[[*spec.items, *marker.indicators]].dropna()
    x = frame[list(spec.items)].to_numpy(dtype=float)
    rows = [
        row(
            "harman",
            "first principal component",
            "share of variance",
            harman_single_factor_share(x),
        ),
        row("harman", "principal-axis factor", "share of variance", harman_principal_axis_share(x)),
    ]
    harman_fits, harman_tests = harman_cfa(spec, frame, ulmc=True)
    fits, tests, block = marker_sequence(spec, marker, frame)
    sem_fits, effects = [], pd.DataFrame()
    if spec.regressions:
        sem_fits, effects = structural_sensitivity(spec, frame, marker, block, ulmc=True)
    tests = [*harman_tests, *tests]
    if config.engine == "bayes" and spec.effects:
        ulmc = next(f for f in sem_fits if f.name == "sem_ulmc")
        start = standardised_method_loading(ulmc)
        bayes_rows, bayes_summary = bayesian_method_factor(spec, frame, config, start)
        effects = pd.concat([effects, bayes_rows], ignore_index=True)
        rows += bayes_summary
    models = pd.DataFrame(
        [
            {"model": f.name, "converged": f.converged}
            | {k: f.fit[k] for k in ("npar", "chisq", "df", "cfi", "tli", "rmsea", "srmr")}
            for f in (*harman_fits, *fits, *sem_fits)
        ]
    )
    for _, m in models.iterrows():
        rows.append(row("model", m.model, "chisq", m.chisq, m.df))
    for t in tests:
        rows.append(
            row("test", t["comparison"], "chisq_diff", t["chisq_diff"], t["df_diff"], t["pvalue"])
        )
    name = key_effect(config, spec)
    sentence = ""
    if name is not None and len(effects):
        for _, e in effects[(effects.effect == name) & (effects.kind == "indirect")].iterrows():
            rows.append(row("effect", f"{name} ({e.model})", "std_est", e.std_est))
        sentence = effect_sentence(effects, name)
    return CmvResult(pd.DataFrame(rows), models, pd.DataFrame(tests), effects, sentence, len(frame))


def bayesian_method_factor(
    spec: ModelSpec, frame: pd.DataFrame, config: RunConfig, start_loading: float
) -> tuple[pd.DataFrame, list[dict]]:
    """The Bayesian method factor (`engine: bayes`, chains started at the ML ULMC's
    standardised method loading `start_loading`): every named effect's standardised posterior
    mean and 95% interval, the method loading with its convergence and the gates over every
    sampled parameter."""
    from bayeslead.bayes.models.single.method import fit_method_factor

    x = frame[list(spec.items)].to_numpy(dtype=float)
    fit = fit_method_factor(spec, x, config.bayes, config.diagnostics, start_loading)
    rows = [
        {
            "model": "bayes",
            "effect": effect,
            "kind": kind,
            "std_est": float(draws.mean()),
            "std_ci_lower": float(np.quantile(draws, 0.025)),
            "std_ci_upper": float(np.quantile(draws, 0.975)),
        }
        for (effect, kind), draws in fit.std_effects.items()
    ]
    loading = fit.method_loading
    if not fit.gates["passed"]:
        for r in rows:  # not converged: say so wherever the effect is reported
            r["model"] = "bayes (not converged)"
    summary = [
        row("bayes", f"method loading (prior {fit.prior})", "posterior mean", loading.mean()),
        row("bayes", "method loading", "rhat", fit.rhat),
        row("bayes", "method loading", "ess_bulk", fit.ess),
        row("bayes", "all parameters", "max rhat", fit.gates["max_rhat"]),
        row("bayes", "all parameters", "min ess_bulk", fit.gates["min_ess_bulk"]),
        row("bayes", "all parameters", "divergences", fit.gates["divergences"]),
        row("bayes", "all parameters", "gates passed", fit.gates["passed"]),
    ]
    return pd.DataFrame(rows), summary


def row(section, name, statistic, value, df=float("nan"), pvalue=float("nan")) -> dict:
    return {
        "section": section,
        "name": name,
        "statistic": statistic,
        "value": float(value),
        "df": df,
        "pvalue": pvalue,
    }


def cmv_to_run_folder(
    config_path: Path | str, data_path: Path | str | None = None, out: Path | str | None = None
) -> tuple[Path, CmvResult]:
    """`bayeslead cmv`: write cmv.csv, cmv_models.csv, cmv_tests.csv, cmv_effects.csv and
    report.html to a new run folder under `<output>/<name>-cmv/`."""
    config = load_config(config_path)
    result = run_cmv(config, data_path)
    root = Path(out).resolve() if out else (config.output or Path.cwd() / "outputs")
    config_yaml = yaml.safe_dump(config.to_yaml_dict(), sort_keys=False, allow_unicode=True)
    folder = RunFolder(root, f"{config.name}-cmv", config_hash(config_yaml, "", None))
    try:
        folder.write_csv("cmv.csv", result.summary)
        folder.write_csv("cmv_models.csv", result.models)
        folder.write_csv("cmv_tests.csv", result.tests)
        folder.write_csv("cmv_effects.csv", result.effects)
        folder.write_text("config.yaml", config_yaml)
        folder.write_text(
            "report.html",
            cmv_report(
                config.name, result.models, result.tests, result.summary, result.sentence, result.n
            ),
        )
        folder.write_json(
            "manifest.json",
            {
                "command": command_line(),
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "name": config.name,
                "kind": "cmv",
                "config_file": str(config.source),
                "n_complete": result.n,
                "versions": package_versions(),
            },
        )
        path = folder.finish()
    except BaseException:
        folder.abandon()
        raise
    return path, result


def marker_factor(config: RunConfig, instrument: Instrument | None) -> Factor:
    """The marker construct and its items: `cmv.marker`, else the instrument's marker scale."""
    name = config.cmv.marker
    if name is None and instrument is not None:
        flagged = [c.id for c in instrument.constructs if c.marker]
        name = flagged[0] if flagged else None
    if name is None:
        raise config_problem(
            config,
            "cmv.marker",
            "no marker scale: flag a construct `marker: true` in the instrument (e.g. include "
            "surveys/marker_blue.yaml) or name one here",
        )
    indicators = instrument.indicators() if instrument is not None else {}
    inline = config.constructs if isinstance(config.constructs, dict) else {}
    items = indicators.get(name) or inline.get(name)
    if not items:
        known = ", ".join(sorted(set(indicators) | set(inline))) or "none"
        raise config_problem(config, "cmv.marker", f"'{name}' is not a construct (known: {known})")
    return Factor(name, tuple(items))
