"""Arrays before splitting, target encoding, the seeded splits, and the data fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from nnctl.errors import UserError

MAX_CLASSES = 1000  # a float target with more distinct integral values is taken as regression
Pair = tuple[np.ndarray, np.ndarray]


@dataclass
class Raw:
    """A source's arrays: features and targets, and a test set if the source has its own.

    ``task`` is None for file sources: it is inferred from the targets (see ``infer_task``).
    """

    x: np.ndarray
    y: np.ndarray
    test: Pair | None = None
    task: str | None = None
    class_names: list[str] | None = None
    ordered: bool = False  # a time series: hold out the latest samples, never shuffle splits


def infer_task(y: np.ndarray) -> str:
    """Classification if ``y`` is one label per sample, integer-valued, else regression.

    Integer-valued: an integer or bool dtype, or floats that are all whole numbers with at most
    ``MAX_CLASSES`` distinct values. Targets with several columns are always regression.
    """
    if y.ndim != 1:
        return "regression"
    if y.dtype.kind in "iub":
        return "classification"
    if y.size and np.all(y == np.round(y)) and len(np.unique(y)) <= MAX_CLASSES:
        return "classification"
    return "regression"


def label_classes(raw: Raw) -> tuple[str, np.ndarray | None, list[str] | None]:
    """The task, the label values that become classes 0..K-1, and the class names."""
    ys = [raw.y] if raw.test is None else [raw.y, raw.test[1]]
    task = raw.task or infer_task(np.concatenate(ys))
    if task == "regression":
        return task, None, None
    if raw.class_names is not None:
        return task, np.arange(len(raw.class_names)), raw.class_names
    classes = np.unique(np.concatenate(ys))
    names = [str(int(v)) if float(v).is_integer() else str(v) for v in classes]
    return task, classes, names


def encode_targets(y: np.ndarray, classes: np.ndarray | None, where: str) -> np.ndarray:
    """Regression targets as float32; class labels as int64 indices into ``classes``."""
    if classes is None:
        return y.astype(np.float32)
    if y.ndim != 1:
        raise UserError(f"{where}: expected one class label per sample, got shape {y.shape}")
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = np.unique(y[classes[index] != y])
    if unknown.size:
        raise UserError(
            f"{where}: labels {', '.join(str(v) for v in unknown[:5])} are not among the "
            "training data's classes; give data with the same class labels"
        )
    return index.astype(np.int64)


def holdout(
    pair: Pair, fraction: float, seed: int, stratify: bool, what: str, ordered: bool = False
) -> tuple[Pair, Pair]:
    """Split off ``fraction`` of the rows, stratified by label when possible; 0 -> empty part.

    ``ordered`` (a time series) holds out the last rows instead, so no future leaks into training.
    """
    x, y = pair
    if fraction == 0:
        return (x, y), (x[:0], y[:0])
    if ordered:
        cut = len(x) - max(1, round(len(x) * fraction))
        return (x[:cut], y[:cut]), (x[cut:], y[cut:])
    try:
        return _split(x, y, fraction, seed, y if stratify else None)
    except ValueError:
        pass  # a class too small to stratify: fall back to a plain random split
    try:
        return _split(x, y, fraction, seed, None)
    except ValueError:
        raise UserError(
            f"{len(x)} samples are too few to hold out {fraction:g} for {what}; "
            "use more data or a smaller fraction"
        ) from None


def _split(x, y, fraction, seed, stratify) -> tuple[Pair, Pair]:
    x_a, x_b, y_a, y_b = train_test_split(
        x, y, test_size=fraction, random_state=seed, stratify=stratify
    )
    return (x_a, y_a), (x_b, y_b)


def cap(pair: Pair, limit: int | None, rng: np.random.Generator) -> Pair:
    """At most ``limit`` rows: a random subset drawn from ``rng``, kept in the original order."""
    x, y = pair
    if limit is None or len(x) <= limit:
        return pair
    keep = np.sort(rng.choice(len(x), size=limit, replace=False))
    return x[keep], y[keep]


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class indices -> float32 one-hot rows."""
    return np.eye(num_classes, dtype=np.float32)[y]


def fingerprint(parts: dict[str, Pair | None]) -> str:
    """sha256 over each split's arrays: name, dtype, shape and bytes."""
    digest = hashlib.sha256()
    for name, pair in parts.items():
        digest.update(f"{name}:{pair is not None};".encode())
        for array in pair or ():
            digest.update(f"{array.dtype.str}{array.shape};".encode())
            digest.update(np.ascontiguousarray(array))
    return digest.hexdigest()
