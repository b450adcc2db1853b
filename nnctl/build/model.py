"""Spec + data -> a compiled Keras Functional model, preprocessing included.

Feature preprocessing (scale, standardize, flatten, reshape) becomes the model's first layers, with
statistics from the training split, so the saved and exported model takes raw features.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnctl import layers as nnctl_layers
from nnctl.build.adapt import adapt_layers
from nnctl.build.keras_errors import explain
from nnctl.build.layers import make_layer
from nnctl.build.limits import estimated_parameters, state_too_large, too_large
from nnctl.build.optimizer import make_loss, make_optimizer
from nnctl.build.paths import in_spec
from nnctl.build.targets import target_shape
from nnctl.data.stream import FileRows
from nnctl.errors import NnctlError
from nnctl.keras_env import import_keras
from nnctl.spec.schema import INPUT_NAME, MERGES, LayerSpec, NodeSpec, Spec
from nnctl.spec.text import TEXT_LAYERS

LIST_INPUT = MERGES | {"Attention", "AdditiveAttention"}
PREPROCESS_LAYERS = ("preprocess_scale", "preprocess_standardize", "preprocess_flatten",
                     "preprocess_reshape")  # fmt: skip


def build_model(spec: Spec, train_x: np.ndarray | dict[str, np.ndarray], sizes=None):
    """The uncompiled model: input, preprocessing layers, then the spec's layers or graph.

    ``train_x`` is one array (the input ``features``) or arrays by input name (several inputs,
    taken as they are); ``sizes`` fills in layer arguments named by the data (seq2seq's
    ``source_vocab`` and ``target_vocab``).
    """
    keras = import_keras()
    if isinstance(train_x, dict):
        _check_inputs(spec, train_x)
        inputs = {name: _input(array.shape[1:], array, name) for name, array in train_x.items()}
        tensors = dict(inputs)
    elif spec.model.inputs:
        message = "model.inputs names several inputs, but the data gives one array; name the "
        raise spec.error(("model", "inputs"), message + "arrays (npz: x: {input: key, ...})")
    else:
        shape = tuple(spec.model.input_shape or train_x.shape[1:])
        inputs = _input(shape, train_x, INPUT_NAME)
        tensors = {INPUT_NAME: _preprocess(spec, inputs, train_x)}
    graph = _Graph(spec, tensors, sizes or {})
    for index, node in enumerate(spec.model.graph):
        graph.add(index, node)
    outputs = [
        graph.tensor(name, ("model", "outputs")) for name in spec.model.outputs or [graph.last]
    ]
    try:
        names = spec.model.outputs or []
        outputs = outputs[0] if len(outputs) == 1 else dict(zip(names, outputs, strict=True))
        model = keras.Model(inputs, outputs, name=spec.name)
    except ValueError as exc:
        raise spec.error(("model",), str(exc).strip().splitlines()[0]) from None
    if model.count_params() > spec.model.max_parameters:
        raise spec.error(("model",), too_large(model.count_params(), spec.model.max_parameters))
    adapt_layers(spec, model, graph.layers, train_x)  # TextVectorization, Normalization, ...
    return model


def _check_inputs(spec: Spec, train_x: dict[str, np.ndarray]) -> None:
    """The data's named arrays are the model's inputs, with the shapes the spec gives."""
    declared = spec.model.inputs or {}
    if not declared:
        return  # seq2seq: the mode names the inputs
    if set(declared) != set(train_x):
        message = f"the data gives inputs {', '.join(train_x)}; model.inputs names "
        raise spec.error(("model", "inputs"), message + ", ".join(declared))
    for name, expected in declared.items():
        shape = tuple(train_x[name].shape[1:])
        if tuple(expected.shape) != shape:
            message = f"the data's {name!r} samples have shape {shape}, not {tuple(expected.shape)}"
            raise spec.error(("model", "inputs", name, "shape"), message)


def _input(shape: tuple, sample: np.ndarray, name: str):
    keras = import_keras()
    dtype = "int32" if np.issubdtype(sample.dtype, np.integer) else "float32"
    dtype = "string" if sample.dtype.kind in "OUS" else dtype  # text features
    return keras.Input(shape=tuple(shape), dtype=dtype, name=name)


class _Graph:
    """Named tensors and layers as the nodes are added in order."""

    def __init__(self, spec: Spec, inputs: dict, sizes: dict[str, int]):
        self.spec, self.section = spec, "layers" if spec.model.layers is not None else "nodes"
        self.tensors, self.layers, self.sizes = dict(inputs), {}, sizes
        self.origin = {name: f"the input {name!r}" for name in inputs}
        self.last, self.parameters = next(iter(inputs)), 0

    def tensor(self, name: str, where):
        if name not in self.tensors:
            known = ", ".join(self.tensors)
            raise self.spec.error(where, f"no node or input named {name!r} before here ({known})")
        return self.tensors[name]

    def add(self, index: int, node: NodeSpec) -> None:
        where = ("model", self.section, index)
        sources = node.inputs or [self.last]
        xs = [self.tensor(name, (*where, "inputs")) for name in sources]
        pairs = zip(sources, xs, strict=True)
        got = ", ".join(f"shape {tuple(x.shape)} from {self.origin[n]}" for n, x in pairs)
        layer = None
        try:
            layer = self._layer(node, xs, where)
            y = call_layer(layer, xs)
        except NnctlError:
            raise
        except Exception as exc:  # Keras refused the arguments or the input: the spec's to fix
            if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
                raise self.spec.error(
                    where, "out of memory creating this layer's weights"
                ) from None
            kind = type(layer).__name__ if layer is not None else node.layer.keras_class
            raise self.spec.error(where, f"{kind}: {explain(exc, f'got {got}')}") from None
        name = node.name or f"{self.section}[{index}]"
        named = node.name or getattr(node.layer, "args", {}).get("name")  # by the user
        in_spec(layer, named or name)  # its checkpoints' path, however Keras numbered it
        self.tensors[name], self.layers[name], self.last = y, layer, name
        self.origin[name] = f"model.{self.section}[{index}]"

    def _layer(self, node: NodeSpec, xs, where):
        """The node's Keras layer: a new one, or the one of the node it shares."""
        if node.share:
            return self.layers.get(node.share) or self._missing(node.share, (*where, "share"))
        spec_layer = _with_sizes(node.layer, self.sizes)
        self._count(spec_layer, xs, where)
        return make_layer(spec_layer, name=node.name, dtype=self._dtype(node, where[-1]))

    def _dtype(self, node: NodeSpec, index: int) -> str | None:
        """``train.mixed_precision``'s policy for a hidden layer; float32 for a layer whose output
        is the model's (softmax and loss stay stable) and for text layers (strings in)."""
        policy = self.spec.train.mixed_precision
        if policy == "none" or node.layer.keras_class in TEXT_LAYERS:
            return None
        model = self.spec.model
        last = index == len(model.graph) - 1
        output = node.name in model.outputs if model.outputs else last
        return "float32" if output else policy

    def _count(self, layer: LayerSpec, xs, where) -> None:
        if too_much_state := state_too_large(layer):
            raise self.spec.error(where, too_much_state)
        limit = self.spec.model.max_parameters
        self.parameters += estimated_parameters(layer, tuple(xs[0].shape))
        if self.parameters > limit:
            raise self.spec.error(where, too_large(self.parameters, limit))

    def _missing(self, name: str, where):
        raise self.spec.error(where, f"no earlier node named {name!r} to share")


def _with_sizes(layer: LayerSpec, sizes: dict[str, int]) -> LayerSpec:
    """The layer with arguments that name a data size (``units: target_vocab``) filled in."""
    if not any(isinstance(v, str) and v in sizes for v in layer.args.values()):
        return layer
    args = {k: sizes.get(v, v) if isinstance(v, str) else v for k, v in layer.args.items()}
    return layer.model_copy(update={"args": args})


def call_layer(layer, xs: list):
    """Merges and Attention take a list; MultiHeadAttention takes (query, value[, key])."""
    if len(xs) == 1:
        return layer(xs[0])
    if type(layer).__name__ in LIST_INPUT:
        return layer(xs)
    return layer(*xs)


def build_symbolic(spec: Spec, shape: tuple[int, ...], dtype: str):
    """Build the model on placeholder data of the right shape: catches shape and size errors
    (located at the spec's layer) before any data is loaded."""
    if dtype in ("string", "object"):  # text features: one empty text
        return build_model(spec, np.full((1, *shape), "", dtype=object))
    return build_model(spec, np.zeros((1, *shape), dtype=dtype))


class Placeholder(NamedTuple):
    """What a model is built on before training: one sample's shape and dtype (or, for several
    named inputs, one ``sample`` of each), and what is known of the targets."""

    shape: tuple
    dtype: str
    classes: int | None  # None: not classes, or not known
    target: tuple | None  # one target's shape, when the data was read and is not classes
    sample: dict | None = None


def placeholder_data(spec: Spec, base_dir: Path | None) -> Placeholder | None:
    """The spec's data as a placeholder: from the source when it is known without reading
    data; otherwise the data files are read, unless ``base_dir`` is None (then: None)."""
    from nnctl.data import load_spec_data, rows

    known, classes = spec.data.sample_shape(), spec.data.known_classes()
    if known is not None:
        return Placeholder(*known, classes, None)
    if base_dir is None:
        return None
    dataset = load_spec_data(spec, base_dir)
    x, y, classes = dataset.train.x, dataset.train.y, dataset.num_classes
    if isinstance(x, dict):  # several named inputs
        return Placeholder((), "", classes, None, rows(x, slice(1)))
    target = target_shape(y) if classes is None else None
    return Placeholder(x.shape[1:], str(x.dtype), classes, target)


def preprocessed_view(model):
    """The model's input after its preprocessing layers (what an autoencoder reconstructs)."""
    keras = import_keras()
    present = [layer.name for layer in model.layers if layer.name in PREPROCESS_LAYERS]
    output = model.get_layer(present[-1]).output if present else model.inputs[0]
    return keras.Model(model.inputs, output, name="preprocessed")


def _preprocess(spec: Spec, x, train_x: np.ndarray):
    keras = import_keras()
    if spec.data is None:  # actor_critic: observations as the environment gives them
        return x
    prep = spec.data.preprocess
    if prep.scale:
        x = keras.layers.Rescaling(prep.scale, name="preprocess_scale")(x)
    if prep.standardize:
        axes = tuple(range(1, train_x.ndim))
        mean, variance = _moments(train_x, prep.scale or 1)
        norm = keras.layers.Normalization(
            axis=axes, mean=mean, variance=variance, name="preprocess_standardize"
        )
        x = norm(x)
    if prep.flatten:
        x = keras.layers.Flatten(name="preprocess_flatten")(x)
    if prep.reshape:
        x = _reshape(spec, x, prep.reshape)
    return x


def _moments(train_x, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and variance of the training features times ``scale`` (streamed ones
    read a chunk at a time)."""
    if isinstance(train_x, FileRows):
        mean, variance = train_x.moments()
        return mean * scale, variance * scale**2
    sample = train_x.astype("float32") * scale if scale != 1 else train_x.astype("float32")
    return sample.mean(axis=0), sample.var(axis=0)


def _reshape(spec: Spec, x, shape: list[int]):
    keras = import_keras()
    size = int(np.prod(x.shape[1:]))
    if int(np.prod(shape)) != size:
        have = f"samples of shape {tuple(x.shape[1:])} ({size} values)"
        message = f"cannot reshape {have} to {tuple(shape)}"
        raise spec.error(("data", "preprocess", "reshape"), message)
    return keras.layers.Reshape(tuple(shape), name="preprocess_reshape")(x)


def compile_model(model, spec: Spec, steps_per_epoch: int) -> None:
    """Attach optimizer (with its schedule), loss and metrics."""
    optimizer = make_optimizer(spec.optimizer, steps_per_epoch, spec.train.epochs)
    outputs = spec.model.outputs or []
    if len(outputs) > 1:  # several outputs: metrics by output name
        by_output = spec.metrics
        if isinstance(by_output, list):
            by_output = dict.fromkeys(outputs, by_output)
        metrics = {o: [nnctl_layers.metric(n) for n in by_output.get(o, [])] for o in outputs}
    else:
        metrics = [nnctl_layers.metric(name) for name in spec.metrics]  # nnctl's, or Keras's
    if spec.train.mixed_precision == "mixed_float16":  # float16 gradients underflow unscaled
        optimizer = import_keras().optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer, loss=make_loss(spec), loss_weights=spec.loss_weights, metrics=metrics
    )
