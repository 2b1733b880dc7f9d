"""The rules of ARCHITECTURE.md, checked on every module of the package: the arrows that must
never exist (imports inside functions included), no import cycles, one owner per heavy
dependency, no private names imported across modules, modules of at most 400 lines."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "bayeslead"
CORE = ("bayeslead.core",)
MODEL = (
    "bayeslead.results",
    "bayeslead.psychometrics",
    "bayeslead.hypotheses",
    "bayeslead.simulate",
    "bayeslead.simulate_level3",
)
INPUTS = ("bayeslead.data", "bayeslead.instrument")
ENGINES = ("bayeslead.sem", "bayeslead.bayes")
APP = ("bayeslead.pipeline", "bayeslead.compare", "bayeslead.diagnose", "bayeslead.cli")
APP += ("bayeslead.aggregation", "bayeslead.method_variance", "bayeslead.api")
APP += ("bayeslead.commands", "bayeslead.warmup")
APP += ("bayeslead.study", "bayeslead.runs")  # runs last: reports may read saved runs
FAMILIES = ("single", "twolevel", "multigroup")

# (modules, what they must never import, why)
FORBIDDEN = [
    (("bayeslead.bayes",), ("bayeslead.sem",), "the engines are siblings"),
    (("bayeslead.sem",), ("bayeslead.bayes",), "the engines are siblings"),
    (CORE + MODEL, ENGINES + ("bayeslead.report",) + APP, "the core knows no engine"),
    (ENGINES, ("bayeslead.report",) + APP, "engines return a FitResult"),
    (("bayeslead.bayes.kernels",), ("bayeslead",), "kernels know no model: only other kernels"),
    (
        ("bayeslead.bayes.blocks",),
        ("bayeslead.bayes.models", "bayeslead.bayes.recipe", "bayeslead.bayes.engine"),
        "blocks know no family",
    ),
    *[
        (
            (f"bayeslead.bayes.models.{a}",),
            (f"bayeslead.bayes.models.{b}", "bayeslead.bayes.engine"),
            "families share only common layers",
        )
        for a in FAMILIES
        for b in FAMILIES
        if a != b
    ],
    (("bayeslead.report",), ENGINES + APP[:-1], "reports render saved results"),
    (INPUTS, CORE + MODEL + ENGINES + ("bayeslead.report",) + APP, "inputs know no model"),
    (("bayeslead.syntax",), ("bayeslead",), "lavaan syntax knows nothing else in bayeslead"),
]
# third-party imports that only one module may make
OWNERS = {
    "semopy": "bayeslead.sem.semopy_backend",
    "jax": "bayeslead.bayes.kernels.jax_ops",
    "nutpie": ("bayeslead.bayes.sampling", "bayeslead.bayes.nutpie_cache"),
}


def _sources() -> dict[str, str]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text("utf-8")
    return out


SOURCES = _sources()
MODULES = {name: ast.parse(text) for name, text in SOURCES.items()}


def _imports(tree: ast.Module) -> set[str]:
    """Every module an import statement names, at any depth (`from a import b` names a and a.b)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("importers, forbidden, why", FORBIDDEN)
def test_no_forbidden_arrow(importers, forbidden, why):
    found = [
        f"{module} -> {target}"
        for module, tree in MODULES.items()
        if _within(module, importers)
        for target in sorted(_imports(tree))
        if _within(target, forbidden) and not _within(target, importers)
    ]
    assert not found, f"{why}: {found}"


@pytest.mark.parametrize("library, owner", OWNERS.items())
def test_one_owner(library, owner):
    users = {
        m for m, tree in MODULES.items() if any(_within(i, (library,)) for i in _imports(tree))
    }
    assert users == ({owner} if isinstance(owner, str) else set(owner))


def test_only_sampling_runs_mcmc():
    callers = {
        module
        for module, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "sample"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in ("pm", "pymc", "nutpie")
    }
    assert callers == {"bayeslead.bayes.sampling"}


def test_no_import_cycles():
    graph = {
        m: {t for t in _imports(tree) if t in MODULES and t != m} for m, tree in MODULES.items()
    }

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo += graph[node]
        return seen

    cycles = sorted(m for m in graph if m in reach(m))
    assert not cycles


def test_no_private_names_across_modules():
    found = [
        f"{module}: {node.module}.{alias.name}"
        for module, tree in MODULES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bayeslead")
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not found


def test_modules_stay_short():
    lines = {m: text.count("\n") for m, text in SOURCES.items()}
    assert {m: n for m, n in lines.items() if n > 400} == {}
