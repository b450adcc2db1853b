"""Load and validate a spec file: every problem at once, each at its file, line and column.

Pydantic's errors are reworded from the schema itself: what the field expects (``a positive
integer``, ``a number in [0, 1)``, ``'min' or 'max'``), what was written, and the likeliest fix.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from nnctl.errors import Problem, SpecError
from nnctl.spec.catalog import hint, suggest
from nnctl.spec.checks import check_raw, check_spec
from nnctl.spec.compose import load_composed
from nnctl.spec.loader import PathKey, SourceMap, expected_got, format_path, format_value
from nnctl.spec.modes import MODE_ONLY_SECTIONS, MODE_SECTIONS
from nnctl.spec.schema import Spec, TrainSpec
from nnctl.spec.search import check_space

# What a pydantic error kind expects, for the rare error whose schema field cannot be found.
TYPE_WORDS = {
    "int": "an integer", "float": "a number", "bool": "true or false", "string": "a string",
    "list": "a list", "dict": "a mapping", "model": "a mapping",
}  # fmt: skip
BOUNDS = {
    annotated_types.Gt: ">", annotated_types.Ge: ">=",
    annotated_types.Lt: "<", annotated_types.Le: "<=",
}  # fmt: skip
OFF_WORDS = {"off", "no", "n", "false", "none", "disabled", "disable"}
ON_WORDS = {"on", "yes", "y", "true", "enabled", "enable"}
RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
UNION = (typing.Union, types.UnionType)


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
        spec._source = source  # cross-section checks may name other lines
        issues += check_spec(spec, base_dir)
    problems += [source.problem(path, message, at_key=at_key) for path, message, at_key in issues]
    if spec is not None and spec.search is not None:  # each searched value set in the spec
        known = {(format_path(path), message) for path, message, _ in issues}
        problems += check_space(data, source, spec.search, base_dir, known)
    if problems:
        raise SpecError(_sorted(problems))
    spec._source, spec._raw = source, copy.deepcopy(data)
    return spec


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path))


def _from_pydantic(exc: ValidationError, data: dict, source: SourceMap) -> list[Problem]:
    """One problem per location; a union's members' complaints merged into one message."""
    errors = exc.errors()
    errors = [e for e in errors if not _other_branch(e, data)] or errors
    by_path: dict[tuple[PathKey, bool], dict[str, bool]] = {}
    for error in errors:
        path, message, at_key = _describe(error, data)
        by_path.setdefault((path, at_key), {})[message] = error["type"].endswith("_type")
    problems = []
    for (path, at_key), messages in by_path.items():
        specific = [m for m, about_type in messages.items() if not about_type]
        message = "; ".join(specific or list(messages))
        problems.append(source.problem(path, message, at_key=at_key))
    return problems


def _other_branch(error: dict, data: dict) -> bool:
    """A union member's complaint about a mapping or list that another member accepts."""
    value, kind = error.get("input"), error["type"]
    about_kind = kind.endswith("_type") or kind == "literal_error"
    if not about_kind or not isinstance(value, dict | list):
        return False
    annotation, _ = _field_at(_raw_path(error["loc"], data), data)
    return any(_kind_fits(member, value) for member in _members(annotation))


def _raw_path(loc: tuple, data: Any) -> PathKey:
    """Map pydantic's loc (which names union members and tags) onto the keys the user wrote."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if not _has(node, part):
            continue
        node = node[part]
        path.append(part)
    return tuple(path)


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _node_at(path: PathKey, data: Any) -> Any:
    for part in path:
        data = data[part] if _has(data, part) else None
    return data


def _describe(error: dict, data: dict) -> tuple[PathKey, str, bool]:
    """(path, message, point-at-key) for one pydantic error, in nnctl's wording."""
    kind, loc, value, ctx = error["type"], error["loc"], error.get("input"), error.get("ctx", {})
    path = _raw_path(loc, data)
    if kind in ("extra_forbidden", "invalid_key"):
        key = value if kind == "invalid_key" else loc[-1]
        section = path[:-1] if path and path[-1] == key else path
        return path, _unknown_key(key, section, data), True
    if loc and loc[-1] == "[key]":
        return path, _bad_key(path, value, data), True
    if kind == "missing":
        return path, _missing(loc[-1], path, data), False
    if kind == "union_tag_invalid":
        field = ctx["discriminator"].strip("'")
        tags = [t.strip(" '") for t in ctx["expected_tags"].split(",")]
        message = f"unknown {_tag_word(field)} {ctx['tag']!r}{hint(ctx['tag'], tags)}"
        return (*path, field), message, False
    if kind == "union_tag_not_found":
        return path, _missing(ctx["discriminator"].strip("'"), path, data), False
    if kind.endswith("_type") or kind in RANGE_ERRORS or kind in ("literal_error", "finite_number"):
        return path, _mismatch(kind, path, value, data), False
    return path, _other_message(error), False


def _bad_key(path: PathKey, key: Any, data: dict) -> str:
    """A mapping key of the wrong type (a list where a name or an index is expected)."""
    annotation, _ = _field_at(path[:-1], data)
    dicts = [m for m in _members(annotation) if typing.get_origin(m) is dict]
    expected = _expected(typing.get_args(dicts[0])[0], []) if dicts else None
    return expected_got(f"{expected or 'another'} key", key)


def _mismatch(kind: str, path: PathKey, value: Any, data: dict) -> str:
    """``expected <what the schema field takes>, got <value>`` (and a close literal, if any)."""
    annotation, constraints = _field_at(path, data)
    expected = _expected(annotation, constraints) if annotation is not None else None
    if kind == "finite_number" or expected is None:
        expected = "a finite number" if kind == "finite_number" else _fallback(kind)
    literals = [v for m in _members(annotation) for v in _literals(m) if isinstance(v, str)]
    switch = _switch(path, value, annotation) if expected == "a mapping" else ""
    return expected_got(expected, value) + (suggest(value, literals) if literals else switch)


def _switch(path: PathKey, value: Any, annotation: Any) -> str:
    """A YAML 1.1 word (off, no, yes, on) or a boolean where an optional section is expected:
    how to switch the feature off, or on."""
    word = str(value).lower()
    optional = type(None) in typing.get_args(annotation) or annotation is None
    if not optional or not isinstance(value, str | bool):
        return ""
    key = path[-1] if path else "it"
    if word in OFF_WORDS:
        return f"; to switch {key} off, leave the key out (or write {key}: null)"
    if word not in ON_WORDS:
        return ""
    defaults = any(
        _is_model(m) and not any(f.is_required() for f in m.model_fields.values())
        for m in _members(annotation)
    )
    return f"; to switch {key} on, give its settings as a mapping" + (
        " ({} for the defaults)" if defaults else ""
    )


def _fallback(kind: str) -> str:
    return TYPE_WORDS.get(kind.split("_")[0], "a valid value")


def _other_message(error: dict) -> str:
    """Lengths, the name pattern, and the schema's own ValueErrors."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in ("too_short", "too_long"):
        bound = ctx.get("min_length", ctx.get("max_length"))
        side = "at least" if kind == "too_short" else "at most"
        return f"expected {side} {bound} item{'s' * (bound != 1)}, got {ctx['actual_length']}"
    if kind == "string_too_long":
        return f"expected at most {ctx['max_length']} characters, got {len(value)}"
    if kind == "string_pattern_mismatch":
        allowed = "letters, digits, '_', '.' and '-', starting with a letter or digit"
        return expected_got(f"only {allowed}", value)
    message = error["msg"].removeprefix("Value error, ")
    match = re.fullmatch(r"expected (.+), got .+", message)
    return expected_got(match.group(1), value) if match else message


def _tag_word(field: str) -> str:
    return {"source": "data source", "type": "schedule type"}.get(field, field)


def _missing(name: Any, path: PathKey, data: dict) -> str:
    """``missing required key 'k'`` with what the key means, or the values a tag may take."""
    model = _model_at(path, data)
    field = model.model_fields.get(name) if model is not None else None
    annotation, _ = _field_at(path, data)
    tags = [t for m in _members(annotation) for t in _literals(_field_type(m, name))]
    if len(tags) > 1:
        return f"missing required key {name!r}; expected one of: {', '.join(map(str, tags))}"
    what = field.description if field is not None else None
    return f"missing required key {name!r}" + (f" ({what})" if what else "")


def _unknown_key(key: Any, section: PathKey, data: dict) -> str:
    """``unknown key 'k'`` and the likeliest fix: a close key, the key's home, or the keys here."""
    model = _model_at(section, data)
    allowed = list(model.model_fields) if model is not None else []
    node = _node_at(section, data)
    source = node.get("source") if isinstance(node, dict) and "source" in allowed else None
    head = f"unknown key {format_value(key)}"
    head += f" for source {source}" if isinstance(source, str) else ""
    refused = getattr(model, "REFUSED", {}).get(key)
    if refused:
        return f"{head}; {refused}"
    close = suggest(key, allowed)
    if close or not allowed:
        return head + close
    return head + (_moved(key, section, data) or f"; expected one of: {', '.join(allowed)}")


def _moved(key: Any, section: PathKey, data: dict) -> str:
    """Where else ``key`` is a key in a spec of this mode: ``did you mean train.epochs?``, or
    the sources that take it."""
    homes = [(path, other) for path, other in _sections(_mode(data)) if key in other.model_fields]
    paths = list(dict.fromkeys(format_path((*p, key)) for p, _ in homes if p != section))
    if paths:
        return f"; did you mean {' or '.join(paths[:2])}?"
    tags = [_literals(_field_type(other, "source")) for path, other in homes if path == section]
    sources = [tag for member in tags for tag in member]
    return f"; {key!r} is a key of source {', '.join(sources)}" if sources else ""


def _mode(data: dict) -> str | None:
    """The spec's ``train.mode`` if it names one (the default, supervised, if not given)."""
    train = data.get("train") if isinstance(data, dict) else None
    default = TrainSpec.model_fields["mode"].default
    mode = train.get("mode", default) if isinstance(train, dict) else default
    return mode if mode in MODE_SECTIONS else None


@cache
def _sections(mode: str | None = None) -> list[tuple[PathKey, type[BaseModel]]]:
    """Every mapping section of the schema with its path, each class once, nearest first; with
    a mode, only the sections a spec of that mode may have."""
    found: list[tuple[PathKey, type[BaseModel]]] = []
    foreign = set(MODE_ONLY_SECTIONS) - set(MODE_SECTIONS[mode]) if mode else set()
    todo: list[tuple[PathKey, type[BaseModel]]] = [((), Spec)]
    while todo:
        path, model = todo.pop(0)
        if all(model is not seen for _, seen in found):
            found.append((path, model))
            for name, field in model.model_fields.items():
                if path == () and name in foreign:
                    continue
                if typing.get_origin(field.annotation) is not list:
                    todo += [((*path, name), m) for m in _members(field.annotation) if _is_model(m)]
    return found


# ------------------------------------------------------------------- reading the schema's types
def _field_at(path: PathKey, data: Any) -> tuple[Any, list]:
    """The annotation and constraints of the schema field the value at ``path`` fills."""
    annotation: Any = Spec
    constraints: list = []
    node = data
    for part in path:
        annotation = _select(annotation, node)
        if _is_model(annotation) and isinstance(part, str) and part in annotation.model_fields:
            field = annotation.model_fields[part]
            annotation, constraints = field.annotation, list(field.metadata)
        elif typing.get_origin(annotation) in (list, dict):
            annotation, constraints = typing.get_args(annotation)[-1], []
        else:
            return None, []
        node = node[part] if _has(node, part) else None
    return annotation, constraints


def _model_at(path: PathKey, data: Any) -> type[BaseModel] | None:
    """The schema class of the mapping at ``path``, picking the union member the data selects."""
    annotation, _ = _field_at(path, data)
    model = _select(annotation, _node_at(path, data)) if annotation is not None else None
    return model if _is_model(model) else None


def _select(annotation: Any, node: Any) -> Any:
    """The member of a union that ``node`` selects (by its kind and its tag, e.g. source)."""
    members = _members(annotation)
    for member in members:
        if _kind_fits(member, node) and _tag_fits(member, node):
            return member
    return members[0] if members else None


def _members(annotation: Any) -> list[Any]:
    """A union's members (or the one type), through Annotated, without None."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in UNION:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [] if annotation in (None, type(None)) else [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _kind_fits(member: Any, node: Any) -> bool:
    if isinstance(node, dict):
        return _is_model(member) or dict in (member, typing.get_origin(member))
    if isinstance(node, list):
        return list in (member, typing.get_origin(member))
    return True


def _tag_fits(member: Any, node: Any) -> bool:
    if not (_is_model(member) and isinstance(node, dict)):
        return True
    return all(
        node[name] in _literals(field.annotation)
        for name, field in member.model_fields.items()
        if _literals(field.annotation) and name in node
    )


def _field_type(model: Any, name: Any) -> Any:
    """The annotation of ``model``'s field ``name``, or None."""
    field = model.model_fields.get(name) if _is_model(model) else None
    return field.annotation if field is not None else None


def _literals(annotation: Any) -> tuple:
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()


def _expected(annotation: Any, constraints: list) -> str | None:
    """What a field takes, in words: ``a positive integer``, ``'min' or 'max'``, ``a mapping``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _expected(base, [*constraints, *extra])
    if origin in UNION:
        words = [_expected(arg, constraints) for arg in typing.get_args(annotation)]
        return _join(list(dict.fromkeys(w for w in words if w))) or None
    if origin is typing.Literal:
        return _join([format_value(v) for v in typing.get_args(annotation)])
    if annotation in (int, float):
        return _number(annotation, constraints)
    words = {bool: "true or false", str: "a string", list: "a list", dict: "a mapping"}
    return words.get(origin or annotation) or ("a mapping" if _is_model(annotation) else None)


def _number(kind: type, constraints: list) -> str:
    """``a positive integer``, ``a number > 0``, ``a number in [0, 1)``."""
    bounds = {type(c): c for c in _flatten(constraints) if type(c) in BOUNDS}
    low = bounds.get(annotated_types.Gt) or bounds.get(annotated_types.Ge)
    high = bounds.get(annotated_types.Lt) or bounds.get(annotated_types.Le)
    noun = "an integer" if kind is int else "a number"
    if kind is int and low == annotated_types.Gt(0) and high is None:
        return "a positive integer"
    if low is not None and high is not None:
        left = "(" if isinstance(low, annotated_types.Gt) else "["
        right = ")" if isinstance(high, annotated_types.Lt) else "]"
        return f"{noun} in {left}{_bound(low)}, {_bound(high)}{right}"
    bound = low or high
    return f"{noun} {BOUNDS[type(bound)]} {_bound(bound)}" if bound is not None else noun


def _flatten(constraints: list) -> list:
    """annotated_types constraints, including those inside ``Field(...)`` metadata."""
    out = []
    for item in constraints:
        out += _flatten(item.metadata) if isinstance(item, FieldInfo) else [item]
    return out


def _bound(constraint: Any) -> Any:
    return getattr(constraint, type(constraint).__name__.lower())


def _join(words: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
