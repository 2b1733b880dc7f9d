"""`bayeslead aggregate`: several informants per firm, written to a run folder.

The tables (rwg(j) under the uniform and the slightly skewed null, awg, ICC(1), ICC(2),
informants per firm, firm means, role differences with `data.role`) come from
`psychometrics.agreement.informant_agreement`; two-level fits add the summary to their
run folder as `agreement.csv`.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from bayeslead.atomic import atomic_write_text
from bayeslead.config import config_problem, load_config
from bayeslead.pipeline import load_inputs
from bayeslead.psychometrics.agreement import AgreementTables, informant_agreement
from bayeslead.runs import RunFolder, command_line, config_hash, package_versions


def aggregate_to_run_folder(
    config_path: Path | str,
    data_path: Path | str | None = None,
    out: Path | str | None = None,
    firms_csv: Path | str | None = None,
) -> tuple[Path, AgreementTables]:
    """Write agreement.csv, agreement_firms.csv, firm_means.csv and (with data.role)
    role_differences.csv to a new run folder; optionally the firm means to `firms_csv` too."""
    config = load_config(config_path)
    inputs = load_inputs(config, data_path)
    if not config.data.cluster:
        raise config_problem(config, "data.cluster", "aggregation needs the firm (cluster) id")
    tables = informant_agreement(inputs.spec, inputs.data, config.data.cluster, config.data.role)
    root = Path(out).resolve() if out else (config.output or Path.cwd() / "outputs")
    config_yaml = yaml.safe_dump(inputs.config.to_yaml_dict(), sort_keys=False, allow_unicode=True)
    digest = config_hash(config_yaml, inputs.data.sha256, None)
    folder = RunFolder(root, f"{config.name}-aggregate", digest)
    try:
        folder.write_csv("agreement.csv", tables.summary)
        folder.write_csv("agreement_firms.csv", tables.firms)
        folder.write_csv("firm_means.csv", tables.firm_means)
        if tables.roles is not None:
            folder.write_csv("role_differences.csv", tables.roles)
        folder.write_text("config.yaml", config_yaml)
        folder.write_json(
            "manifest.json",
            {
                "command": command_line(),
                "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "name": config.name,
                "kind": "aggregate",
                "config_file": str(config.source),
                "data_file": str(inputs.data.path),
                "data_sha256": inputs.data.sha256,
                "n_obs": inputs.data.n,
                "versions": package_versions(),
            },
        )
        path = folder.finish()
    except BaseException:
        folder.abandon()
        raise
    if firms_csv is not None:
        text = tables.firm_means.to_csv(index=False, lineterminator="\n")
        atomic_write_text(Path(firms_csv), text)
    return path, tables
