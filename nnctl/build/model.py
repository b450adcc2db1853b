"""Spec + data -> a compiled Keras Functional model, preprocessing included.

Feature preprocessing (scale, standardize, flatten, reshape) becomes the model's first layers, with
statistics from the training split, so the saved and exported model takes raw features.
"""

from __future__ import annotations

import numpy as np

from nnctl.build.layers import make_layer
from nnctl.build.optimizer import make_loss, make_optimizer
from nnctl.keras_env import import_keras
from nnctl.spec.schema import Spec

INPUT_NAME = "features"


def build_model(spec: Spec, train_x: np.ndarray):
    """The uncompiled model: input, preprocessing layers, then the spec's layers in order."""
    keras = import_keras()
    shape = tuple(spec.model.input_shape or train_x.shape[1:])
    dtype = "int32" if np.issubdtype(train_x.dtype, np.integer) else "float32"
    inputs = keras.Input(shape=shape, dtype=dtype, name=INPUT_NAME)
    x = _preprocess(spec, inputs, train_x)
    previous = "the input" if x is inputs else "preprocessing"
    for index, layer in enumerate(spec.model.layers):
        try:
            x = make_layer(layer)(x)
        except (ValueError, TypeError) as exc:
            where = ("model", "layers", index)
            got = f"got shape {tuple(x.shape)} from {previous}"
            raise spec.error(where, f"{layer.keras_class}: {_first_line(exc)} ({got})") from None
        previous = f"model.layers[{index}]"
    return keras.Model(inputs, x, name=spec.name)


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


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
