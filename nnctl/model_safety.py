"""Refuse model files that could do more than compute, before anything loads or runs them.

A SavedModel is a TensorFlow program, and TensorFlow has no safe mode: a graph can read, write or
list files, print to a file or run Python. So nnctl reads ``saved_model.pb`` as data — every node
of every meta graph and of every function in its library, and every function named by an op's
attributes — and refuses op types outside an allowlist of pure computation measured from nnctl's
own exports (``model_safety_ops.json``, written by ``python -m nnctl.model_safety_gen``).
Checkpoint ops are allowed only in the functions the loader's variable restore reaches and
nothing else does. TFLite files may hold builtin operators only, ONNX files standard-domain nodes
only and no external data. ``Trust.USER`` (``--trust-model``) skips the check with a warning.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from nnctl.errors import UserError

OPS_PATH = Path(__file__).with_name("model_safety_ops.json")
TRUST_FLAG = "--trust-model"
TOP_LEVEL = "the graph's top level"
MAX_LISTED = 5
ONNX_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}
FORMATS = {"saved_model": "SavedModel", "tflite": "TFLite model", "onnx": "ONNX model"}

# Why an op outside the allowlist is refused, for the ops that touch the world; first match wins.
REASONS = (
    (re.compile(r"PyFunc"), "runs Python code"),
    (re.compile(r"Remote|Rpc|Collective|Send$|Recv$|DataService"), "talks to other processes"),
    (
        re.compile(
            r"File|Reader|Record|Dataset|Summary|Print|Save|Restore|Checkpoint|Sharded"
            r"|ImmutableConst|Debug"
        ),
        "reads or writes files",
    ),
)


class Trust(StrEnum):
    CHECK = "check"  # a file from elsewhere: refuse what is not pure computation
    USER = "user"  # the user vouched for it (--trust-model): warn, do not check
    OWN = "own"  # nnctl wrote it just now, in this process


class UnsafeModel(UserError):
    """A model file holding operations nnctl will not run."""


@dataclass(frozen=True)
class Refusal:
    what: str  # "op ReadFile", "tensor w"
    where: str  # the function (or top level) holding it
    why: str


def guard(path: Path, fmt: str, trust: Trust = Trust.CHECK) -> None:
    """Refuse ``path`` (a ``fmt`` model) unless it is pure computation, or warn when trusted."""
    if trust is Trust.OWN:
        return
    if trust is Trust.USER:
        print(
            f"warning: {path}: {TRUST_FLAG}: loading without checking its operations; a model "
            "file can read, write or send your files",
            file=sys.stderr,
            flush=True,
        )
        return
    check = {"saved_model": check_saved_model, "tflite": check_tflite, "onnx": check_onnx}.get(fmt)
    if check is not None:  # .keras loads in Keras's safe mode
        _raise(path, fmt, list(check(path)))


def _raise(path: Path, fmt: str, refusals: list[Refusal]) -> None:
    if not refusals:
        return
    unique = list(dict.fromkeys(refusals))
    lines = [f"{r.what} in {r.where}: {r.why}" for r in unique[:MAX_LISTED]]
    if len(unique) > MAX_LISTED:
        lines.append(f"... and {len(unique) - MAX_LISTED} more")
    raise UnsafeModel(
        f"{path}: refused to load this {FORMATS[fmt]}: it holds operations that are not pure "
        "computation\n"
        + "\n".join(f"  {line}" for line in lines)
        + f"\nA model file is a program; pass {TRUST_FLAG} to run it anyway, only if you trust "
        "its author."
    )


@cache
def allowlist() -> tuple[frozenset[str], frozenset[str]]:
    """(ops allowed anywhere, ops allowed only in the loader's variable restore)."""
    data = json.loads(OPS_PATH.read_text())
    return frozenset(data["ops"]), frozenset(data["restore_ops"])


def reason(op: str, restore_here: bool = False) -> str | None:
    """Why ``op`` is refused (None: allowed), in the loader's restore or elsewhere."""
    ops, restore_ops = allowlist()
    if op in ops or (restore_here and op in restore_ops):
        return None
    if op in restore_ops:
        return "reads or writes checkpoint files, allowed only in the loader's variable restore"
    for pattern, why in REASONS:
        if pattern.search(op):
            return why
    return f"not a pure-computation op of nnctl's allowlist ({OPS_PATH.name})"


# --------------------------------------------------------------------------------- SavedModel
def read_saved_model(path: Path):
    """The SavedModel proto, read as TensorFlow's loader reads it (.pb, else .pbtxt)."""
    from google.protobuf import message, text_format
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        if (path / "saved_model.pb").is_file():
            proto.ParseFromString((path / "saved_model.pb").read_bytes())
        else:
            text_format.Parse((path / "saved_model.pbtxt").read_text(), proto)
    except (OSError, message.DecodeError, text_format.ParseError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable SavedModel ({exc})") from None
    return proto


def check_saved_model(path: Path) -> Iterator[Refusal]:
    """Every op outside the allowlist, in every meta graph of the SavedModel at ``path``."""
    for meta_graph in read_saved_model(path).meta_graphs:
        yield from graph_refusals(meta_graph)


def graph_refusals(meta_graph) -> Iterator[Refusal]:
    """Refusals in one MetaGraphDef."""
    for op, where, restore_here in graph_ops(meta_graph):
        why = reason(op, restore_here)
        if why:
            yield Refusal(f"op {op}", where, why)


def graph_ops(meta_graph) -> Iterator[tuple[str, str, bool]]:
    """(op type, where it sits, whether only the loader's restore runs it) for every node of the
    top level and of each library function, and every op a function-valued attribute names (a
    name that is not a library function runs as a single op)."""
    graph = meta_graph.graph_def
    functions = {f.signature.name: f for f in graph.library.function}
    restore_nodes = _restore_nodes(meta_graph)
    restore_only = _restore_functions(meta_graph, functions, restore_nodes)
    places = [(TOP_LEVEL, node, node.name in restore_nodes) for node in graph.node]
    places += [
        (f"function {name}", node, name in restore_only)
        for name, function in functions.items()
        for node in function.node_def
    ]
    for where, node, restore_here in places:
        for op in (node.op, *_attr_functions(node.attr.values())):
            if op not in functions:
                yield op, where, restore_here


def _attr_functions(attrs: Iterable) -> Iterator[str]:
    """Function names in attribute values (``f``, ``body``, ``then_branch``, lists), nested."""
    for attr in attrs:
        kind = attr.WhichOneof("value")
        named = [attr.func] if kind == "func" else list(attr.list.func) if kind == "list" else []
        for func in named:
            yield func.name
            yield from _attr_functions(func.attr.values())


def _restore_nodes(meta_graph) -> set[str]:
    """Top-level nodes the saver runs (its save and restore ops and their inputs), less those
    any signature or init op depends on."""
    saver = meta_graph.saver_def
    roots = [saver.restore_op_name, saver.save_tensor_name]
    saver_side = _ancestors(meta_graph.graph_def, [r for r in roots if r])
    outputs = [t.name for s in meta_graph.signature_def.values() for t in s.outputs.values()]
    for collection in meta_graph.collection_def.values():  # init ops, table initializers
        outputs += list(collection.node_list.value)
    return saver_side - _ancestors(meta_graph.graph_def, outputs)


def _ancestors(graph, names: list[str]) -> set[str]:
    """Top-level node names that ``names`` (tensor or node names) depend on, themselves included."""
    inputs = {n.name: n.input for n in graph.node}
    seen: set[str] = set()
    todo = [_node_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name not in seen and name in inputs:
            seen.add(name)
            todo += [_node_name(i) for i in inputs[name]]
    return seen


def _node_name(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _restore_functions(meta_graph, functions: dict, restore_nodes: set[str]) -> set[str]:
    """Library functions reached from the saver's nodes and from nothing else: no signature,
    saved object or other function can call them."""
    graph = meta_graph.graph_def
    saver_roots, other_roots = set(), set(meta_graph.object_graph_def.concrete_functions)
    for node in graph.node:
        called = {f for f in (node.op, *_attr_functions(node.attr.values())) if f in functions}
        (saver_roots if node.name in restore_nodes else other_roots).update(called)
    saver = _reach(functions, saver_roots)
    other = _reach(functions, other_roots | (set(functions) - saver))
    return saver - other


def _reach(functions: dict, roots: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in functions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in functions[name].node_def:
            todo += [f for f in (node.op, *_attr_functions(node.attr.values())) if f in functions]
    return seen


# ------------------------------------------------------------------------------ TFLite, ONNX
def check_tflite(path: Path) -> Iterator[Refusal]:
    """Custom operators (Flex ops run TensorFlow kernels, others run native code) in any
    subgraph."""
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(path.read_bytes(), 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        used = [
            (model.Subgraphs(s), model.Subgraphs(s).Operators(o).OpcodeIndex())
            for s in range(model.SubgraphsLength())
            for o in range(model.Subgraphs(s).OperatorsLength())
        ]
    except Exception as exc:  # a corrupt flatbuffer fails anywhere inside its reader
        raise UserError(f"{path}: not a readable TFLite model ({exc})") from None
    for subgraph, index in used:
        code = codes[index] if index < len(codes) else None
        builtin = code and max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if code is None or builtin == schema.BuiltinOperator.CUSTOM:
            name = (code.CustomCode() or b"?").decode(errors="replace") if code else "?"
            where = f"subgraph {(subgraph.Name() or b'').decode(errors='replace') or '?'}"
            yield Refusal(f"op {name}", where, "a custom operator (builtin operators only)")


def check_onnx(path: Path) -> Iterator[Refusal]:
    """Nodes outside the standard domains, in the graph, subgraphs and local functions, and
    tensors whose data lives in other files."""
    try:
        import onnx
    except ImportError:
        raise UserError(
            f"{path}: checking an ONNX model needs the onnx package: pip install 'nnctl[onnx]'"
        ) from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's and onnx's parse errors
        raise UserError(f"{path}: not a readable ONNX model ({exc})") from None
    yield from _onnx_graph(model.graph, "the main graph")
    for function in model.functions:
        yield from _onnx_nodes(function.node, f"function {function.domain}.{function.name}")


def _onnx_graph(graph, where: str) -> Iterator[Refusal]:
    sparse = [t for s in graph.sparse_initializer for t in (s.values, s.indices)]
    for tensor in [*graph.initializer, *sparse]:
        if tensor.data_location == tensor.EXTERNAL:
            yield Refusal(f"tensor {tensor.name}", where, "its data is read from another file")
    yield from _onnx_nodes(graph.node, where)


def _onnx_nodes(nodes, where: str) -> Iterator[Refusal]:
    for node in nodes:
        if node.domain not in ONNX_DOMAINS:
            yield Refusal(f"op {node.domain}.{node.op_type}", where, "a custom-domain operator")
        for attr in node.attribute:  # If, Loop, Scan: subgraphs
            for sub in [attr.g, *attr.graphs] if attr.HasField("g") else attr.graphs:
                yield from _onnx_graph(sub, f"a subgraph of node {node.name or node.op_type}")
            if attr.HasField("t") and attr.t.data_location == attr.t.EXTERNAL:
                yield Refusal(f"op {node.op_type}", where, "its data is read from another file")
