"""Spec + data -> a compiled Keras Functional model, preprocessing included.

Feature preprocessing (scale, standardize, flatten, reshape) becomes the model's first layers, with
statistics from the training split, so the saved and exported model takes raw features.
"""

from __future__ import annotations

import re

import numpy as np

from nnctl.build.layers import make_layer
from nnctl.build.limits import estimated_parameters, too_large
from nnctl.build.optimizer import make_loss, make_optimizer
from nnctl.keras_env import import_keras
from nnctl.spec.schema import Spec

INPUT_NAME = "features"


def build_model(spec: Spec, train_x: np.ndarray):
    """The uncompiled model: input, preprocessing layers, then the spec's layers in order."""
    keras = import_keras()
    import tensorflow as tf

    shape = tuple(spec.model.input_shape or train_x.shape[1:])
    dtype = "int32" if np.issubdtype(train_x.dtype, np.integer) else "float32"
    inputs = keras.Input(shape=shape, dtype=dtype, name=INPUT_NAME)
    x = _preprocess(spec, inputs, train_x)
    previous = "the input" if x is inputs else "preprocessing"
    limit, total = spec.model.max_parameters, 0
    for index, layer in enumerate(spec.model.layers):
        where = ("model", "layers", index)
        total += estimated_parameters(layer, tuple(x.shape))
        if total > limit:
            raise spec.error(where, too_large(total, limit))
        try:
            x = make_layer(layer)(x)
        except (MemoryError, tf.errors.ResourceExhaustedError):
            raise spec.error(where, "out of memory creating this layer's weights") from None
        except (ValueError, TypeError) as exc:
            got = f"got shape {tuple(x.shape)} from {previous}"
            raise spec.error(where, f"{layer.keras_class}: {_explain(exc, got)}") from None
        previous = f"model.layers[{index}]"
    model = keras.Model(inputs, x, name=spec.name)
    if model.count_params() > limit:
        raise spec.error(("model",), too_large(model.count_params(), limit))
    return model


def build_symbolic(spec: Spec, shape: tuple[int, ...], dtype: str):
    """Build the model on placeholder data of the right shape: catches shape and size errors
    (located at the spec's layer) before any data is loaded."""
    return build_model(spec, np.zeros((1, *shape), dtype=dtype))


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
