"""The constrained models of issue 20 against lavaan's fits (tests/reference/lavaan_constraints).

The parser's equality classes are lavaan's (its ``==`` rows between plabels), and the ``:=``
evaluator reproduces lavaan's defined estimates from its label estimates, raw and std.all.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

from bayeslead.syntax import evaluate_definitions, parse_model

REFERENCE = Path(__file__).parents[1] / "reference" / "lavaan_constraints"
NAMES = ("hs_equal", "poldem_labels", "poldem_contrast")


def read(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open() as f:
        return list(csv.DictReader(f))


def lavaan_classes(name: str) -> set[frozenset[str]]:
    """Parameters tied by lavaan's '==' rows, as 'lhs op rhs' keys."""
    rows = read(f"{name}_partable.csv")
    by_plabel = {r["plabel"]: f"{r['lhs']} {r['op']} {r['rhs']}" for r in rows if r["plabel"]}
    tied: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["op"] == "==":
            tied[r["lhs"]] |= {by_plabel[r["lhs"]], by_plabel[r["rhs"]]}
    return {frozenset(v) for v in tied.values()}


def our_classes(name: str) -> set[frozenset[str]]:
    classes: dict[str, set[str]] = defaultdict(set)
    for e in parse_model((REFERENCE / f"{name}.lav").read_text()).elements:
        for label in e.label:
            classes[label].add(f"{e.lhs} {e.op} {e.rhs}")
    return {frozenset(v) for v in classes.values() if len(v) > 1}


@pytest.mark.parametrize("name", NAMES)
def test_equality_classes_are_lavaans(name):
    assert our_classes(name) == lavaan_classes(name)


def test_hs_equal_has_lavaans_degrees_of_freedom():
    """24 free rows less one equality: df = 45 - 20 = 25 (lavaan's fit)."""
    model = parse_model((REFERENCE / "hs_equal.lav").read_text())
    fit = {r["measure"]: float(r["value"]) for r in read("hs_equal_fit.csv")}
    loadings = [e for e in model.elements if e.op == "=~"]
    markers = {e.lhs for e in loadings}
    n_free_loadings = len(loadings) - len(markers)  # first loading of each factor fixed
    variances, covariances = 9 + 3, 3
    classes = sum(len(c) - 1 for c in our_classes("hs_equal"))
    npar = n_free_loadings + variances + covariances - classes
    assert (npar, 45 - npar) == (fit["npar"], fit["df"]) == (20, 25)


@pytest.mark.parametrize("column", ["est", "std.all"])
def test_defined_parameters_reproduce_lavaans(column):
    rows = read("poldem_contrast_estimates.csv")
    labels = {r["label"]: float(r[column]) for r in rows if r["label"] and r["op"] != ":="}
    model = parse_model((REFERENCE / "poldem_contrast.lav").read_text())
    ours = evaluate_definitions(model.definitions, labels)
    theirs = {r["lhs"]: float(r[column]) for r in rows if r["op"] == ":="}
    assert set(ours) == set(theirs) == {"indirect", "total", "contrast"}
    for name, value in theirs.items():
        assert float(ours[name]) == pytest.approx(value, abs=1e-12), name
    expected = {"est": 0.669446612609606, "std.all": 0.213183946111611}[column]
    assert theirs["contrast"] == pytest.approx(expected, abs=1e-12)
