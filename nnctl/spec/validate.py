"""Load and validate a spec file: every problem at once, each at its file, line and column."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nnctl.errors import Problem, SpecError
from nnctl.spec.catalog import suggest
from nnctl.spec.checks import check_raw, check_spec
from nnctl.spec.compose import load_composed
from nnctl.spec.loader import PathKey, SourceMap
from nnctl.spec.schema import Spec

TYPE_WORDS = {
    "int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
    "list": "a list", "dict": "a mapping", "model": "a mapping",
}  # fmt: skip


def load_spec(path: str | Path, overrides: list[str] = ()) -> tuple[Spec, SourceMap]:
    """Read, compose (``extends``, ``--set``) and validate a spec. Raises UserError/SpecError."""
    path = Path(path)
    data, source = load_composed(path, list(overrides))
    return validate(data, source, base_dir=path.parent), source


def validate(data: dict[str, Any], source: SourceMap, base_dir: Path | None = None) -> Spec:
    """Validate loaded YAML data; raise SpecError listing every problem."""
    issues = check_raw(data)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        spec, problems = None, _from_pydantic(exc, data, source)
    else:
        problems = []
        issues += check_spec(spec, base_dir)
    problems += [source.problem(path, message, at_key=at_key) for path, message, at_key in issues]
    if problems:
        raise SpecError(_sorted(problems))
    spec._source = source
    return spec


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path))


def _from_pydantic(exc: ValidationError, data: dict, source: SourceMap) -> list[Problem]:
    by_path: dict[tuple[PathKey, bool], list[str]] = {}
    for error in exc.errors():
        path, message, at_key = _describe(error, data)
        messages = by_path.setdefault((path, at_key), [])
        if message not in messages:
            messages.append(message)
    problems = []
    for (path, at_key), messages in by_path.items():
        message = messages[0] if len(messages) == 1 else "; or ".join(messages)
        problems.append(source.problem(path, message, at_key=at_key))
    return problems


def _raw_path(loc: tuple, data: Any) -> PathKey:
    """Map pydantic's loc (which names union members and tags) onto the keys the user wrote."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            continue
        path.append(part)
    return tuple(path)


def _describe(error: dict, data: dict) -> tuple[PathKey, str, bool]:
    """(path, message, point-at-key) for one pydantic error, in nnctl's wording."""
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx", {})
    path = _raw_path(loc, data)
    got = (
        f"got {value!r}" if not isinstance(value, dict | list) else f"got a {type(value).__name__}"
    )
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data)
        return path, f"unknown key {loc[-1]!r}{suggest(loc[-1], allowed)}", True
    if kind == "missing":
        return path, f"missing required key {loc[-1]!r}", False
    if kind == "union_tag_invalid":
        field = ctx["discriminator"].strip("'")
        tags = [t.strip(" '") for t in ctx["expected_tags"].split(",")]
        hint = suggest(ctx["tag"], tags) or f"; expected one of: {', '.join(tags)}"
        return (*path, field), f"unknown {_tag_word(field)} {ctx['tag']!r}{hint}", False
    if kind == "union_tag_not_found":
        return path, f"missing required key {ctx['discriminator'].strip(chr(39))!r}", False
    if kind.endswith("_type") and kind.split("_")[0] in TYPE_WORDS:
        return path, f"expected {TYPE_WORDS[kind.split('_')[0]]}, {got}", False
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}[kind]  # fmt: skip
        bound = next(iter(ctx.values()))
        return path, f"expected a number {op} {bound}, {got}", False
    if kind == "literal_error":
        return path, f"expected {ctx['expected']}, {got}", False
    if kind == "too_short":
        return (
            path,
            f"expected at least {ctx['min_length']} item(s), got {ctx['actual_length']}",
            False,
        )
    if kind == "string_pattern_mismatch":
        return path, f"expected letters, digits, '_', '.' or '-', {got}", False
    message = error["msg"].removeprefix("Value error, ")
    return path, message, False


def _tag_word(field: str) -> str:
    return {"source": "data source", "type": "schedule type"}.get(field, field)


def _allowed_keys(loc: tuple, data: dict) -> list[str]:
    """Field names of the schema class at ``loc`` (following union tags through the data)."""
    model: Any = Spec
    node: Any = data
    for part in loc:
        node = node.get(part) if isinstance(node, dict) else None
        if isinstance(part, int):
            continue
        model = _member(model, part, node)
        if model is None:
            return []
    return (
        list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    )


def _member(model: Any, part: Any, node: Any) -> Any:
    """The schema class one step down ``part``, picking the union member the data selects."""
    if (
        not (isinstance(model, type) and issubclass(model, BaseModel))
        or part not in model.model_fields
    ):
        return None
    candidates = _models_in(model.model_fields[part].annotation)
    if len(candidates) > 1 and isinstance(node, dict):
        for candidate in candidates:
            for name, field in candidate.model_fields.items():
                tags = typing.get_args(field.annotation)
                if typing.get_origin(field.annotation) is typing.Literal and node.get(name) in tags:
                    return candidate
    return candidates[0] if candidates else None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every BaseModel class inside an annotation (through Annotated, unions, lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []
