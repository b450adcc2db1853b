"""Checks of the graph form that need no TensorFlow: names, inputs, shared layers, outputs."""

from __future__ import annotations

from collections.abc import Iterator

from nnctl.spec.catalog import suggest
from nnctl.spec.loader import PathKey
from nnctl.spec.schema import Spec

Issue = tuple[PathKey, str, bool]


def check_graph(spec: Spec) -> Iterator[Issue]:
    """Every name a node uses must be defined earlier, and every node name must be unique."""
    if spec.model.nodes is None:
        return
    defined = list(spec.input_names)
    names = [node.name or f"nodes[{index}]" for index, node in enumerate(spec.model.nodes)]
    for index, node in enumerate(spec.model.nodes):
        at = ("model", "nodes", index)
        for position, name in enumerate(node.inputs or []):
            if name in names[index:]:
                yield (*at, "inputs", position), _later(spec, index, name), False
            elif name not in defined:
                yield (*at, "inputs", position), _unknown(name, defined), False
        nodes = defined[len(spec.input_names) :]
        if node.share and node.share in names[index:]:
            tail = "a node shares the layer of a node above it"
            yield (*at, "share"), _later(spec, index, node.share, tail), False
        elif node.share and node.share not in nodes:
            yield (*at, "share"), _unknown(node.share, nodes), False
        if node.name in defined:
            yield (*at, "name"), f"node name {node.name!r} is already used", False
        defined.append(node.name or f"nodes[{index}]")
    nodes = defined[len(spec.input_names) :]
    for position, name in enumerate(spec.model.outputs or []):
        if name not in nodes:
            yield ("model", "outputs", position), _unknown(name, nodes), False


def _unknown(name: str, defined: list[str]) -> str:
    hint = suggest(name, defined) or f" ({', '.join(defined)})"
    return f"no node or input named {name!r} before here{hint}"


def _later(spec: Spec, index: int, name: str, tail: str = "") -> str:
    """An input that is a node further down: a cycle if it leads back here, else misplaced."""
    nodes = spec.model.nodes
    here = nodes[index].name or f"nodes[{index}]"
    if name == here:
        return f"node {name!r} takes itself as input; a node's inputs come before it"
    cycle = _cycle(spec, here, name)
    if cycle:
        flow = " -> ".join(reversed(cycle))
        implicit = [n.name for n in nodes if n.name in cycle and not n.inputs]
        note = (
            f" ({' and '.join(implicit)} without inputs: take the node before)" if implicit else ""
        )
        return f"cycle: {flow}{note}; a node cannot take its own output as input"
    later = [n.name for n in nodes].index(name)
    mark = spec._source.mark(("model", "nodes", later)) if spec._source else None
    where = f", at line {mark.line}" if mark and mark.line else f" (model.nodes[{later}])"
    tail = tail or "nodes come after their inputs"
    return f"node {name!r} is defined below{where}: {tail}; move it up"


def _cycle(spec: Spec, start: str, first: str) -> list[str] | None:
    """``[start, first, ..., start]`` when following inputs from ``first`` leads back to
    ``start`` (each takes the next as input), else None."""
    nodes = spec.model.nodes
    takes = {}
    for index, node in enumerate(nodes):
        previous = [nodes[index - 1].name or f"nodes[{index - 1}]"] if index else []
        takes[node.name or f"nodes[{index}]"] = node.inputs or previous
    paths, seen = [[start, first]], {first}
    while paths:
        path = paths.pop(0)
        for name in takes.get(path[-1], []):
            if name == start:
                return [*path, start]
            if name not in seen:
                seen.add(name)
                paths.append([*path, name])
    return None
