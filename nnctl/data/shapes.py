"""The shape of one sample and the number of classes, known without loading the data, so a
model can be built and checked first."""

from __future__ import annotations

from nnctl.data import memory_tasks
from nnctl.spec.checks import known_classes
from nnctl.spec.schema import MEMORY_TASKS, DataSpec

__all__ = ["known_classes", "sample_shape"]

FIXED = {
    "digits": (64,),
    "iris": (4,),
    "breast_cancer": (30,),
    "make_moons": (2,),
    "mnist": (28, 28),
    "fashion_mnist": (28, 28),
    "cifar10": (32, 32, 3),
}


def sample_shape(data: DataSpec) -> tuple[tuple[int, ...], str] | None:
    """(shape, dtype) of one sample of ``data``, or None when only the files can tell."""
    if data.source in FIXED:
        return FIXED[data.source], "float32"
    if data.source in ("make_regression", "make_classification"):
        return (data.n_features,), "float32"
    if data.source == "sunspots":
        return (data.window, 1), "float32"
    if data.source == "imdb" and data.text:
        return (1,), "string"
    if data.source == "imdb":
        return (data.maxlen,), "int32"
    if data.source in MEMORY_TASKS:
        return memory_tasks.sample_shape(data), "float32"
    return None
