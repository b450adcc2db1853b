"""Composing a spec: ``extends:`` a base file, then ``--set KEY=VALUE`` overrides.

Every value keeps the mark of where it came from (file:line, or the override), so errors point
into the file that holds the offending value and ``nnctl render --explain`` can say where each
value came from.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from nnctl.errors import SpecError, UserError
from nnctl.spec.blocks import expand_blocks
from nnctl.spec.loader import Mark, PathKey, SourceMap, load_value, load_yaml, read_text

MAX_EXTENDS = 16
_KEY_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def load_composed(path: Path, overrides: list[str] = ()) -> tuple[dict[str, Any], SourceMap]:
    """The spec at ``path`` with its bases merged in, ``overrides`` applied, blocks expanded."""
    data, source = _load_extending(Path(path), [])
    for override in overrides:
        _apply_override(data, source, override)
    expand_blocks(data, source)
    return data, source


def _no_base(name: str, spec: Path) -> str:
    """Where a missing base spec was looked for: relative to the extending spec's folder."""
    if Path(name).is_absolute():
        return f"no such base spec: {name}"
    folder = spec.parent.resolve()
    tried = (folder / name).resolve()
    return (
        f"no such base spec: {name} (resolved relative to the spec's folder {folder}: "
        f"tried {tried})"
    )


def _load_extending(path: Path, chain: list[Path]) -> tuple[dict[str, Any], SourceMap]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in [*chain, resolved])
        raise UserError(f"{path}: 'extends' forms a cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS:
        raise UserError(f"{path}: 'extends' chain is longer than {MAX_EXTENDS} files")
    data, source = load_yaml(read_text(path), str(path))
    base_name = data.pop("extends", None)
    if base_name is None:
        return data, source
    if not isinstance(base_name, str):
        raise SpecError([source.problem(("extends",), "expected the path of a base spec")])
    base_path = path.parent / base_name
    if not base_path.is_file():
        raise SpecError([source.problem(("extends",), _no_base(base_name, path))])
    base, base_source = _load_extending(base_path, [*chain, resolved])
    replaced = _merge(base, data, ())
    base_source.overlay(source, replaced)
    base_source.file = source.file
    return base, base_source


def _merge(base: dict, child: dict, at: PathKey) -> set[PathKey]:
    """Deep-merge ``child`` into ``base`` (mappings merge, anything else replaces).

    Returns the paths whose whole subtree ``child`` replaced.
    """
    replaced = set()
    for key, value in child.items():
        path = (*at, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            replaced |= _merge(base[key], value, path)
        else:
            base[key] = value
            replaced.add(path)
    return replaced


def parse_key(key: str) -> PathKey:
    """``model.layers[0].units`` -> ``('model', 'layers', 0, 'units')``."""
    parts: list[str | int] = []
    for index, segment in enumerate(key.split(".")):
        matches = list(_KEY_PART.finditer(segment))
        if not matches or "".join(m.group(0) for m in matches) != segment or matches[0].group(2):
            raise ValueError(f"segment {index + 1} ({segment!r}) is not a key like name or name[0]")
        parts += [m.group(1) if m.group(1) else int(m.group(2)) for m in matches]
    return tuple(parts)


def _apply_override(data: dict, source: SourceMap, override: str) -> None:
    label = f"--set {override}"
    key, sep, text = override.partition("=")
    try:
        if not sep:
            raise ValueError("expected KEY=VALUE, e.g. --set train.epochs=5")
        path = set_value(data, parse_key(key.strip()), _parse_value(text))
    except ValueError as exc:
        raise UserError(f"{label}: {exc}") from None
    for table in (source.values, source.keys):
        for old in [p for p in table if p[: len(path)] == path]:
            del table[old]
    source.values[path] = source.keys[path] = Mark(label)


def set_value(data: dict, path: PathKey, value: Any) -> PathKey:
    """Set the value at a ``--set`` key path (``nnctl tune`` sets searched values this way);
    return the path as it lies in ``data``. Raises ValueError saying why it cannot."""
    path = _through_layer_name(data, path)
    _assign(data, path, value)
    return path


def value_at(data: dict, path: PathKey) -> Any:
    """The value at a ``--set`` key path, or None where the spec does not set it."""
    node: Any = copy.deepcopy(data)
    for part in _through_layer_name(node, path):
        found = isinstance(node, dict) and part in node
        found = found or (isinstance(node, list) and isinstance(part, int) and part < len(node))
        if not found:
            return None
        node = node[part]
    return node


def _through_layer_name(data: dict, path: PathKey) -> PathKey:
    """Let ``model.layers[0].units`` reach into ``- Dense: {units: ...}`` (or ``- Dense: 64``)."""
    if len(path) < 4 or path[:2] != ("model", "layers") or not isinstance(path[2], int):
        return path
    layers = (data.get("model") or {}).get("layers")
    if not isinstance(layers, list) or path[2] >= len(layers):
        return path
    entry = layers[path[2]]
    if isinstance(entry, str):
        entry = layers[path[2]] = {entry: {}}
    if not isinstance(entry, dict) or len(entry) != 1 or path[3] in entry:
        return path
    ((name, args),) = entry.items()
    if not isinstance(args, dict):
        from nnctl.spec.schema import SHORT_FORM, short_param

        entry[name] = {} if args is None else {short_param(name): args}
        if SHORT_FORM in entry[name]:
            return path
    return (*path[:3], name, *path[3:])


def _parse_value(text: str) -> Any:
    """The value as YAML (so ``5`` is a number, ``[64, 64]`` a list), with nnctl's scalar rules."""
    try:
        return load_value(text, "--set") if text.strip() else ""
    except SpecError as exc:
        raise ValueError(f"{exc.problems[0].message} (in the value)") from None
    except UserError as exc:
        raise ValueError(str(exc).removeprefix("--set: ")) from None


def _assign(data: Any, path: PathKey, value: Any) -> None:
    node = data
    for depth, part in enumerate(path[:-1]):
        nxt = path[depth + 1]
        node = _child(
            node, part, create=dict if isinstance(nxt, str) else None, at=path[: depth + 1]
        )
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            size = len(node) if isinstance(node, list) else 0
            raise ValueError(f"index [{last}] is out of range (the list has {size} items)")
    elif not isinstance(node, dict):
        raise ValueError(f"{'.'.join(map(str, path[:-1]))} is not a mapping")
    node[last] = value


def _child(node: Any, part: str | int, create, at: PathKey) -> Any:
    if isinstance(part, int):
        if not isinstance(node, list) or part >= len(node):
            raise ValueError(f"{_fmt(at)}: no such list item")
        return node[part]
    if not isinstance(node, dict):
        raise ValueError(f"{_fmt(at[:-1])} is not a mapping")
    if part not in node or node[part] is None:
        if create is None:
            raise ValueError(f"{_fmt(at)}: no such list")
        node[part] = create()
    return node[part]


def _fmt(path: PathKey) -> str:
    from nnctl.spec.loader import format_path

    return format_path(path)
