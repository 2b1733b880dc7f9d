"""A small reader of lavaan model syntax for the reference corpus (`=~`, `~`, `~~`, labels
`a*x`, comments, `:=` skipped), giving the RunConfig keys that describe the same model."""

from __future__ import annotations

from pathlib import Path


def config_keys(path: Path) -> dict:
    """constructs / second_order / observed / paths / covariances of a model.lav file."""
    measurement: dict[str, list[str]] = {}
    paths: dict[str, list[str]] = {}
    covariances: list[tuple[str, str]] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if not line or ":=" in line:
            continue
        for op in ("=~", "~~", "~"):
            if op in line:
                lhs, rhs = (s.strip() for s in line.split(op, 1))
                terms = [t.strip().split("*")[-1] for t in rhs.split("+")]
                break
        if op == "=~":
            measurement.setdefault(lhs, []).extend(terms)
        elif op == "~":
            paths.setdefault(lhs, []).extend(terms)
        else:
            covariances += [(lhs, t) for t in terms]
    latents = set(measurement)
    second = {k: v for k, v in measurement.items() if set(v) <= latents}
    first = {k: v for k, v in measurement.items() if k not in second}
    items = {i for v in first.values() for i in v}
    named = set(paths) | {p for v in paths.values() for p in v}
    observed = sorted(named - latents - items, key=_first_mention(paths))
    return {
        "constructs": first,
        "second_order": second,
        "observed": observed,
        "paths": paths,
        "covariances": covariances,
    }


def _first_mention(paths: dict[str, list[str]]):
    order = list(dict.fromkeys(n for k, v in paths.items() for n in (*v, k)))
    return order.index
