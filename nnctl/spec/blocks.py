"""Reusable ``blocks:`` in the graph form, expanded into plain nodes before validation.

    model:
      blocks:
        residual:
          params: {filters: 32}                 # defaults; a use may override them with `with:`
          nodes:
            - {name: c1, Conv2D: {filters: $filters, kernel_size: 3, padding: same}}
            - {name: sum, inputs: [$input, c1], Add: {}}
      nodes:
        - {block: residual, name: stage1, repeat: 2, with: {filters: 64}}

Each use becomes the block's nodes, named ``stage1_c1`` ... (``stage1_1_c1`` ... when repeated);
the last node of the last copy takes the use's own name, so later nodes can refer to it. Expanded
nodes keep the marks of the lines they came from, so errors still point at the source.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from nnctl.errors import SpecError
from nnctl.spec.catalog import suggest
from nnctl.spec.loader import PathKey, SourceMap
from nnctl.spec.schema import INPUT_NAME

USE_KEYS = {"block", "name", "inputs", "repeat", "with"}
PARAM = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")
MAX_EXPANDED = 1000


def expand_blocks(data: dict[str, Any], source: SourceMap) -> None:
    """Replace each ``block:`` use in ``data['model']['nodes']`` with the block's nodes."""
    model = data.get("model")
    if not isinstance(model, dict) or "blocks" not in model:
        return
    blocks = model.pop("blocks")
    nodes = model.get("nodes")
    if not isinstance(blocks, dict) or not isinstance(nodes, list):
        where = ("model", "blocks") if not isinstance(blocks, dict) else ("model",)
        raise SpecError([source.problem(where, "blocks need a mapping of blocks and 'nodes'")])
    expanded: list[tuple[Any, PathKey, dict[PathKey, PathKey]]] = []
    for index, node in enumerate(nodes):
        if isinstance(node, dict) and "block" in node:
            expanded += _expand_use(node, ("model", "nodes", index), blocks, source, expanded)
        else:
            expanded.append((node, ("model", "nodes", index), {}))
        if len(expanded) > MAX_EXPANDED:
            raise SpecError([source.problem(("model", "nodes", index), "blocks expand to over "
                                            f"{MAX_EXPANDED} nodes")])  # fmt: skip
    _remark(source, expanded)
    model["nodes"] = [node for node, _, _ in expanded]


def _expand_use(use: dict, at: PathKey, blocks: dict, source: SourceMap, before: list):
    problems = [source.problem((*at, k), f"unknown key {k!r} in a block use", at_key=True)
                for k in use if k not in USE_KEYS]  # fmt: skip
    name, label = use.get("name"), use["block"]
    block = blocks.get(label) if isinstance(label, str) else None
    if not isinstance(block, dict):
        known = ", ".join(map(str, blocks))
        problems.append(source.problem((*at, "block"), f"no block named {label!r} ({known})"))
    else:
        problems += _block_problems(block, label, use, at, source)
    if not isinstance(name, str):
        problems.append(source.problem(at, "a block use needs a 'name'"))
    repeat = use.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        problems.append(
            source.problem((*at, "repeat"), f"expected an integer >= 1, got {repeat!r}")
        )
    if problems:
        raise SpecError(problems)
    params, origin = _params(use, block, at, source)
    if undeclared := _undeclared(block, label, params, source):
        raise SpecError(undeclared)
    previous = before[-1][0].get("name") if before and isinstance(before[-1][0], dict) else None
    block_input = use.get("inputs") or ([previous] if previous else [INPUT_NAME])
    out = []
    for copy_index in range(1, repeat + 1):
        prefix = name if repeat == 1 else f"{name}_{copy_index}"
        final = copy_index == repeat
        nodes = _instantiate(block, use["block"], prefix, block_input, params, origin, final, name)
        out += nodes
        block_input = [nodes[-1][0]["name"]]
    return out


def _block_problems(block: dict, label: str, use: dict, at: PathKey, source: SourceMap):
    """A block needs a non-empty list of node mappings; its params and a use's with are mappings."""
    problems = []
    nodes = block.get("nodes")
    named = isinstance(nodes, list) and all(
        isinstance(n, dict) and isinstance(n.get("name", ""), str) for n in nodes
    )
    if not nodes or not named:
        message = "expected a list of nodes like {name: c1, Conv2D: {filters: 32}}"
        problems.append(source.problem(("model", "blocks", label, "nodes"), message))
    checks = (
        (("model", "blocks", label, "params"), block.get("params")),
        ((*at, "with"), use.get("with")),
    )
    for where, value in checks:
        if value is not None and not isinstance(value, dict):
            problems.append(
                source.problem(where, f"expected a mapping of parameters, got {value!r}")
            )
    return problems


def _params(use: dict, block: dict, at: PathKey, source: SourceMap):
    """The parameter values of one use, and the path each value came from."""
    defaults = block.get("params") or {}
    given = use.get("with") or {}
    unknown = [k for k in given if k not in defaults]
    if unknown:
        known = ", ".join(map(str, defaults)) or "none"
        raise SpecError([source.problem((*at, "with", k), f"block {use['block']!r} has no "
                                        f"parameter {k!r} (parameters: {known})", at_key=True)
                         for k in unknown])  # fmt: skip
    block_at = ("model", "blocks", use["block"], "params")
    origin = {k: (*at, "with", k) if k in given else (*block_at, k) for k in defaults}
    return {**defaults, **given}, origin


def _undeclared(block: dict, label: str, params: dict, source: SourceMap) -> list:
    """A ``$name`` in the block's nodes that its ``params`` do not declare, at its line."""
    declared = ", ".join(map(str, params)) or "none"
    problems = []
    for j, node in enumerate(block["nodes"]):
        body = {k: v for k, v in node.items() if k != "inputs"}
        for rel, name in _references(body, ()):
            where = ("model", "blocks", label, "nodes", j, *rel)
            if name == "input":
                message = "$input stands for the block's input and belongs in inputs: [$input, ...]"
            elif name not in params:
                fix = suggest(name, params) or f"; declare it: params: {{{name}: VALUE}}"
                message = f"block {label!r} has no parameter {name!r} (parameters: {declared}){fix}"
            else:
                continue
            problems.append(source.problem(where, message))
    return problems


def _references(node: Any, rel: PathKey):
    """(path, parameter name) of each ``$name`` string inside ``node``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        match = PARAM.match(value) if isinstance(value, str) else None
        if match:
            yield (*rel, key), match.group(1)
        elif isinstance(value, dict | list):
            yield from _references(value, (*rel, key))


def _instantiate(block, block_name, prefix, block_input, params, origin, final, use_name):
    """One copy of a block's nodes: names prefixed, ``$input`` and ``$param`` substituted."""
    local = {n.get("name") for n in block["nodes"] if isinstance(n, dict)} - {None}
    rename = {n: f"{prefix}_{n}" for n in local}
    copies = []
    for j, node in enumerate(block["nodes"]):
        node = copy.deepcopy(node)
        src = ("model", "blocks", block_name, "nodes", j)
        remap: dict[PathKey, PathKey] = {(): src}
        if isinstance(node, dict):
            node["name"] = rename.get(node.get("name")) or f"{prefix}_{j}"
            inputs = node.get("inputs", block_input if j == 0 else None)
            if inputs is not None:
                inputs = [inputs] if isinstance(inputs, str) else inputs
                node["inputs"] = [i for x in inputs for i in _input(x, block_input, rename)]
            _substitute(node, params, origin, (), src, remap)
        copies.append((node, src, remap))
    if final and copies and isinstance(copies[-1][0], dict):
        last = copies[-1][0]["name"]
        for node, _, _ in copies:
            if isinstance(node, dict) and node.get("inputs"):
                node["inputs"] = [use_name if i == last else i for i in node["inputs"]]
        copies[-1][0]["name"] = use_name
    return copies


def _input(name: Any, block_input: list[str], rename: dict[str, str]) -> list[Any]:
    if name == "$input":
        return list(block_input)
    return [rename.get(name, name) if isinstance(name, str) else name]


def _substitute(node: Any, params: dict, origin: dict, rel: PathKey, src: PathKey, remap) -> None:
    """Replace ``$name`` strings inside ``node`` with parameter values (in place)."""
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in list(items):
        match = PARAM.match(value) if isinstance(value, str) else None
        if match and match.group(1) in params:
            node[key] = copy.deepcopy(params[match.group(1)])
            remap[(*rel, key)] = origin[match.group(1)]
        elif isinstance(value, dict | list):
            _substitute(value, params, origin, (*rel, key), src, remap)


def _remark(source: SourceMap, expanded: list) -> None:
    """Give each expanded node the marks of the lines it came from."""
    old_values, old_keys = dict(source.values), dict(source.keys)
    for table in (source.values, source.keys):
        for path in [
            p for p in table if p[:2] == ("model", "nodes") or p[:2] == ("model", "blocks")
        ]:
            del table[path]
    for index, (_, src, remap) in enumerate(expanded):
        target = ("model", "nodes", index)
        for table, old in ((source.values, old_values), (source.keys, old_keys)):
            for path, mark in old.items():
                if path[: len(src)] == src:
                    table[(*target, *path[len(src) :])] = mark
            for rel, origin in remap.items():
                if rel and origin in old:
                    table[(*target, *rel)] = old[origin]
