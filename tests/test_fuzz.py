"""Fuzzing ``nnctl validate`` and ``validate --build``: mutated specs exit 0 or 2 with a message;
no exit 1, traceback or hang.

Each example takes a valid spec (every shipped one and a few small ones), mutates it (drops or
renames keys, puts in other types, random scalars, YAML 1.1 traps, deep nesting, random unicode or
bytes, ``--set`` overrides) and runs ``nnctl validate`` in-process. Derandomized: CI sees the same
examples every run.
"""

from __future__ import annotations

import contextlib
import copy
import io
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SPECS
from hypothesis import example, given, settings
from hypothesis import strategies as st

from nnctl.cli import main
from nnctl.spec.loader import format_path

SMALL = [
    "name: tiny\ndata: {source: iris}\nmodel: {layers: [Dense: 3]}\nloss: mse\n",
    """
name: plateau
data: {source: make_classification, n_classes: 3, preprocess: {one_hot: true, standardize: true}}
model:
  input_shape: [20]
  layers: [{Dense: {units: 8, kernel_regularizer: {l2: 0.01}}}, Dropout: 0.1, Dense: 3]
loss: {name: categorical_crossentropy, label_smoothing: 0.1}
optimizer: {name: sgd, momentum: 0.9, schedule: {type: reduce_on_plateau, monitor: val_loss}}
metrics: [accuracy]
train: {epochs: 3, class_weight: balanced, early_stopping: {monitor: val_accuracy, mode: max}}
export: {format: keras, tolerance: 1.0e-4}
""",
    """
name: files
data: {source: csv, path: missing.csv, target: label, features: [0, b]}
model: {layers: [Flatten, {dense: {units: 1, activation: sigmoid}}]}
loss: binary_crossentropy
train: {validation: {source: npz, path: val.npz}}
""",
    """
name: graph
data: {source: digits}
model:
  nodes:
    - {name: a, Dense: 16}
    - {name: b, inputs: [a], Dense: 16}
    - {name: c, inputs: [a, b], Add: {}}
    - {Dense: {units: 10, activation: softmax}}
loss: sparse_categorical_crossentropy
""",
]
BASES = [path.read_text() for path in SPECS] + SMALL
TRAPS = [
    "yes", "no", "on", "off", "y", "~", "null", "2026-01-01", "12:30", "1/0", "1/16", "0x1F",
    "0o17", "1_000", "1e400", "-1e-400", ".nan", "-.inf", "!!python/object:os.system", "*alias",
    "&anchor", "{", "[", "'", '"', "- -", "? x", ": ", "\t", "\x00", "\ufeff", "\u202e",
]  # fmt: skip
TIMEOUT_S = 10  # a hard stop: hypothesis's deadline only judges examples that finish
BUILD_TIMEOUT_S = 60  # --build imports TensorFlow (seconds) and builds the model
FUZZ = settings(max_examples=100, deadline=3000, derandomize=False, database=None)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(TRAPS),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(TRAPS), inner, max_size=3)
    ),
    max_leaves=10,
)


class Hang(BaseException):
    """Raised by the alarm; a BaseException so nnctl's error boundary does not swallow it."""


def _alarm(signum, frame):
    raise Hang("nnctl validate ran for too long")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def validate_ok(path: Path, *args: str) -> None:
    """Run ``nnctl validate PATH ARGS`` in-process and check how it ended."""
    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(BUILD_TIMEOUT_S if "--build" in args else TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(path), *args])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    stderr = err.getvalue()
    assert code in (0, 2), stderr
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    if code == 0:
        assert out.getvalue().endswith(": OK\n")
    else:
        assert stderr.strip(), "exit 2 without a message"


def _paths(node: Any, at: tuple = ()) -> list[tuple]:
    """Every path into a loaded spec, the root first."""
    found = [at]
    if isinstance(node, dict | list):
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            found += _paths(child, (*at, key))
    return found


def _nest(value: Any, depth: int, as_list: bool) -> Any:
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value


@st.composite
def mutated(draw) -> Any:
    """A base spec with one to three mutations applied to its parsed tree."""
    data: Any = yaml.safe_load(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        op = draw(st.sampled_from(["drop", "rename", "replace", "nest", "swap"]))
        data = _mutate(draw, data, path, op)
    return data


def _mutate(draw, data: Any, path: tuple, op: str) -> Any:
    """``data`` with the value at ``path`` mutated by ``op``."""
    if not path:
        return draw(values)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last, value = path[-1], copy.deepcopy(parent[path[-1]])
    if op == "drop":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        typos = st.sampled_from([f"{last}s", str(last)[1:], str(last).upper()])
        parent[draw(st.text(max_size=10) | typos)] = parent.pop(last)
    elif op == "nest":
        parent[last] = _nest(value, draw(st.integers(1, 120)), draw(st.booleans()))
    elif op == "swap":
        parent[last] = draw(st.sampled_from([str(value), [value], {str(value): value}, None]))
    else:
        parent[last] = draw(values)
    return data


@FUZZ
@given(data=mutated())
@example(data={"name": "keys", 1: 2, None: [3], "train": {"class_weight": {"a": 1}}})
def test_mutated_tree(workdir, data):
    path = workdir / "tree.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    validate_ok(path)


@FUZZ
@given(
    base=st.sampled_from(BASES),
    at=st.floats(0, 1),
    cut=st.integers(0, 8),
    noise=st.binary(max_size=12)
    | st.text(max_size=12).map(str.encode)
    | st.sampled_from([t.encode() for t in TRAPS]),
)
@example(base=SMALL[0], at=0.5, cut=0, noise=b"\x16")  # a control character: once exit 1
def test_mutated_bytes(workdir, base, at, cut, noise):
    raw = base.encode()
    where = int(at * len(raw))
    path = workdir / "bytes.yaml"
    path.write_bytes(raw[:where] + noise + raw[where + cut :])
    validate_ok(path)


@FUZZ
@given(
    base=st.sampled_from(BASES),
    index=st.integers(0, 10**6),
    key=st.none() | st.text(max_size=15),
    value=st.text(max_size=15) | st.sampled_from(TRAPS) | values.map(yaml.safe_dump),
)
@example(base=SMALL[0], index=0, key="description", value="a\x03b")  # once exit 1
@example(base=SMALL[0], index=0, key="description", value="[" * 200)
def test_set_overrides(workdir, base, index, key, value):
    paths = _paths(yaml.safe_load(base))[1:]
    name = format_path(paths[index % len(paths)]) if key is None else key
    path = workdir / "set.yaml"
    path.write_text(base)
    validate_ok(path, "--set", f"{name}={value}")


# ----------------------------------------------------------------- validate --build: the model
BUILD_BASES = [
    """
name: cnn
data: {source: digits, preprocess: {scale: 1/16, reshape: [8, 8, 1]}}
model:
  layers:
    - Conv2D: {filters: 8, kernel_size: 3, padding: same, activation: relu}
    - MaxPooling2D: {pool_size: 2}
    - Dropout: 0.1
    - Flatten
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
""",
    """
name: wrappers
data: {source: digits, preprocess: {scale: 1/16, reshape: [8, 8]}}
model:
  layers:
    - Bidirectional: {layer: {LSTM: {units: 8, return_sequences: true}}}
    - TimeDistributed: {layer: {Dense: 4}}
    - GlobalAveragePooling1D
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
""",
    """
name: blocks
data: {source: digits, preprocess: {scale: 1/16, reshape: [8, 8, 1]}}
model:
  blocks:
    residual:
      params: {filters: 8, kernel: 3}
      nodes:
        - {name: c1, Conv2D: {filters: $filters, kernel_size: $kernel, padding: same}}
        - {name: sum, inputs: [$input, c1], Add: {}}
  nodes:
    - {name: stem, Conv2D: {filters: 8, kernel_size: 3, padding: same}}
    - {block: residual, name: stage, repeat: 2, with: {kernel: 3}}
    - {name: pool, GlobalAveragePooling2D: {}}
    - {name: out, Dense: {units: 10, activation: softmax}}
loss: sparse_categorical_crossentropy
""",
    SMALL[3],  # graph nodes with a merge
]
LAYER_NAMES = ["Dense", "Conv2D", "Conv1D", "LSTM", "GRU", "Flatten", "Reshape", "MaxPooling2D",
               "Add", "Concatenate", "Bidirectional", "TimeDistributed", "Embedding", "Dropout",
               "Attention", "BatchNormalization", "Dence", "Permute", "RepeatVector"]  # fmt: skip
ARGUMENTS = ["units", "filters", "kernel_size", "pool_size", "strides", "padding", "activation",
             "rate", "axis", "target_shape", "layer", "return_sequences", "dilation_rate",
             "input_dim", "output_dim", "dims", "n"]  # fmt: skip
ARGUMENT_VALUES = [0, -1, 1, 3, 9, 100, 10**7, 0.5, "same", "valid", "causal", "relu", "$filters",
                   "$missing", "$input", "abc", [2, 2], [8, 9], [-1, 4], [], None, True,
                   {"LSTM": 4}, {"Dense": 4}, "LSTM"]  # fmt: skip
NODE_NAMES = ["features", "stem", "a", "b", "c", "out", "pool", "stage", "$input", "nowhere"]
BUILD_FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None)


def _layer_entries(data: Any) -> list[tuple[tuple, str]]:
    """(path of the mapping, its layer key) of every layer entry, wrappers' inner ones too."""
    found = []
    for path in _paths(data):
        node = data
        for part in path:
            node = node[part]
        if isinstance(node, dict):
            found += [(path, k) for k in node if isinstance(k, str) and k[:1].isupper()]
    return found


def _mutate_layer(draw, data: Any, path: tuple, key: str) -> Any:
    """Rename the layer, set one of its arguments, or rewire the node's inputs."""
    entry = data
    for part in path:
        entry = entry[part]
    op = draw(st.sampled_from(["name", "argument", "argument", "inputs"]))
    if op == "name":
        entry[draw(st.sampled_from(LAYER_NAMES))] = entry.pop(key)
    elif op == "inputs":
        entry["inputs"] = draw(st.lists(st.sampled_from(NODE_NAMES), min_size=1, max_size=3))
    else:
        args = entry[key] if isinstance(entry[key], dict) else {}
        value = copy.deepcopy(draw(st.sampled_from(ARGUMENT_VALUES)))  # mutated later, maybe
        args[draw(st.sampled_from(ARGUMENTS))] = value
        entry[key] = args
    return data


@st.composite
def mutated_model(draw) -> Any:
    """A small model (layers, wrappers, blocks or graph nodes) with one to three mutations."""
    data: Any = yaml.safe_load(draw(st.sampled_from(BUILD_BASES)))
    for _ in range(draw(st.integers(1, 3))):
        entries = _layer_entries(data)
        if entries and draw(st.integers(0, 4)):
            data = _mutate_layer(draw, data, *draw(st.sampled_from(entries)))
        else:
            model_paths = [p for p in _paths(data) if p[:1] == ("model",)]
            path = draw(st.sampled_from(model_paths or _paths(data)))
            data = _mutate(draw, data, path, draw(st.sampled_from(["drop", "replace", "swap"])))
    return data


@pytest.mark.slow  # builds every model it generates
@BUILD_FUZZ
@given(data=mutated_model())
@example(data=yaml.safe_load(BUILD_BASES[1].replace("LSTM:", "LTSM:")))  # was exit 1
@example(data=yaml.safe_load(BUILD_BASES[2].replace("kernel: 3}\n", "k: 3}\n", 1)))
@example(data=yaml.safe_load(BUILD_BASES[0].replace("padding: same", "padding: 0")))  # exit 1
@example(data=yaml.safe_load(SMALL[3].replace("- {name: b, inputs: [a], Dense: 16}", "- null")))
def test_mutated_model_builds_or_is_refused(workdir, data):
    path = workdir / "model.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    validate_ok(path, "--build")
