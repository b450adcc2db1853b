"""Spec + data -> a compiled Keras Functional model, preprocessing included.

Feature preprocessing (scale, standardize, flatten, reshape) becomes the model's first layers, with
statistics from the training split, so the saved and exported model takes raw features.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from nnctl.build.layers import make_layer
from nnctl.build.limits import estimated_parameters, too_large
from nnctl.build.optimizer import make_loss, make_optimizer
from nnctl.keras_env import import_keras
from nnctl.spec.schema import INPUT_NAME, MERGES, LayerSpec, NodeSpec, Spec

LIST_INPUT = MERGES | {"Attention", "AdditiveAttention"}


def build_model(spec: Spec, train_x: np.ndarray):
    """The uncompiled model: input, preprocessing layers, then the spec's layers or graph."""
    keras = import_keras()
    shape = tuple(spec.model.input_shape or train_x.shape[1:])
    dtype = "int32" if np.issubdtype(train_x.dtype, np.integer) else "float32"
    inputs = keras.Input(shape=shape, dtype=dtype, name=INPUT_NAME)
    graph = _Graph(spec, _preprocess(spec, inputs, train_x))
    for index, node in enumerate(spec.model.graph):
        graph.add(index, node)
    outputs = [
        graph.tensor(name, ("model", "outputs")) for name in spec.model.outputs or [graph.last]
    ]
    try:
        model = keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=spec.name)
    except ValueError as exc:
        raise spec.error(("model",), str(exc).strip().splitlines()[0]) from None
    if model.count_params() > spec.model.max_parameters:
        raise spec.error(("model",), too_large(model.count_params(), spec.model.max_parameters))
    return model


class _Graph:
    """Named tensors and layers as the nodes are added in order."""

    def __init__(self, spec: Spec, x):
        self.spec, self.section = spec, "layers" if spec.model.layers is not None else "nodes"
        self.tensors, self.layers = {INPUT_NAME: x}, {}
        self.origin = {INPUT_NAME: "the input"}
        self.last, self.parameters = INPUT_NAME, 0

    def tensor(self, name: str, where):
        if name not in self.tensors:
            known = ", ".join(self.tensors)
            raise self.spec.error(where, f"no node or input named {name!r} before here ({known})")
        return self.tensors[name]

    def add(self, index: int, node: NodeSpec) -> None:
        where = ("model", self.section, index)
        sources = node.inputs or [self.last]
        xs = [self.tensor(name, (*where, "inputs")) for name in sources]
        if node.share:
            layer = self.layers.get(node.share) or self._missing(node.share, (*where, "share"))
        else:
            self._count(node.layer, xs, where)
            layer = make_layer(node.layer, name=node.name)
        pairs = zip(sources, xs, strict=True)
        got = ", ".join(f"shape {tuple(x.shape)} from {self.origin[n]}" for n, x in pairs)
        try:
            y = call_layer(layer, xs)
        except (ValueError, TypeError) as exc:
            kind = type(layer).__name__
            raise self.spec.error(where, f"{kind}: {_explain(exc, f'got {got}')}") from None
        except Exception as exc:
            if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
                raise self.spec.error(
                    where, "out of memory creating this layer's weights"
                ) from None
            raise
        name = node.name or f"{self.section}[{index}]"
        self.tensors[name], self.layers[name], self.last = y, layer, name
        self.origin[name] = f"model.{self.section}[{index}]"

    def _count(self, layer: LayerSpec, xs, where) -> None:
        limit = self.spec.model.max_parameters
        self.parameters += estimated_parameters(layer, tuple(xs[0].shape))
        if self.parameters > limit:
            raise self.spec.error(where, too_large(self.parameters, limit))

    def _missing(self, name: str, where):
        raise self.spec.error(where, f"no earlier node named {name!r} to share")


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
    return build_model(spec, np.zeros((1, *shape), dtype=dtype))


def build_placeholder(spec: Spec, base_dir: Path | None):
    """The spec's model built on zeros of its data's sample shape, to check shapes and sizes.

    The shape comes from the source when it is known without reading data; otherwise the data
    files are read for it, unless ``base_dir`` is None (then nothing is built: returns None).
    """
    from nnctl.data import load_dataset
    from nnctl.data.shapes import sample_shape

    known = sample_shape(spec.data)
    if known is None and base_dir is None:
        return None
    if known is None:
        x = load_dataset(spec.data, spec.train.validation, spec.seed, base_dir).train.x
        known = (x.shape[1:], str(x.dtype))
    return build_symbolic(spec, *known)


def _preprocess(spec: Spec, x, train_x: np.ndarray):
    keras = import_keras()
    prep = spec.data.preprocess
    sample = train_x.astype("float32") if prep.scale or prep.standardize else train_x
    if prep.scale:
        x = keras.layers.Rescaling(prep.scale, name="preprocess_scale")(x)
        sample = sample * prep.scale
    if prep.standardize:
        axes = tuple(range(1, sample.ndim))
        mean, variance = sample.mean(axis=0), sample.var(axis=0)
        norm = keras.layers.Normalization(
            axis=axes, mean=mean, variance=variance, name="preprocess_standardize"
        )
        x = norm(x)
    if prep.flatten:
        x = keras.layers.Flatten(name="preprocess_flatten")(x)
    if prep.reshape:
        x = _reshape(spec, x, prep.reshape)
    return x


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
    model.compile(optimizer=optimizer, loss=make_loss(spec), metrics=list(spec.metrics))


LAYOUTS = {
    3: " (batch, steps, features)",
    4: " (batch, height, width, channels)",
    5: " (batch, depth, height, width, channels)",
}


def _explain(exc: Exception, got: str) -> str:
    """Keras's build error in the words of the spec: rank mismatches say what layout is needed."""
    text = str(exc).strip()
    rank = re.search(r"expected (min_)?ndim=(\d+), found ndim=(\d+)", text)
    if rank:
        need = int(rank.group(2))
        more = " or more" if rank.group(1) else ""
        return f"expects input of rank {need}{more}{LAYOUTS.get(need, '')}, {got}"
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"{first} ({got})"
