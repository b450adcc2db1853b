"""The model's output must fit the data's targets: a width that does not match the class count
or the target's shape is a spec error at the model's last layer, found before training (Keras
would fail inside its first step, or broadcast the loss silently)."""

from __future__ import annotations

import numpy as np

from nnctl import layers as nnctl_layers
from nnctl.spec.checks import BINARY_LOSSES, ONE_HOT_LOSSES, SPARSE_LOSSES, loss_name
from nnctl.spec.loader import PathKey
from nnctl.spec.schema import NetworkSpec, Spec


def check_targets(
    spec: Spec, model, classes: int | None, target_shape: tuple[int, ...] | None = None
) -> None:
    """Check a one-output model against the data: ``classes`` (None for regression) and the
    shape of one target (None: not known yet). The modes that learn targets call it."""
    if len(model.outputs) != 1:
        return
    output = tuple(model.outputs[0].shape[1:])
    loss = loss_name(spec.loss)
    if classes is None:
        if loss in nnctl_layers.LOSSES:  # nnctl's own losses read targets their way (a mask)
            return
        if target_shape is not None and not _fits(output, target_shape):
            raise spec.error(
                last_layer(spec.model),
                f"the model outputs shape {output} per sample, but each target has shape "
                f"{target_shape}; the loss would compare them element by element",
            )
    elif loss in SPARSE_LOSSES | ONE_HOT_LOSSES and len(output) == 1 and output[0] != classes:
        raise spec.error(
            last_layer(spec.model),
            f"the model outputs {output[0]} values per sample, but the data has {classes} "
            f"classes: give the last layer units: {classes} (one probability per class)",
        )
    elif loss in BINARY_LOSSES and classes > 2:
        raise spec.error(
            ("loss",),
            f"{loss} tells two classes apart, but the data has {classes}; use "
            "sparse_categorical_crossentropy and a softmax over the classes",
        )


def target_shape(y) -> tuple[int, ...] | None:
    """The shape of one target, or None for targets by output name (several outputs)."""
    return tuple(y.shape[1:]) if isinstance(y, np.ndarray) else None


def _fits(output: tuple, target: tuple) -> bool:
    """Equal shapes, where a trailing 1 may be left out (targets (N,) for outputs (N, 1)) and
    a free output dimension (None) fits any size."""
    output, target = _squeezed(output), _squeezed(target)
    if len(output) != len(target):
        return False
    return all(o in (None, t) for o, t in zip(output, target, strict=True))


def _squeezed(shape: tuple) -> tuple:
    return shape[:-1] if shape and shape[-1] == 1 else shape


def last_layer(model: NetworkSpec, at: PathKey = ("model",)) -> PathKey:
    """Where a model's output comes from in the spec: its last layer, or its outputs."""
    if model.outputs:
        return (*at, "outputs")
    form = "layers" if model.layers is not None else "nodes"
    return (*at, form, len(model.graph) - 1)
