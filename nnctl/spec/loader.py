"""Safe YAML loading that remembers where every key and value came from.

YAML 1.1 quirks are switched off: only ``true``/``false`` are booleans (``yes``, ``on``, ``no``
stay strings), dates stay strings, and ``1e-3`` is the number 0.001.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nnctl.errors import Problem, SpecError, UserError

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 30_000  # bounds alias expansion ("billion laughs") before anything walks the data
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


def format_value(value: Any) -> str:
    """A value as a spec spells it, for messages: ``'yes'``, ``3``, ``.nan``, ``true``, ``null``."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"
    return text if len(text) <= 60 else text[:56] + "...'"


def expected_got(expected: str, value: Any) -> str:
    """``expected EXPECTED, got VALUE``, with a hint when quotes are what is wrong."""
    message = f"expected {expected}, got {format_value(value)}"
    if expected == "a string" and isinstance(value, int | float):
        return message + "; put it in quotes to make it a string"
    numeric = re.fullmatch(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?", str(value).strip())
    if isinstance(value, str) and numeric and ("number" in expected or "integer" in expected):
        return message + "; remove the quotes to make it a number"
    return message


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


YAML_HINTS = [  # (words in PyYAML's problem or context, what nnctl says; {line}: context's line)
    ("another document", "a spec holds a single YAML document; found a second one here"),
    ("undefined alias", "invalid YAML: {problem}; an alias *NAME needs an anchor &NAME before it"),
    ("duplicate anchor", "invalid YAML: anchor defined twice (first on line {line})"),
    ("unhashable key", "invalid YAML: a key must be a plain value, not a list or a mapping"),
    ("'\\t'", "invalid YAML: a tab character; YAML indents with spaces only"),
    ("cannot start any token", "invalid YAML: {problem}; put the value in quotes"),
    ("mapping values are not", "invalid YAML: ': ' inside an unquoted value; put it in quotes"),
    ("flow mapping", "invalid YAML: the '{{' on line {line} is not closed ({problem})"),
    ("flow sequence", "invalid YAML: the '[' on line {line} is not closed ({problem})"),
    ("<block end>", "invalid YAML: indented unlike the block that starts on line {line}"),
    ("quoted scalar", "invalid YAML: the quote opened on line {line} is never closed"),
]


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's complaint in words a spec author can act on."""
    problem, context = exc.problem or "", exc.context or ""
    if "could not determine a constructor" in problem:
        tag = problem.split("tag ")[-1].strip("'").replace("tag:yaml.org,2002:", "!!")
        return f"tag {tag} is not allowed: a spec is plain data"
    line = exc.context_mark.line + 1 if exc.context_mark else "?"
    for words, message in YAML_HINTS:
        if words in problem or words in context:
            return message.format(problem=problem, line=line)
    return f"invalid YAML: {problem or context}"


def _reader_problem(file: str, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML refuses (a control character), located in ``text``."""
    line = text.count("\n", 0, exc.position)
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
    message = f"invalid YAML: control character U+{exc.character:04X} is not allowed; remove it"
    return _problem_at(file, text, yaml.Mark(file, exc.position, line, column, None, None), message)


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
    node, data = _parse(text, file)
    if node is None:
        raise UserError(f"{file}: empty file, expected a spec mapping")
    if not isinstance(data, dict):
        got = format_value(data) if data is not None else "nothing"
        message = f"expected a mapping of keys (name:, data:, model:, ...), got {got}"
        raise SpecError([_problem_at(file, text, node.start_mark, message)])
    source = SourceMap(file, {file: text.splitlines()})
    problems: list[Problem] = []
    _walk(node, (), source, problems, [0])
    if problems:
        raise SpecError(problems)
    return data, source


def load_value(text: str, label: str) -> Any:
    """One YAML value (of a ``--set``), read by the same rules and limits as a spec file."""
    node, data = _parse(text, label)
    problems: list[Problem] = []
    if node is not None:
        _walk(node, (), SourceMap(label), problems, [0])
    if problems:
        raise SpecError(problems)
    return data


def _parse(text: str, file: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree and data (None for none); YAML errors become SpecErrors."""
    try:
        loader = SpecLoader(text)
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_problem(file, text, exc)]) from None
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SpecError([_problem_at(file, text, mark, _yaml_message(exc))]) from None
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_problem(file, text, exc)]) from None
    except RecursionError:
        raise UserError(f"{file}: nesting too deep") from None
    finally:
        loader.dispose()


def _mark(node: yaml.Node, file: str) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _key(node: yaml.Node) -> Any:
    """A mapping key as the loaded data holds it (``0`` for a class index), to match paths."""
    if not isinstance(node, yaml.ScalarNode):
        return str(node.value)
    if node.tag.endswith(":int") and re.fullmatch(r"[-+]?\d+", node.value):
        return int(node.value)
    return node.value


def _octal(node: yaml.Node) -> str:
    """YAML 1.1 reads an integer with a leading zero as octal: ``0042`` is 34. Refused, with
    both readings."""
    if not (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":int") and not node.style):
        return ""
    digits = node.value.lstrip("+-").replace("_", "")
    if not (len(digits) > 1 and digits[0] == "0" and digits.isdigit()):
        return ""
    value = int(digits, 8) * (-1 if node.value.startswith("-") else 1)
    return (
        f"{node.value} has a leading zero, which YAML reads as an octal number ({value}); "
        f"write {int(digits)} for the number, or quote it ('{node.value}') for text"
    )


def _walk(
    node, path: PathKey, source: SourceMap, problems: list[Problem], count: list[int]
) -> None:
    """Record marks for every value; catch duplicate keys and explosive documents."""
    count[0] += 1
    if count[0] > MAX_NODES or len(path) > MAX_DEPTH:
        what = f"over {MAX_NODES} values (alias expansion?)"
        if len(path) > MAX_DEPTH:
            what = f"nested over {MAX_DEPTH} levels deep"
        problems.append(source.problem(path, f"document is {what}"))
        raise SpecError(problems)
    source.values.setdefault(path, _mark(node, source.file))
    if _octal(node):
        problems.append(source.problem(path, _octal(node)))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
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
