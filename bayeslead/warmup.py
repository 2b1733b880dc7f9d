"""Compile once per machine, at install time: ``python -m bayeslead.warmup``.

The first Bayesian fit on a machine compiles what every later fit loads from disk: numba's
likelihood kernels, PyTensor's compiled log-density of the model's structure and nutpie's entry
points (`bayes/nutpie_cache.py`; the cache key is the structure, not the data). This runs each
bundled Bayesian config's fit recipe with a token number of draws (the draws do not enter the
compiled structure), then the first of them again (a structure hit, whose check of the stored
machine code calls the kernels from Python: those calls compile once too), so those caches are
filled before a user's first fit; `make demo` and `make test` run it once after installing. A
structure not warmed up here compiles on its first fit, once, saying so ("Compiling the sampler
for this model structure (once per machine)").

By default the continuous single-level configs: 132 s on a quiet machine with empty caches
(2026-12-08), after which Holzinger-Swineford's first fit takes 4.6 s and the bundled study's
9.5 s, as warm ones do; ``--all`` adds the ordinal, two-level and multi-group ones (minutes
each).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bayeslead.config import RunConfig, load_config
from bayeslead.pipeline import fit, load_inputs

CONFIGS = Path(__file__).parents[1] / "configs"
TOKEN_DRAWS = {"chains": 2, "draws": 10, "tune": 10, "loo": False}


def bundled_configs(every: bool = False) -> list[Path]:
    """The bundled Bayesian configs: continuous single-level ones, or `every` one."""
    out = []
    for path in sorted(CONFIGS.glob("*.yaml")):
        config = load_config(path)
        if config.engine != "bayes":
            continue
        simple = config.bayes.indicators == "continuous" and not (
            config.data.cluster or config.data.group
        )
        if every or simple:
            out.append(path)
    return out


def warm_up(paths: list[Path], show: bool = True) -> list[tuple[str, float, str]]:
    """Compile the sampler of each config's model structure (a fit with a token number of
    draws, nothing written); returns (name, seconds, how the entry points were obtained)."""
    done = []
    for path in paths:
        config = token_config(load_config(path))
        if show:
            print(
                f"Compiling the sampler for {config.name} (once per machine) ...", file=sys.stderr
            )
        started = time.perf_counter()
        result = fit(load_inputs(config), progress=False)
        seconds = time.perf_counter() - started
        done.append((config.name, seconds, str(result.info.get("compile_cache", "-"))))
        if show:
            print(f"  done in {seconds:.1f} s (cache: {done[-1][2]})", file=sys.stderr)
    if paths:  # `nutpie_structure.mismatch` calls the kernels from Python: 4 s once per machine
        fit(load_inputs(token_config(load_config(paths[0]))), progress=False)
    return done


def token_config(config: RunConfig) -> RunConfig:
    """`config` with a token number of draws (two chains, 10 + 10), without PSIS-LOO."""
    return config.model_copy(update={"bayes": config.bayes.model_copy(update=TOKEN_DRAWS)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--all", action="store_true", help="also the ordinal, two-level and multi-group configs"
    )
    args = parser.parse_args(argv)
    warm_up(bundled_configs(args.all))


if __name__ == "__main__":
    main()
