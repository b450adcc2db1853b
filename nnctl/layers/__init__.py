"""nnctl's own Keras objects. A spec names the ones in ``LAYERS``, ``LOSSES`` and ``METRICS``
like Keras's (the ``DNC`` layer, the ``masked_binary_crossentropy`` loss, the ``bit_error``
metric); others are used by nnctl itself (``gan``).

This module names them without importing TensorFlow; ``register()`` imports their modules, which
registers them as serializable (package ``nnctl``) so ``.keras`` files holding them load in safe
mode. ``nnctl.keras_env.import_keras`` calls it.
"""

from __future__ import annotations

import importlib

LAYERS = {"DNC": ("nnctl.layers.dnc", "DNC")}
LOSSES = {"masked_binary_crossentropy": ("nnctl.layers.bits", "MaskedBinaryCrossentropy")}
METRICS = {"bit_error": ("nnctl.layers.bits", "BitError")}
MODULES = ("nnctl.layers.dnc", "nnctl.layers.bits", "nnctl.layers.gan")


def register() -> None:
    """Import every module that defines an nnctl Keras object (registering it)."""
    for module in MODULES:
        importlib.import_module(module)


def _class(table: dict[str, tuple[str, str]], name: str) -> type | None:
    if not isinstance(name, str) or name not in table:
        return None
    module, cls = table[name]
    return getattr(importlib.import_module(module), cls)


def layer_class(name: str) -> type | None:
    """nnctl's layer class called ``name``, or None (then it is Keras's)."""
    return _class(LAYERS, name)


def loss(name: str):
    """nnctl's loss called ``name`` as a Keras loss object, or None."""
    cls = _class(LOSSES, name)
    return cls() if cls else None


def metric(name: str):
    """nnctl's metric called ``name`` as a Keras metric object, else ``name`` unchanged."""
    cls = _class(METRICS, name)
    return cls() if cls else name
