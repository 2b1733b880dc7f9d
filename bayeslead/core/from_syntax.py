"""Building the ModelSpec from a config's lavaan syntax (`model:`), every problem at once.

The syntax is read (`bayeslead.syntax.parse_model`), ``F =~ .`` takes F's items from the
instrument, names are checked against the data columns, the instrument and what the engine
estimates (`bayeslead.syntax.check_model`), and the elements become the same ModelSpec the YAML
keys give. Normalisation, so that a run's own ``model.lav`` gives back the ModelSpec of its
YAML form: an automatic regression label (``SENS_on_TL``) used once and ``1*`` on a marker are
dropped; ``NAME := l1*l2*...`` over a directed chain of regressions, written together with
the ``NAME_total`` (and ``NAME_direct``) bayeslead generates, is the effect NAME again.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import replace
from itertools import combinations

from bayeslead.config import RunConfig
from bayeslead.core.conditional import moderator_values
from bayeslead.core.group_modifiers import per_group
from bayeslead.core.interactions import Interaction
from bayeslead.core.levels import within_model
from bayeslead.core.spec import Effect, Factor, ModelSpec, ParameterSetting, Regression, find_cycle
from bayeslead.errors import InputError, Problem
from bayeslead.instrument import Instrument
from bayeslead.syntax import (
    Capabilities,
    Element,
    LavaanProblem,
    LavaanSyntaxError,
    ModelContext,
    ParsedModel,
    check_model,
    expand_instrument,
    parse_model,
)
from bayeslead.syntax.expressions import Binary, Expr, Name, Number, Unary, names

# what every engine estimates when the caller names none (`bayeslead.syntax.Capabilities`)
BASELINE = Capabilities(engine="engine")


def spec_from_syntax(
    config: RunConfig,
    instrument: Instrument | None = None,
    columns: Collection[str] | None = None,
    capabilities: Capabilities | None = None,
) -> ModelSpec:
    """The ModelSpec of `config.model` (inline syntax or a ``.lav`` file).

    `columns` are the data file's columns (names are then checked against them, with a
    did-you-mean); without them every name that is not a construct is taken as a data column
    and checked when the data are read. `capabilities` are the engine's (`CAPABILITIES` of
    `bayeslead.sem.engine` / `bayeslead.bayes.engine`). Raises `InputError` listing every
    problem with its line and column.
    """
    text, source, (line_offset, column_offset) = model_text(config)
    try:
        parsed = parse_model(text, source, line_offset, column_offset)
    except LavaanSyntaxError as exc:
        raise _error(config, exc.problems) from None
    constructs = _instrument_constructs(instrument)
    parsed, problems = expand_instrument(parsed, constructs, source)
    parsed, group_problems = per_group(parsed, config, source)
    problems += group_problems
    latent = set(parsed.latent)
    used = {e.lhs for e in parsed.elements}
    used |= {n for e in parsed.elements if e.op in ("=~", "~", "~~") for n in e.rhs.split(":")}
    known = set(columns) | set(config.data.columns) if columns is not None else used - latent
    context = ModelContext(
        columns=frozenset(known - latent) if columns is None else frozenset(known),
        constructs=constructs,
        grouped=bool(config.data.group),
        clustered=bool(config.data.cluster),
        ordinal=config.bayes.indicators == "ordinal",
        capabilities=capabilities or BASELINE,
    )
    problems += check_model(parsed, context, source)
    parsed, level_problems = within_model(parsed, config, source)
    problems += level_problems + _structure_problems(parsed, source)
    if any(p.severity == "error" for p in problems):
        raise _error(config, problems)
    return _to_spec(parsed, config, instrument)


def model_text(config: RunConfig) -> tuple[str, str, tuple[int, int]]:
    """The syntax of `config.model`, the name its problems are reported under, and its
    (line, column) offset in that file."""
    path = config.model_file
    if path is None:
        return config.model or "", "model", config.model_position
    if not path.is_file():
        nearby = sorted(p.name for p in path.parent.glob("*.lav")) if path.parent.is_dir() else []
        hint = difflib.get_close_matches(path.name, nearby, n=1)
        message = f"model file not found: {path}" + (f"; did you mean '{hint[0]}'?" if hint else "")
        raise _error(config, [Problem("model", message)])
    return path.read_text(encoding="utf-8"), str(path), (0, 0)


def _error(config: RunConfig, problems: list) -> InputError:
    source = str(config.source) if config.source else "config"
    converted = [
        Problem(p.where, p.message, p.severity) if isinstance(p, LavaanProblem) else p
        for p in problems
    ]
    n = sum(p.severity == "error" for p in converted)
    return InputError(
        f"Config {source}: the model syntax has {n} problem{'s' * (n != 1)}:", converted, source
    )


def _instrument_constructs(instrument: Instrument | None) -> dict[str, list[str]]:
    """Instrument construct or dimension id -> its items (second order: its dimension ids)."""
    if instrument is None:
        return {}
    return instrument.indicators() | instrument.second_order()


def _structure_problems(parsed: ParsedModel, source: str) -> list[LavaanProblem]:
    """What the ModelSpec cannot hold: mixed or cross-loaded indicators, cycles, blocks,
    constrained intercepts and latent means."""
    problems = []
    latent = set(parsed.latent)

    def add(e: Element, message: str) -> None:
        problems.append(LavaanProblem(e.line, e.column, message, source=source))

    measured: dict[str, str] = {}
    for e in parsed.elements:
        if e.op == "=~":
            kinds = {n in latent for n in _indicators(parsed, e.lhs)}
            if len(kinds) > 1 and e.rhs == _indicators(parsed, e.lhs)[0]:
                add(
                    e, f"'{e.lhs}' is measured by both items and constructs: measure it by one kind"
                )
            if e.rhs in measured and measured[e.rhs] != e.lhs:
                add(
                    e,
                    f"'{e.rhs}' already measures '{measured[e.rhs]}': cross-loadings are not "
                    "estimated; each indicator measures one construct",
                )
            measured.setdefault(e.rhs, e.lhs)
        if e.op == "~1" and e.lhs in latent and e.fixed != (0.0,):
            add(e, f"latent means ('{e.lhs} ~ 1') are not estimated: remove the line")
        elif e.op == "~1" and e.lhs not in latent and e.modifiers:
            add(
                e,
                "labelled or fixed intercepts need a constrained mean structure, which is not "
                f"estimated: write '{e.lhs} ~ 1' (free) or remove the line",
            )
        if e.op == "|" and e.modifiers:
            add(e, "thresholds are estimated freely: remove the modifier")
        if e.op == "~" and ":" in e.rhs:
            observed = [n for n in e.rhs.split(":") if n not in latent]
            if observed:
                add(
                    e,
                    f"the interaction '{e.rhs}': interactions are between latent constructs; "
                    f"{', '.join(observed)} is not one",
                )
    regressions = tuple(
        Regression(e.lhs, e.rhs)
        for e in parsed.elements
        if e.op == "~" and e.rhs and ":" not in e.rhs
    )
    cycle = find_cycle(regressions)
    if cycle:
        first = next(e for e in parsed.elements if e.op == "~" and e.lhs == cycle[0])
        add(first, f"cycle: {' -> '.join(cycle)} (bayeslead estimates recursive models)")
    for block in [b for b in parsed.blocks if b.kind == "group"][:1]:
        what = (
            "write the model once: with data.group it is fitted in every group (invariant "
            "measurement, partially pooled paths)"
        )
        problems.append(
            LavaanProblem(
                block.line, block.column, f"'{block.kind}:' blocks: {what}", source=source
            )
        )
    return problems


def _indicators(parsed: ParsedModel, factor: str) -> list[str]:
    return [e.rhs for e in parsed.elements if e.op == "=~" and e.lhs == factor]


def _to_spec(parsed: ParsedModel, config: RunConfig, instrument: Instrument | None) -> ModelSpec:
    latent = list(parsed.latent)
    indicators = {f: _indicators(parsed, f) for f in latent}
    second = [f for f in latent if all(i in indicators for i in indicators[f])]
    labels = {}
    if instrument is not None:
        ids = set(_instrument_constructs(instrument))
        labels = {f: instrument.label(f) for f in latent if f in ids}
    factors = [
        Factor(f, tuple(indicators[f]), 1, labels.get(f, "")) for f in latent if f not in second
    ]
    factors += [Factor(f, tuple(indicators[f]), 2, labels.get(f, "")) for f in second]
    items = {i for f in factors if f.order == 1 for i in f.indicators}
    regressions = tuple(
        Regression(e.lhs, e.rhs)
        for e in parsed.elements
        if e.op == "~" and e.rhs and ":" not in e.rhs
    )
    interactions = tuple(
        Interaction(e.lhs, *e.rhs.split(":"))
        for e in parsed.elements
        if e.op == "~" and ":" in e.rhs
    )
    terms = [(e.lhs, *e.rhs.split(":")) for e in parsed.elements if e.op in ("~", "~~", "~1")]
    used = [n for names_ in terms for n in names_ if n]
    observed = tuple(dict.fromkeys(n for n in used if n not in indicators and n not in items))
    probe = ModelSpec(factors=tuple(factors), regressions=regressions, observed=observed)
    exogenous_pairs = {frozenset(p) for p in combinations(probe.exogenous(), 2)}
    covariances = tuple(
        (e.lhs, e.rhs)
        for e in parsed.elements
        if e.op == "~~" and e.lhs != e.rhs and frozenset((e.lhs, e.rhs)) not in exogenous_pairs
    )
    settings = _settings(parsed, indicators)
    spec = ModelSpec(
        factors=tuple(factors),
        regressions=regressions,
        covariances=covariances,
        observed=observed,
        cluster=config.data.cluster,
        level3=config.data.level3,
        group=config.data.group,
        labels=labels,
        settings=settings,
        between_paths=config.bayes.between_paths if config.data.cluster else "",
        interactions=interactions,
        moderator_values=moderator_values(config.moderator_percentiles),
        intercepts=tuple(
            dict.fromkeys(
                e.lhs for e in parsed.elements if e.op == "~1" and e.lhs not in indicators
            )
        ),
    )
    equalities, label_values = [], []
    for c in parsed.constraints:
        left, right = (c.lhs, c.rhs) if isinstance(c.lhs, Name) else (c.rhs, c.lhs)
        if isinstance(right, Name):
            equalities.append((left.name, right.name))
        else:
            label_values.append((left.name, _number(right)))
    effects, definitions = _effects(spec, parsed)
    return replace(
        spec,
        effects=effects,
        definitions=definitions,
        equalities=tuple(equalities),
        label_values=tuple(label_values),
    )


def _number(expr: Expr) -> float:
    if isinstance(expr, Unary):
        return -_number(expr.operand) if expr.op == "-" else _number(expr.operand)
    assert isinstance(expr, Number)
    return expr.value


def _settings(
    parsed: ParsedModel, indicators: dict[str, list[str]]
) -> tuple[ParameterSetting, ...]:
    """The modifiers as settings, without the ones that only restate bayeslead's defaults."""
    counts: dict[str, int] = {}
    for e in parsed.elements:
        for label in e.label:
            counts[label] = counts.get(label, 0) + 1
    referenced = {n.name for c in parsed.constraints for n in names(c.lhs) + names(c.rhs)}
    out = []
    for e in parsed.elements:
        if e.op in ("~1", "|") or not e.modifiers:
            continue
        group_labels = e.label if len(e.label) > 1 else ()  # c(...) in a multi-group model
        group_fixed = e.fixed if len(e.fixed) > 1 else ()
        label = "" if group_labels else next((v for v in e.label if v is not None), "")
        # the automatic label of a path or interaction (BI_on_RECO, BI_on_RECO_x_ENV)
        automatic = e.op == "~" and label == f"{e.lhs}_on_{e.rhs.replace(':', '_x_')}"
        if automatic and counts[label] == 1 and label not in referenced:
            label = ""
        fixed = e.fixed[0] if len(e.fixed) == 1 else None
        marker = e.op == "=~" and indicators[e.lhs][0] == e.rhs
        if marker and fixed == 1.0:
            fixed = None
        start = e.modifier("start")
        equal = e.modifier("equal")
        setting = ParameterSetting(
            e.lhs,
            e.op,
            e.rhs,
            label=label,
            fixed=fixed,
            free=e.freed and marker,
            start=start.values[0] if start else None,
            equal=equal.values[0] if equal else "",
            group_labels=group_labels,
            group_fixed=group_fixed,
        )
        if setting != ParameterSetting(e.lhs, e.op, e.rhs):
            out.append(setting)
    return tuple(out)


def _effects(spec: ModelSpec, parsed: ParsedModel) -> tuple[tuple[Effect, ...], tuple]:
    """Definitions that are bayeslead effects (a chain, written with its generated total and
    direct definitions), and the other definitions."""
    by_name = {d.name: d for d in parsed.definitions}
    effects, taken = [], set()
    for d in parsed.definitions:
        chain = _chain(spec, d.expr)
        if chain is None or len(chain) < 3:
            continue
        effect = Effect(d.name, chain)
        total = by_name.get(f"{d.name}_total")
        if total is None or total.expr != spec.effect_ast(effect, "total"):
            continue
        direct = by_name.get(f"{d.name}_direct")
        has_direct = spec.regression(effect.target, effect.source) is not None
        if has_direct != (direct is not None):
            continue
        if direct is not None and direct.expr != spec.effect_ast(effect, "direct"):
            continue
        effects.append(effect)
        taken |= {d.name, f"{d.name}_total", f"{d.name}_direct"}
    spec = replace(spec, effects=tuple(effects))
    indices = {imm.name: imm for imm in spec.moderated_mediations()}
    for d in parsed.definitions:  # the generated indices of moderated mediation
        imm = indices.get(d.name)
        if imm is not None and d.expr == spec.to_parsed_definition(imm):
            taken.add(d.name)
    definitions = tuple(d for d in parsed.definitions if d.name not in taken)
    return tuple(effects), definitions


def _chain(spec: ModelSpec, expr: Expr) -> tuple[str, ...] | None:
    """The constructs of a product of regression labels that form a directed chain."""
    factors: list[str] = []

    def collect(node: Expr) -> bool:
        if isinstance(node, Binary) and node.op == "*":
            return collect(node.left) and collect(node.right)
        if isinstance(node, Name):
            factors.append(node.name)
            return True
        return False

    if not collect(expr):
        return None
    links = []
    for label in factors:
        found = [r for r in spec.regressions if spec.label_of(r.outcome, "~", r.predictor) == label]
        if len(found) != 1:
            return None
        links.append(found[0])
    chain = [links[0].predictor]
    for link in links:
        if link.predictor != chain[-1]:
            return None
        chain.append(link.outcome)
    return tuple(chain)
