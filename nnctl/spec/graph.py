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
    for index, node in enumerate(spec.model.nodes):
        at = ("model", "nodes", index)
        for position, name in enumerate(node.inputs or []):
            if name not in defined:
                yield (*at, "inputs", position), _unknown(name, defined), False
        nodes = defined[len(spec.input_names) :]
        if node.share and node.share not in nodes:
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
