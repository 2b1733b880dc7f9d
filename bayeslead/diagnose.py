"""`bayeslead diagnose`: re-check the convergence of a saved Bayesian run from its draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayeslead.bayes.gates import check_gates
from bayeslead.bayes.posterior import convergence
from bayeslead.core.effects import effect_draws
from bayeslead.core.partable import build_partable
from bayeslead.errors import InputError
from bayeslead.pipeline import saved_config, saved_spec
from bayeslead.runs import load_run


def diagnose_run(path: Path | str) -> tuple[dict[str, Any], pd.DataFrame]:
    """Re-check a saved Bayesian run: convergence of every reported parameter and effect from
    its draws, and the gates of its config. Returns the gate report and the per-parameter table."""
    run = load_run(path)
    if run.engine != "bayes":
        raise InputError(
            f"{run.path} is an ML run: diagnose checks the convergence of Bayesian runs"
        )
    config = saved_config(run)
    spec = saved_spec(run)
    table = build_partable(spec)
    idata = run.idata()
    draws = idata.posterior["estimate"].values
    names = [p.key for p in table.free_params]
    effects = effect_draws(spec, table, draws)
    if effects:
        draws = np.concatenate([draws, np.stack([d.raw for d in effects], axis=-1)], axis=-1)
        names += [f"{d.effect.name} ({d.kind})" for d in effects]
    conv = convergence(draws)
    conv.index = names
    report = check_gates(conv, idata.sample_stats, config.diagnostics)
    return report, conv
