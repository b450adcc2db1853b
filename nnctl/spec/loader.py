"""Safe YAML loading that remembers where every key and value came from.

YAML 1.1 quirks are switched off: only ``true``/``false`` are booleans (``yes``, ``on``, ``no``
stay strings), dates stay strings, and ``1e-3`` is the number 0.001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnctl.errors import Problem, SpecError, UserError

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 100_000  # bounds alias expansion ("billion laughs") before anything walks the data
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-style scalars."""


SpecLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag.rsplit(":", 1)[-1] not in {"bool", "float", "timestamp"}
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def format_path(path: PathKey) -> str:
    """``('model', 'layers', 2, 'units')`` -> ``model.layers[2].units``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Mark:
    """Where a value came from: a file position, or a command-line override (no line)."""

    file: str
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a spec came from, across files and overrides."""

    file: str  # the spec the user named
    texts: dict[str, list[str]] = field(default_factory=dict)  # file -> its lines
    values: dict[PathKey, Mark] = field(default_factory=dict)
    keys: dict[PathKey, Mark] = field(default_factory=dict)

    def mark(self, path: PathKey, *, at_key: bool = False) -> Mark | None:
        """The mark of ``path``, or of the nearest enclosing value that has one."""
        probe = tuple(path)
        while probe:
            found = (self.keys.get(probe) if at_key else None) or self.values.get(probe)
            if found:
                return found
            probe = probe[:-1]
        return self.values.get(())

    def problem(self, path: PathKey, message: str, *, at_key: bool = False) -> Problem:
        """A Problem located at ``path`` (or the nearest enclosing value with a mark)."""
        mark = self.mark(path, at_key=at_key) or Mark(self.file)
        lines = self.texts.get(mark.file, [])
        source = lines[mark.line - 1] if mark.line and mark.line <= len(lines) else None
        return Problem(format_path(path), message, mark.file, mark.line, mark.column, source)

    def overlay(self, other: SourceMap, replaced: set[PathKey]) -> None:
        """Take ``other``'s marks over ours; drop ours under the subtrees ``other`` replaced."""
        for table, theirs in ((self.values, other.values), (self.keys, other.keys)):
            for path in [p for p in table if any(p[: len(r)] == r for r in replaced)]:
                del table[path]
            table.update(theirs)
        self.texts.update(other.texts)


def _problem_at(file: str, text: str, mark: Any, message: str) -> Problem:
    line = mark.line + 1 if mark else None
    lines = text.splitlines()
    source = lines[mark.line] if mark and mark.line < len(lines) else None
    return Problem("", message, file, line, mark.column + 1 if mark else None, source)


def read_text(path: Path) -> str:
    """Read a spec file, refusing what cannot be a spec with a one-line error."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not a spec file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES}-byte limit for a spec")
    raw = path.read_bytes()
    if b"\0" in raw:
        raise UserError(f"{path}: binary file, not a YAML spec")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_yaml(text: str, file: str = "<spec>") -> tuple[dict[str, Any], SourceMap]:
    """Parse one YAML mapping safely; return it with its SourceMap. Raises SpecError."""
    loader = SpecLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise UserError(f"{file}: empty file, expected a spec mapping")
        data = loader.construct_document(node)
    except yaml.composer.ComposerError as exc:
        message = "a spec holds a single YAML document; found a second one here"
        raise SpecError([_problem_at(file, text, exc.problem_mark, message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if "could not determine a constructor" in str(exc.problem):
            message = f"tag {exc.problem.split('tag ')[-1]} is not allowed: a spec is plain data"
        raise SpecError([_problem_at(file, text, mark, message)]) from None
    except RecursionError:
        raise UserError(f"{file}: nesting too deep") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise SpecError(
            [_problem_at(file, text, node.start_mark, f"expected a mapping, got {kind}")]
        )
    source = SourceMap(file, {file: text.splitlines()})
    problems: list[Problem] = []
    _walk(node, (), source, problems, [0])
    if problems:
        raise SpecError(problems)
    return data, source


def _mark(node: yaml.Node, file: str) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(
    node, path: PathKey, source: SourceMap, problems: list[Problem], count: list[int]
) -> None:
    """Record marks for every value; catch duplicate keys and explosive documents."""
    count[0] += 1
    if count[0] > MAX_NODES or len(path) > MAX_DEPTH:
        what = "nested too deeply" if len(path) > MAX_DEPTH else f"over {MAX_NODES} values"
        problems.append(source.problem(path, f"document is {what} (alias expansion?)"))
        raise SpecError(problems)
    source.values.setdefault(path, _mark(node, source.file))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            mark = _mark(key_node, source.file)
            if key in seen:
                lines = f"first on line {seen[key]}, again on line {mark.line}"
                message = f"duplicate key {key!r}: {lines}"
                source.keys[child] = mark
                problems.append(source.problem(child, message, at_key=True))
                continue
            seen[key] = mark.line
            source.keys[child] = mark
            _walk(value_node, child, source, problems, count)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), source, problems, count)
