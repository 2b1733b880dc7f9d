"""The pipeline: config (+ instrument) + responses -> ModelSpec -> engine -> FitResult -> run folder.

Every CLI command is a thin wrapper around the functions here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from bayeslead.config import RunConfig, config_problem, load_config
from bayeslead.core.from_config import build_spec
from bayeslead.core.labels import label_table
from bayeslead.core.partable import build_partable
from bayeslead.core.spec import ModelSpec
from bayeslead.data import (
    ResponseData,
    check_usable_columns,
    load_responses,
    quality_summary,
    quality_table,
    read_columns,
)
from bayeslead.errors import InputError
from bayeslead.hypotheses import Hypothesis, evaluate, parse_hypotheses
from bayeslead.instrument import Instrument, load_instrument
from bayeslead.phases import Phases
from bayeslead.psychometrics.agreement import cluster_agreement
from bayeslead.report.html import build_report
from bayeslead.report.hypotheses import hypotheses_latex, hypotheses_markdown
from bayeslead.report.table_files import run_table_files
from bayeslead.results import FitResult
from bayeslead.runs import (
    FORMAT_VERSION,
    RunFolder,
    SavedRun,
    command_line,
    config_hash,
    package_versions,
    process_start_time,
    to_jsonable,
)
from bayeslead.simulate import ItemScale
from bayeslead.syntax import Capabilities

DataSource = Path | str | pd.DataFrame | None  # responses: a file, or a DataFrame (Python API)


@dataclass(frozen=True)
class Inputs:
    """Everything a fit needs, validated."""

    config: RunConfig
    instrument: Instrument | None
    spec: ModelSpec
    data: ResponseData | None
    hypotheses: tuple[Hypothesis, ...] = ()


def load_inputs(
    config: RunConfig | Path | str, data_path: DataSource = None, need_data: bool = True
) -> Inputs:
    """Config, instrument, ModelSpec and responses (`data_path`: a file or DataFrame, else data.path)."""
    if not isinstance(config, RunConfig):
        config = load_config(config)
    frame = data_path if isinstance(data_path, pd.DataFrame) else None
    if data_path is not None and frame is None:
        config = config.model_copy(
            update={"data": config.data.model_copy(update={"path": Path(data_path).resolve()})}
        )
    if config.instrument is not None and not config.instrument.is_file():
        raise config_problem(config, "instrument", f"file not found: {config.instrument}")
    instrument = load_instrument(config.instrument) if config.instrument else None
    spec = build_spec(config, instrument, *syntax_context(config))
    hypotheses = tuple(parse_hypotheses(config.hypotheses, spec, build_partable(spec)))
    data = None
    if need_data:
        if frame is None and config.data.path is None:
            raise config_problem(config, "data.path", "no data file given (or pass --data PATH)")
        if frame is None and not config.data.path.is_file():
            raise config_problem(config, "data.path", f"file not found: {config.data.path}")
        clusters = config.data.id_columns
        data = load_responses(
            config.data.path if frame is None else frame,
            list(spec.items),
            observed=list(spec.observed),
            instrument=instrument,
            scale=config.data.scale,
            column_map=config.data.columns,
            id_column=config.data.id,
            cluster_columns=clusters,
            missing_codes=config.data.missing_codes,
            sheet=config.data.sheet,
            encoding=config.data.encoding,
            skip_rows=config.data.skip_rows,
        )
        check_usable_columns(data.frame[list(spec.manifest)], str(data.path or "(DataFrame)"))
    return Inputs(config, instrument, spec, data, hypotheses)


def syntax_context(config: RunConfig) -> tuple[list[str] | None, Capabilities | None]:
    """What a `model:` (lavaan syntax) is checked against: the data file's columns (when it
    exists) and the configured engine's capabilities."""
    if config.model is None:
        return None, None
    if config.engine == "sem":
        from bayeslead.sem.capabilities import CAPABILITIES
    else:
        from bayeslead.bayes.capabilities import CAPABILITIES
    path, sheet, encoding = config.data.path, config.data.sheet, config.data.encoding
    columns = read_columns(path, sheet, encoding) if path and path.is_file() else None
    return columns, CAPABILITIES


def item_scales(inputs: Inputs) -> dict[str, ItemScale]:
    """Response range and reverse keying of every model item (instrument, else data.scale)."""
    out = {}
    known = {i.id: i for i in inputs.instrument.items()} if inputs.instrument else {}
    for item in inputs.spec.items:
        if item in known:
            low, high = known[item].scale.range
            out[item] = ItemScale(low, high, known[item].item.reverse)
        elif inputs.config.data.scale is not None:
            out[item] = ItemScale(*inputs.config.data.scale)
        else:
            raise config_problem(
                inputs.config,
                "data.scale",
                f"item '{item}' has no response scale: give data.scale: [low, high] or an instrument",
            )
    return out


def with_seed(config: RunConfig, seed: int | None) -> RunConfig:
    """The config with both engines' seeds replaced by `seed` (when given)."""
    if seed is None:
        return config
    return config.model_copy(
        update={
            "sem": config.sem.model_copy(update={"seed": seed}),
            "bayes": config.bayes.model_copy(update={"seed": seed}),
        }
    )


def fit(inputs: Inputs, progress: bool = True, phases: Phases | None = None) -> FitResult:
    """Fit with the config's engine, then test the hypotheses; each step a phase of `phases`."""
    config = inputs.config
    phases = phases or Phases(show=progress)
    if config.engine == "sem":
        with phases.step("engine_load_s", "Loading the ML engine"):
            from bayeslead.sem.engine import fit_sem
        bar = config.sem.bootstrap > 0  # the bootstrap draws its own progress bar
        with phases.step("estimation_s", "Fitting by maximum likelihood", spinner=not bar):
            result = fit_sem(inputs.spec, inputs.data, config.sem_settings, progress=phases.show)
    else:
        with phases.step("engine_load_s", "Loading the Bayesian engine (PyMC)"):
            from bayeslead.bayes.engine import family_of

        result = family_of(inputs.spec).fit(
            inputs.spec, inputs.data, config.bayes, config.diagnostics, phases=phases
        )
    result.problems.extend(inputs.data.warnings if inputs.data is not None else ())
    if inputs.spec.cluster and inputs.data is not None:
        agreement = cluster_agreement(inputs.spec, inputs.data)
        if agreement is not None:
            result.extra_tables["agreement"] = agreement
    if "level" not in result.estimates.columns:  # single-level parameters have an empty level
        result.estimates.insert(4, "level", "")
    if inputs.hypotheses:
        with phases.step("hypotheses_s", "Testing the hypotheses"):
            table = build_partable(inputs.spec)
            result.extra_tables["hypotheses"] = evaluate(
                list(inputs.hypotheses), inputs.spec, table, result
            )
    return result


def run_seed(config: RunConfig) -> int:
    return config.sem.seed if config.engine == "sem" else config.bayes.seed


def fit_to_run_folder(
    config_path: Path | str,
    data_path: Path | str | None = None,
    out: Path | str | None = None,
    seed: int | None = None,
    progress: bool = True,
    phases: Phases | None = None,
) -> tuple[Path, FitResult]:
    """`bayeslead fit`: fit and write a new run folder; return its path and the result. Timings
    name every phase from the process start: `fit_s` sums those up to results in hand."""
    phases = phases or Phases(show=progress, since=process_start_time(), first="startup_s")
    with phases.step("read_s", "Reading and checking the data"):
        config = with_seed(load_config(config_path), seed)
        inputs = load_inputs(config, data_path)
        quality = quality_table(inputs.data)
    result = fit(inputs, phases=phases)
    result.timings = phases.timings() | {"fit_s": round(phases.total(), 3)}
    return save_run(inputs, result, quality, out, phases), result


def save_run(inputs: Inputs, result: FitResult, quality: pd.DataFrame, out, phases=None) -> Path:
    """A new run folder under `out` (or the config's output, or ./outputs); its write phases."""
    phases = phases or Phases(show=False)
    config = inputs.config
    root = Path(out).resolve() if out else (config.output or Path.cwd() / "outputs")
    resolved = config.to_yaml_dict()
    config_yaml = yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    digest = config_hash(config_yaml, inputs.data.sha256, run_seed(config))
    folder = RunFolder(root, config.name, digest)
    try:
        with phases.step("write_s", "Writing tables and draws"):
            write_results(folder, inputs, result, quality)
            folder.write_text("config.yaml", config_yaml)
        with phases.step("figures_s", "Drawing figures"):
            write_figures(folder, inputs, result)
        result.timings |= phases.timings()  # + write_s, figures_s
        record = manifest(inputs, result, digest, quality)
        with phases.step("report_s", "Writing the report and its table files"):
            folder.write_json("manifest.json", record)
            saved = SavedRun(folder.tmp, to_jsonable(record), config_yaml)
            for name, content in run_table_files(saved).items():
                write_file(folder, name, content)
            folder.write_text("report.html", build_report(saved))
        result.timings |= phases.timings() | {"total_s": round(phases.total(), 3)}
        record["timings"] = result.timings
        folder.write_json("manifest.json", record)
        return folder.finish()
    except BaseException:
        folder.abandon()
        raise


def write_file(folder: RunFolder, name: str, content: str | bytes) -> None:
    """Text through the folder's atomic writer; bytes (e.g. .docx) into the unfinished folder."""
    if isinstance(content, str):
        folder.write_text(name, content)
    else:
        folder.file(name).write_bytes(content)


def write_results(
    folder: RunFolder, inputs: Inputs, result: FitResult, quality: pd.DataFrame
) -> None:
    """Tables, fit measures and InferenceData of one run (figures: `write_figures`)."""
    folder.write_csv("estimates.csv", result.estimates)
    folder.write_csv("effects.csv", result.effects)
    folder.write_json("fit.json", result.fit)
    if result.reliability is not None:
        folder.write_csv("reliability.csv", result.reliability)
    if result.htmt is not None:
        folder.write_csv("htmt.csv", result.htmt)
    for name, table in result.extra_tables.items():
        folder.write_csv(f"{name}.csv", table)
    if "hypotheses" in result.extra_tables:
        bayesian = result.engine == "bayes"
        folder.write_text(
            "hypotheses.md", hypotheses_markdown(result.extra_tables["hypotheses"], bayesian)
        )
        folder.write_text(
            "hypotheses.tex", hypotheses_latex(result.extra_tables["hypotheses"], bayesian)
        )
    folder.write_csv("quality.csv", quality)
    folder.write_csv("labels.csv", label_table(inputs.spec, inputs.instrument))
    folder.write_text("model.lav", result.info.get("lavaan_syntax") or inputs.spec.to_lavaan())
    if result.diagnostics is not None:
        folder.write_json("diagnostics.json", result.diagnostics)
    if result.idata is not None:
        folder.write_netcdf("idata.nc", result.idata)


def make_figures(inputs: Inputs, result: FitResult) -> dict[str, object]:
    """Every figure of a run, by file name (figure functions only build them)."""
    from bayeslead.core.effects import effect_draws
    from bayeslead.report import conditional_figures as conditional
    from bayeslead.report import figures
    from bayeslead.report.diagram import path_diagram

    spec = inputs.spec
    bayesian = result.engine == "bayes"
    interval = "95% credible interval" if bayesian else "95% interval"
    items, tables = inputs.config.report.diagram.items, result.extra_tables
    out = conditional.conditional_figures(tables, result.estimates, interval)  # interactions
    out["path_diagram.png"] = path_diagram(spec, result.estimates, None, items, bayesian)
    if (result.estimates.op == "~").any() or len(result.effects):
        out["forest.png"] = figures.forest_figure(
            result.estimates, result.effects, interval, spec.labels
        )
    if result.draws is not None and spec.effects:
        draws = {
            d.effect.name: d.raw
            for d in effect_draws(spec, build_partable(spec), result.draws)
            if d.kind == "indirect"
        }
        out["effects.png"] = figures.effect_distribution_figure(draws, result.draws_kind)
    if bayesian:
        paths = [f"{r.outcome} ~ {r.predictor}" for r in spec.regressions][:8]
        keys = paths or [p.key for p in build_partable(spec).free_params][:6]
        coords = {"estimate_dim": keys}
        out["trace.png"] = figures.arviz_figure("trace", result.idata, coords)
        out["rank.png"] = figures.arviz_figure("rank", result.idata, coords)
        out["energy.png"] = figures.arviz_figure("energy", result.idata)
        if {"ppc_pairs", "ppc_categories"} & set(result.extra_tables):
            out["ppc.png"] = figures.ppc_figure(result.extra_tables)
    return out


def write_figures(folder: RunFolder, inputs: Inputs, result: FitResult) -> None:
    """Save the run's figures under figures/ (the one place figures are written)."""
    from bayeslead.report.diagram import save_diagram
    from bayeslead.report.figures import save_figure

    for name, fig in make_figures(inputs, result).items():
        save = save_diagram if name == "path_diagram.png" else save_figure
        save(fig, folder.file(f"figures/{name}"))


def manifest(inputs: Inputs, result: FitResult, digest: str, quality: pd.DataFrame) -> dict:
    data = inputs.data
    errors = [str(p) for p in result.problems if p.severity == "error"]
    return {
        "format_version": FORMAT_VERSION,
        "bayeslead_version": package_versions()["bayeslead"],
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
        "name": inputs.config.name,
        "engine": result.engine,
        "status": "ok" if result.ok else "problems",
        "problems": errors,
        "warnings": [str(p) for p in result.problems if p.severity == "warning"],
        "config_file": str(inputs.config.source),
        "config_sha256": digest,
        "instrument_file": str(inputs.instrument.source) if inputs.instrument else None,
        "data_file": str(data.path) if data.path is not None else "(DataFrame)",
        "data_sha256": data.sha256,
        "n_obs": data.n,
        "n_used": int(result.info.get("n", data.n)),
        "n_total": data.n,
        "seed": run_seed(inputs.config),
        "info": result.info,
        "data_quality": quality_summary(data, quality),
        "versions": package_versions(),
        "timings": result.timings,
    }


def simulate_to_file(config_path: Path | str, n: int, seed: int, output: Path | str) -> Path:
    """`bayeslead simulate`: draw responses from the config's truth and write a CSV."""
    from bayeslead.simulate import simulate_responses, write_csv

    inputs = load_inputs(config_path, need_data=False)
    if inputs.config.truth is None:
        raise config_problem(
            inputs.config,
            "truth",
            "simulation needs a truth: block with the true standardised values",
        )
    frame = simulate_responses(
        inputs.spec,
        inputs.config.truth,
        item_scales(inputs),
        n,
        seed,
        id_column=inputs.config.data.id or "respondent_id",
    )
    if inputs.instrument is not None:
        for check in inputs.instrument.attention_checks:
            frame[check.id] = check.expected
    output = Path(output)
    if output.suffix.lower() != ".csv":
        raise InputError(f"simulate writes CSV files; got '{output.name}'")
    write_csv(frame, output)
    return output


def saved_config(run: SavedRun) -> RunConfig:
    """The resolved config a saved run was fitted with (its config.yaml)."""
    return RunConfig.model_validate(yaml.safe_load(run.config_text))


def saved_spec(run: SavedRun) -> ModelSpec:
    """The ModelSpec of a saved run, rebuilt from its config.yaml and instrument (the one place
    a spec is rebuilt from a run folder)."""
    config = saved_config(run)
    instrument = load_instrument(config.instrument) if config.instrument else None
    return build_spec(config, instrument, None, syntax_context(config)[1])
