"""Reading YAML files and turning pydantic validation errors into located problems."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bayeslead.errors import InputError, Problem, raise_if_errors


def load_yaml(path: Path, what: str) -> Any:
    """Load a YAML file, reporting a missing file, a syntax error with its line, and every key
    given twice in one mapping (YAML would silently keep the last)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}", source=str(path))
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)  # parsed once: the duplicates checked, then constructed
    try:
        node = loader.get_single_node()
        raise_if_errors(duplicate_keys(node), what, str(path))
        content = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise InputError(
            f"{what} {path} is not valid YAML{where}: {reason}", source=str(path)
        ) from None
    finally:
        loader.dispose()
    if content is None:
        raise InputError(f"{what} {path} is empty", source=str(path))
    if not isinstance(content, dict):
        raise InputError(
            f"{what} {path} must be a mapping of keys to values, got {type(content).__name__}",
            source=str(path),
        )
    return content


def duplicate_keys(node: yaml.Node | None) -> list[Problem]:
    """Every key given twice in one mapping of a composed YAML document, at its key path and
    line (YAML's own loader keeps the last value without a word)."""
    return _duplicates_under(node, (), set())


def _duplicates_under(node: yaml.Node | None, loc: tuple, visited: set[int]) -> list[Problem]:
    if id(node) in visited:  # an alias of a node already checked (or of itself)
        return []
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        return [
            problem
            for i, item in enumerate(node.value)
            for problem in _duplicates_under(item, (*loc, i), visited)
        ]
    if not isinstance(node, yaml.MappingNode):
        return []
    problems = []
    first_line: dict[tuple[str, str], int] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name is None or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if (key.tag, name) in first_line:
            first = first_line[key.tag, name]
            lines = f"on line {line}" if first == line else f"lines {first} and {line}"
            problems.append(
                Problem(format_loc((*loc, name)), f"key '{name}' given twice ({lines}); keep one")
            )
        else:
            first_line[key.tag, name] = line
        problems += _duplicates_under(value, (*loc, name), visited)
    return problems


def format_loc(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as a YAML key path, e.g. ``constructs[2].items[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Follow `loc` through nested pydantic models to the model owning the last key."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _innermost_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _innermost_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _innermost_model(arg)
        if found is not None:
            return found
    return None


def pydantic_problems(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Convert every pydantic error to a `Problem` with a key path and a "did you mean" hint."""
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = format_loc(loc)
        if err["type"] == "extra_forbidden":
            owner = _model_at(model, loc[:-1])
            known = sorted(owner.model_fields) if owner else []
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            message = f"unknown key '{loc[-1]}'"
            if hint:
                message += f"; did you mean '{hint[0]}'?"
            elif known:
                message += f"; known keys: {', '.join(known)}"
        elif err["type"] == "missing":
            message = "required key is missing"
        elif err["type"] == "literal_error":
            options = re.findall(r"'([^']*)'", err["ctx"]["expected"])
            message = f"{err['input']!r} is not one of: {', '.join(options)}"
            hint = difflib.get_close_matches(str(err["input"]), options, n=1)
            if hint:
                message += f"; did you mean '{hint[0]}'?"
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            shown = err["type"] not in ("model_type", "value_error")
            if shown and "input" in err and not isinstance(err["input"], dict):
                message += f" (got {err['input']!r})"
        problems.append(Problem(where, message))
    return problems


def block_position(path: Path, key: str) -> tuple[int, int]:
    """(line offset, column offset) of the text of a top-level `key` in a YAML file (an inline
    `model:` of a run config), so that problems in it are reported at the file's own lines and
    columns; (0, 0) when the key is absent."""
    lines = path.read_text(encoding="utf-8").splitlines()
    root = yaml.compose("\n".join(lines))
    node = next(
        (v for k, v in getattr(root, "value", []) if getattr(k, "value", None) == key), None
    )
    if node is None:
        return (0, 0)
    start = node.start_mark
    if node.style in ("|", ">"):
        content = [k for k in range(start.line + 1, len(lines)) if lines[k].strip()]
        first = lines[content[0]] if content else ""
        return (start.line + 1, len(first) - len(first.lstrip()))
    return (start.line, start.column + (node.style in ("'", '"')))
