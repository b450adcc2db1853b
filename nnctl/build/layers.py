"""One spec layer entry -> one Keras layer."""

from __future__ import annotations

from typing import Any

from nnctl import layers as nnctl_layers
from nnctl.keras_env import import_keras
from nnctl.spec.schema import NESTED_LAYER_ARGS, LayerSpec

REGULARIZER_CLASSES = {"l1": "L1", "l2": "L2", "l1l2": "L1L2"}


def make_layer(layer: LayerSpec, name: str | None = None, dtype: str | None = None):
    """Instantiate the Keras layer a spec entry names, resolving nnctl's short forms; ``dtype``:
    its dtype policy (``mixed_float16``...) unless the entry gives one, for the layers it wraps
    too."""
    keras = import_keras()
    cls = nnctl_layers.layer_class(layer.keras_class) or getattr(keras.layers, layer.keras_class)
    args = {key: _resolve_arg(key, value, dtype) for key, value in layer.args.items()}
    if name and "name" not in args:
        args["name"] = name
    if dtype and "dtype" not in args:
        args["dtype"] = dtype
    return cls(**args)


def _resolve_arg(key: str, value: Any, dtype: str | None) -> Any:
    if key in NESTED_LAYER_ARGS and value is not None:
        return make_layer(LayerSpec.model_validate(value), dtype=dtype)
    if key.endswith("regularizer") and value is not None:
        return regularizer(value)
    if key.endswith("initializer") and isinstance(value, dict):
        return initializer(value)
    return value


def regularizer(value: str | dict):
    """``l2`` | ``{l2: 0.01}`` | ``{l1l2: {l1: 0.01, l2: 0.01}}`` -> a Keras regularizer."""
    keras = import_keras()
    if isinstance(value, str):
        return keras.regularizers.get(value)
    ((name, arg),) = value.items()
    cls = getattr(keras.regularizers, REGULARIZER_CLASSES[name])
    return cls(**arg) if isinstance(arg, dict) else cls(arg)


def initializer(value: dict):
    """``{random_normal: {stddev: 0.01}}`` -> a configured Keras initializer."""
    keras = import_keras()
    ((name, args),) = value.items()
    return type(keras.initializers.get(name))(**(args or {}))
