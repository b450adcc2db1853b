"""``nnctl render --explain``: the resolved spec, each value marked with where it came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

from nnctl.spec.loader import PathKey, SourceMap, format_path

if TYPE_CHECKING:
    from nnctl.spec.schema import Spec

DEFAULT = "default"


def origin(path: PathKey, raw: dict[str, Any], source: SourceMap) -> str:
    """``file:line``, ``--set KEY=VALUE`` or ``default`` for one resolved value."""
    node: Any = raw
    raw_path: list[str | int] = []
    for depth, part in enumerate(path):
        if isinstance(node, dict) and part not in node and _is_layer_entry(path[:depth]):
            part = next(iter(node))  # the user wrote another spelling of the layer name
        indexed = isinstance(node, list) and isinstance(part, int)
        if (isinstance(node, dict) and part in node) or (indexed and part < len(node)):
            node = node[part]
            raw_path.append(part)
        elif isinstance(node, dict) or indexed:
            return DEFAULT
        else:
            break  # a short form (``Dense: 64``, ``Reshape: [8, 8, 1]``) set this value
    mark = source.values.get(tuple(raw_path))
    return str(mark) if mark else DEFAULT


def _is_layer_entry(path: PathKey) -> bool:
    return len(path) == 3 and path[:2] == ("model", "layers")


def render(resolved: dict[str, Any], raw: dict[str, Any] | None, source: SourceMap | None) -> str:
    """YAML of ``resolved``; with ``raw`` and ``source``, a ``# origin`` comment on every value."""
    if raw is None or source is None:
        return yaml.safe_dump(resolved, sort_keys=False, width=100)
    return annotated(resolved, lambda p: origin(p, raw, source))


def annotated(resolved: dict[str, Any], where: Callable[[PathKey], str]) -> str:
    """YAML of ``resolved`` with a ``# where(path)`` comment on every value."""
    lines: list[str] = []
    _emit(resolved, (), 0, lines, where)
    return "\n".join(lines) + "\n"


def origins(spec: Spec) -> dict[str, str]:
    """Where each of a validated spec's values came from that is not a default — ``file:line``
    or the ``--set`` that set it — by key path (``optimizer.learning_rate``): what a run
    directory records, so that its report can say it after the spec file has changed."""
    found: dict[str, str] = {}
    if spec._raw is None or spec._source is None:
        return found

    def where(path: PathKey) -> str:
        mark = origin(path, spec._raw, spec._source)
        if mark != DEFAULT:
            found[format_path(path)] = mark
        return mark

    _emit(spec.resolved(), (), 0, [], where)
    return found


def _scalar(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("\n...")
    )


def _emit(node: Any, path: PathKey, indent: int, lines: list[str], where) -> None:
    pad = "  " * indent
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        child = (*path, key)
        if isinstance(node, list) and isinstance(value, dict) and value:
            start = len(lines)
            _emit(value, child, indent + 1, lines, where)
            lines[start] = f"{pad}- {lines[start].lstrip()}"  # "- Dense:" on one line
            continue
        head = f"{pad}{key}:" if isinstance(node, dict) else f"{pad}-"
        nested = (isinstance(value, dict) and value) or (
            isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
        )
        if nested:
            lines.append(head)
            _emit(value, child, indent + 1, lines, where)
        else:
            lines.append(f"{head} {_scalar(value)}  # {where(child)}")
