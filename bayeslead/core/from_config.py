"""Building the ModelSpec from a run config and (optionally) its instrument, with every problem
reported at once: unknown constructs (with a "did you mean"), cycles, broken effect chains and the
settings a third level or groups need.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import replace

from bayeslead.config import RunConfig
from bayeslead.core.conditional import moderator_values
from bayeslead.core.from_syntax import spec_from_syntax
from bayeslead.core.interactions import Interaction
from bayeslead.core.spec import Effect, Factor, ModelSpec, Regression, find_cycle
from bayeslead.errors import InputError, Problem
from bayeslead.instrument import Instrument
from bayeslead.syntax import Capabilities


def build_spec(
    config: RunConfig,
    instrument: Instrument | None = None,
    columns: Collection[str] | None = None,
    capabilities: Capabilities | None = None,
) -> ModelSpec:
    """Build the ModelSpec from a run config and (optionally) its instrument.

    A config with `model:` (lavaan syntax) goes through `bayeslead.core.from_syntax`, whose
    names are checked against the data `columns` (when given) and the engine's `capabilities`.
    Raises `InputError` naming every unknown construct, cycle and broken effect chain.
    """
    if config.model is not None:
        spec = spec_from_syntax(config, instrument, columns, capabilities)
        problems = _settings_problems(config, set(spec.items), spec.observed)
        if problems:
            _raise(config, problems)
        return _with_groups(spec, config)
    problems: list[Problem] = []
    first, second, labels = _measurement(config, instrument, problems)
    if problems:
        _raise(config, problems)
    latents = set(first) | set(second)
    observed = tuple(config.observed)
    known = latents | set(observed)
    items = {i for its in first.values() for i in its}
    for i, name in enumerate(observed):
        if name in latents or name in items:
            problems.append(Problem(f"observed[{i}]", f"'{name}' is already a construct or item"))

    regressions: list[Regression] = []
    products: list[tuple[str, int, str]] = []
    for outcome, predictors in config.paths.items():
        if outcome not in known:
            problems.append(_unknown(f"paths.{outcome}", outcome, known))
        for j, pred in enumerate(predictors):
            if ":" in pred:
                products.append((outcome, j, pred))
            elif pred not in known:
                problems.append(_unknown(f"paths.{outcome}[{j}]", pred, known))
            elif pred == outcome:
                problems.append(Problem(f"paths.{outcome}[{j}]", f"cycle: {outcome} -> {outcome}"))
            else:
                regressions.append(Regression(outcome, pred))
    cycle = find_cycle(tuple(regressions))
    if cycle:
        problems.append(Problem("paths", f"cycle: {' -> '.join(cycle)}"))
    interactions = _interactions(config, products, regressions, latents, known, problems)

    covariances = []
    for i, pair in enumerate(config.covariances):
        a, b = pair
        bad = [n for n in (a, b) if n not in known and n not in items]
        for n in bad:
            problems.append(_unknown(f"covariances[{i}]", n, known | items, "construct or item"))
        if not bad and (a in items) != (b in items):
            problems.append(
                Problem(
                    f"covariances[{i}]", f"'{a}' and '{b}' must both be items or both constructs"
                )
            )
        elif not bad and a == b:
            problems.append(Problem(f"covariances[{i}]", f"'{a}' paired with itself"))
        else:
            covariances.append((a, b))

    effects = []
    paths_ok = not problems
    for name, chain in config.effects.items():
        ok = True
        for j, node in enumerate(chain):
            if node not in known:
                problems.append(_unknown(f"effects.{name}[{j}]", node, known))
                ok = False
        if ok and paths_ok:
            for a, b in zip(chain, chain[1:], strict=False):
                if Regression(b, a) not in regressions:
                    problems.append(
                        Problem(
                            f"effects.{name}",
                            f"link {a} -> {b} is not a path (add '{a}' to paths.{b})",
                        )
                    )
                    ok = False
        if ok:
            effects.append(Effect(name, tuple(chain)))

    problems += _settings_problems(config, items, observed)
    if any(p.severity == "error" for p in problems):
        _raise(config, problems)
    factors = [Factor(n, tuple(ind), 1, labels.get(n, "")) for n, ind in first.items()]
    factors += [Factor(n, tuple(ind), 2, labels.get(n, "")) for n, ind in second.items()]
    spec = ModelSpec(
        factors=tuple(factors),
        regressions=tuple(regressions),
        covariances=tuple(covariances),
        effects=tuple(effects),
        observed=observed,
        cluster=config.data.cluster,
        level3=config.data.level3,
        group=config.data.group,
        labels=labels,
        between_paths=config.bayes.between_paths if config.data.cluster else "",
        interactions=tuple(interactions),
        moderator_values=moderator_values(config.moderator_percentiles),
    )
    return _with_groups(spec, config)


def _with_groups(spec: ModelSpec, config: RunConfig) -> ModelSpec:
    """The spec with the config's group_equal / group_partial (lavaan's names)."""
    return replace(
        spec, group_equal=tuple(config.group_equal), group_partial=tuple(config.group_partial)
    )


def _settings_problems(config: RunConfig, items: set[str], observed) -> list[Problem]:
    """Id columns that are items, and what a third level or groups need."""
    problems = []
    for key, setting in (
        ("cluster", "data.cluster"),
        ("level3", "data.level3"),
        ("group", "data.group"),
    ):
        if getattr(config.data, key) and getattr(config.data, key) in items:
            problems.append(Problem(setting, "must be an id column, not an item"))
    if config.data.level3:
        problems += _level3_problems(config)
    if config.data.group:
        problems += _group_problems(config, items, observed)
    invariance, grouped, bayes = config.bayes.invariance, bool(config.data.group), config.engine
    bayes_groups = bayes == "bayes" and grouped
    ungrouped = "needs data.group (the column naming each group)"
    checks = [
        (config.group_equal and not grouped, "group_equal", ungrouped),
        (config.group_partial and not grouped, "group_partial", ungrouped),
        (invariance != "full" and not grouped, "bayes.invariance", ungrouped),
        (
            config.group_equal and bayes == "bayes",
            "group_equal",
            "is read by engine: sem; the Bayesian multi-group model sets what is equal across "
            "groups with bayes.invariance (full, partial or approximate)",
        ),
        (
            bayes_groups and config.group_partial and invariance == "full",
            "group_partial",
            "frees parameters only with bayes.invariance: partial or approximate",
        ),
        (
            bayes_groups and invariance == "partial" and not config.group_partial,
            "bayes.invariance",
            "partial needs group_partial (the loadings or intercepts to free, e.g. ['x3 ~ 1'])",
        ),
    ]
    problems += [Problem(key, message) for failed, key, message in checks if failed]
    return problems


def _interactions(
    config: RunConfig,
    products: list[tuple[str, int, str]],
    regressions: list[Regression],
    latents: set[str],
    known: set[str],
    problems: list[Problem],
) -> list[Interaction]:
    """The `A:B` terms of paths: two distinct latent constructs, both also main effects."""
    out: list[Interaction] = []
    for outcome, j, term in products:
        where = f"paths.{outcome}[{j}]"
        parts = [part.strip() for part in term.split(":")]
        if len(parts) != 2 or not all(parts):
            problems.append(Problem(where, f"'{term}' must be a product of two constructs: 'A:B'"))
            continue
        bad = [part for part in parts if part not in known]
        problems += [_unknown(where, part, known) for part in bad]
        if bad:
            continue
        left, right = parts
        observed = [part for part in parts if part not in latents]
        if observed:
            problems.append(
                Problem(
                    where,
                    f"'{term}': interactions are between latent constructs; "
                    f"{', '.join(observed)} is an observed variable",
                )
            )
        elif left == right:
            problems.append(
                Problem(
                    where, f"'{term}': a construct times itself (quadratic terms are not supported)"
                )
            )
        elif outcome in parts:
            problems.append(
                Problem(where, f"'{term}': the outcome {outcome} cannot moderate itself")
            )
        else:
            missing = [part for part in parts if Regression(outcome, part) not in regressions]
            if missing:
                problems.append(
                    Problem(
                        where,
                        f"'{term}' needs both main effects: add {', '.join(repr(m) for m in missing)} "
                        f"to paths.{outcome}",
                    )
                )
            elif any({q.left, q.right} == {left, right} and q.outcome == outcome for q in out):
                problems.append(Problem(where, f"'{term}' is listed twice"))
            else:
                out.append(Interaction(outcome, left, right))
    if out:
        problems += _interaction_problems(config)
    return out


def _interaction_problems(config: RunConfig) -> list[Problem]:
    """What latent interactions cannot be combined with in this version."""
    reasons = []
    if config.data.cluster:
        reasons.append("latent interactions are single-level in this version (remove data.cluster)")
    if config.data.group:
        reasons.append("latent interactions cannot be combined with data.group in this version")
    if config.observed:
        reasons.append("latent interactions need a model of latent constructs only (no observed:)")
    return [Problem("paths", reason) for reason in reasons]


def _level3_problems(config: RunConfig) -> list[Problem]:
    """What a third level (data.level3) needs in this version."""
    reasons = []
    if not config.data.cluster:
        reasons.append("a third level needs data.cluster (clusters nested in level-3 units)")
    if config.engine != "bayes":
        reasons.append("a third level needs engine: bayes")
    if config.bayes.indicators != "continuous":
        reasons.append("a third level supports continuous indicators only")
    return [Problem("data.level3", reason) for reason in reasons]


def _group_problems(config: RunConfig, items, observed) -> list[Problem]:
    """What a multi-group model (data.group) cannot be combined with in this version."""
    reasons = []
    if config.data.cluster:
        reasons.append("cannot be combined with data.cluster (two-level models)")
    if observed:
        reasons.append(
            "multi-group models support latent constructs only; observed structural variables "
            f"({', '.join(observed)}) would need group-specific means"
        )
    return [Problem("data.group", reason) for reason in reasons]


def _measurement(
    config: RunConfig, instrument: Instrument | None, problems: list[Problem]
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """First-order factor -> items, second-order factor -> factors, and labels."""
    first: dict[str, list[str]] = {}
    second: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    if isinstance(config.constructs, dict):
        first.update({k: list(v) for k, v in config.constructs.items()})
    if instrument is not None:
        available = set(instrument.indicators()) | set(instrument.second_order())
        if isinstance(config.constructs, list):
            wanted = set(config.constructs)
            for i, name in enumerate(config.constructs):
                if name not in available:
                    problems.append(
                        _unknown(f"constructs[{i}]", name, available, "instrument construct")
                    )
        else:
            wanted = _mentioned(config) & available
            if not wanted and not first:
                wanted = available
        inst_first, inst_second = _from_instrument(instrument, wanted)
        first = inst_first | first
        second.update(inst_second)
        labels.update({n: instrument.label(n) for n in [*inst_first, *inst_second]})
    elif isinstance(config.constructs, list):
        problems.append(
            Problem("constructs", "a list of construct ids needs an instrument; map names to items")
        )
    if not first and not config.observed:
        problems.append(
            Problem(
                "constructs",
                "no constructs and no observed variables: give an instrument, constructs: "
                "{name: [items]} or observed: [columns] (a path model on observed scores)",
            )
        )
    for name, members in config.second_order.items():
        for j, member in enumerate(members):
            if member not in first:
                problems.append(
                    _unknown(
                        f"second_order.{name}[{j}]", member, set(first), "first-order construct"
                    )
                )
        if len(members) < 2:
            problems.append(
                Problem(f"second_order.{name}", "needs at least 2 first-order constructs")
            )
        second[name] = list(members)
    problems += _measured_twice("constructs", first) + _measured_twice("second_order", second)
    for name, items in first.items():
        if len(items) < 2 and isinstance(config.constructs, dict) and name in config.constructs:
            problems.append(
                Problem(f"constructs.{name}", "a construct needs at least 2 indicators")
            )
    return first, second, labels


def _measured_twice(key: str, blocks: dict[str, list[str]]) -> list[Problem]:
    """Each indicator measures one construct (lavaan syntax refuses cross-loadings too): every
    repeat at its key, e.g. an inline construct taking an item of the instrument's."""
    owner: dict[str, str] = {}
    twice = "is listed twice"
    other = "already measures '{}': cross-loadings are not estimated, each indicator measures "
    other += "one construct"
    return [
        Problem(
            f"{key}.{name}[{j}]",
            f"'{member}' " + (twice if owner[member] == name else other.format(owner[member])),
        )
        for name, members in blocks.items()
        for j, member in enumerate(members)
        if owner.setdefault(member, name) != name or members.index(member) != j
    ]


def _from_instrument(
    instrument: Instrument, wanted: set[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The wanted constructs (a second-order one brings its dimensions) in questionnaire order."""
    indicators = instrument.indicators()
    first: dict[str, list[str]] = {}
    second: dict[str, list[str]] = {}
    for construct in instrument.constructs:
        dims = [d.id for d in construct.dimensions]
        if construct.id in wanted and dims:
            second[construct.id] = dims
        for name in dims or [construct.id]:
            if name in wanted or construct.id in wanted:
                first[name] = indicators[name]
    return first, second


def _raise(config: RunConfig, problems: list[Problem]) -> None:
    source = str(config.source) if config.source else "config"
    n = len(problems)
    raise InputError(
        f"Config {source}: the model has {n} problem{'s' * (n != 1)}:", problems, source
    )


def _mentioned(config: RunConfig) -> set[str]:
    names = set(config.paths)
    names |= {part for preds in config.paths.values() for p in preds for part in p.split(":")}
    names |= {n for chain in config.effects.values() for n in chain}
    names |= {n for pair in config.covariances for n in pair}
    names |= set(config.second_order) | {m for ms in config.second_order.values() for m in ms}
    return names


def _unknown(where: str, name: str, known: set[str], kind: str = "construct") -> Problem:
    listing = ", ".join(sorted(known)) or "(none)"
    hint = difflib.get_close_matches(name, sorted(known), n=1)
    parts = [f"unknown {kind} '{name}'"] + [f"did you mean '{h}'?" for h in hint]
    return Problem(where, "; ".join([*parts, f"known: {listing}"]))
