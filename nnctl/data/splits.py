"""Arrays before splitting, target encoding, the seeded splits, and the data fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from nnctl.data.stream import FileRows
from nnctl.errors import UserError
from nnctl.task import Task

MAX_CLASSES = 1000  # a float target with more distinct integral values is taken as regression
Arrays = np.ndarray | dict[str, np.ndarray]  # one array, or one per model input or output
Pair = tuple[Arrays, Arrays]


def rows(arrays: Arrays, index) -> Arrays:
    """The rows ``index`` selects, of one array or of each array of a dict."""
    if isinstance(arrays, dict):
        return {name: array[index] for name, array in arrays.items()}
    return arrays[index]


def count(arrays: Arrays) -> int:
    """The number of samples (rows)."""
    if isinstance(arrays, dict):
        return len(next(iter(arrays.values())))
    return len(arrays)


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
    word_labels: str | None = None  # targets read as words (class labels): what, for messages


def infer_task(y: np.ndarray) -> Task:
    """Classification if ``y`` is one label per sample, integer-valued or a word, else regression.

    Integer-valued: an integer or bool dtype, or floats that are all whole numbers with at most
    ``MAX_CLASSES`` distinct values. Targets with several columns are always regression.
    """
    if y.ndim != 1:
        return Task.REGRESSION
    if y.dtype.kind in "iubU":
        return Task.CLASSIFICATION
    if y.size and np.all(y == np.round(y)) and len(np.unique(y)) <= MAX_CLASSES:
        return Task.CLASSIFICATION
    return Task.REGRESSION


def label_classes(raw: Raw) -> tuple[str, np.ndarray | None, list[str] | None]:
    """The task, the label values that become classes 0..K-1, and the class names."""
    if isinstance(raw.y, dict) or isinstance(raw.x, dict):
        return Task.MULTIPLE, None, None
    ys = [raw.y] if raw.test is None else [raw.y, raw.test[1]]
    if len({y.dtype.kind == "U" for y in ys}) > 1:  # NumPy would join them as strings
        raise UserError(
            "data: the training targets and the test targets must both be numbers or both be "
            "words (class labels); one set is words and the other numbers"
        )
    task = raw.task or infer_task(np.concatenate(ys))
    if not task.labelled:  # regression, string pairs: no classes to number
        return task, None, None
    if raw.class_names is not None:
        return task, np.arange(len(raw.class_names)), raw.class_names
    classes = np.unique(np.concatenate(ys))
    if classes.dtype.kind == "U":
        return task, classes, _word_classes(classes)
    names = [str(int(v)) if float(v).is_integer() else str(v) for v in classes]
    return task, classes, names


def _word_classes(classes: np.ndarray) -> list[str]:
    """Class names of targets given as words: the words, refused when empty or too many."""
    if "" in classes:
        raise UserError("data: a target is empty; every sample needs a class label")
    if len(classes) > MAX_CLASSES:
        raise UserError(
            f"data: the targets are {len(classes)} different words, more than {MAX_CLASSES} "
            "classes; check that the target names the column of class labels"
        )
    return [str(c) for c in classes]


def encode_targets(y: Arrays, classes: np.ndarray | None, where: str) -> Arrays:
    """Regression targets as float32; class labels (numbers or words) as int64 indices into
    ``classes``; strings without classes (seq2seq outputs) as they are."""
    if isinstance(y, dict):  # named targets: integer labels as int64, the rest as float32
        return {
            k: v.astype(np.int64 if v.dtype.kind in "biu" else np.float32) for k, v in y.items()
        }
    if y.dtype.kind in "US" and classes is None:
        return y
    if classes is None:
        return y.astype(np.float32)
    if y.ndim != 1:
        raise UserError(f"{where}: expected one class label per sample, got shape {y.shape}")
    if (y.dtype.kind == "U") != (classes.dtype.kind == "U"):
        given, trained = ("words", "numbers") if y.dtype.kind == "U" else ("numbers", "words")
        raise UserError(
            f"{where}: the class labels here are {given} but the training data's are {trained} "
            f"({', '.join(str(c) for c in classes[:5])}); give data with the same class labels"
        )
    index = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    unknown = np.unique(y[classes[index] != y])
    if unknown.size:
        show = (lambda v: repr(str(v))) if y.dtype.kind == "U" else str
        known = f" ({', '.join(map(show, classes[:10]))})" if y.dtype.kind == "U" else ""
        raise UserError(
            f"{where}: labels {', '.join(show(v) for v in unknown[:5])} are not among the "
            f"training data's classes{known}; give data with the same class labels"
        )
    return index.astype(np.int64)


def holdout(
    pair: Pair, fraction: float, seed: int, stratify: bool, what: str, ordered: bool = False
) -> tuple[Pair, Pair]:
    """Split off ``fraction`` of the rows, stratified by label when possible; 0 -> empty part.

    ``ordered`` (a time series) holds out the last rows instead, so no future leaks into training.
    """
    x, y = pair
    n = count(x)
    if fraction == 0:
        return (x, y), (rows(x, slice(0)), rows(y, slice(0)))
    if ordered:
        cut = n - max(1, round(n * fraction))
        return _take(pair, slice(cut)), _take(pair, slice(cut, None))
    try:
        return _split(pair, fraction, seed, y if stratify else None)
    except ValueError:
        pass  # a class too small to stratify: fall back to a plain random split
    try:
        return _split(pair, fraction, seed, None)
    except ValueError:
        raise UserError(
            f"{n} samples are too few to hold out {fraction:g} for {what}; "
            "use more data or a smaller fraction"
        ) from None


def _take(pair: Pair, index) -> Pair:
    return rows(pair[0], index), rows(pair[1], index)


def _split(pair: Pair, fraction, seed, stratify) -> tuple[Pair, Pair]:
    index = np.arange(count(pair[0]))
    a, b = train_test_split(index, test_size=fraction, random_state=seed, stratify=stratify)
    return _take(pair, a), _take(pair, b)


def cap(pair: Pair, limit: int | None, rng: np.random.Generator) -> Pair:
    """At most ``limit`` rows: a random subset drawn from ``rng``, kept in the original order."""
    n = count(pair[0])
    if limit is None or n <= limit:
        return pair
    return _take(pair, np.sort(rng.choice(n, size=limit, replace=False)))


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class indices -> float32 one-hot rows."""
    return np.eye(num_classes, dtype=np.float32)[y]


def fingerprint(parts: dict[str, Pair | None], words: list[str] | None = None) -> str:
    """sha256 over each split's arrays: name, dtype, shape and bytes; and over ``words``, the
    class names of labels given as words (encoded, the labels keep only their order)."""
    digest = hashlib.sha256()
    if words is not None:
        digest.update(f"classes:{json.dumps(words)};".encode())
    for name, pair in parts.items():
        digest.update(f"{name}:{pair is not None};".encode())
        arrays = [a for part in pair or () for a in _named(part)]
        for array in arrays:
            digest.update(f"{array.dtype.str}{array.shape};".encode())
            digest.update(_contents(array))
    return digest.hexdigest()


def _contents(array: np.ndarray | FileRows) -> bytes | np.ndarray:
    """The array's data; text (an object array of strings) as each string's length and UTF-8,
    since the bytes of an object array are addresses that change from run to run; streamed rows
    as their file's digest and the rows taken (the file is not read again)."""
    if isinstance(array, FileRows):
        return f"{array.file.digest}:".encode() + array.rows.astype("<i8").tobytes()
    if array.dtype != object:
        return np.ascontiguousarray(array)
    return b"".join(f"{len(s)}:{s}".encode() for s in array.ravel().tolist())


def _named(arrays: Arrays) -> list[np.ndarray]:
    """One array, or a dict's arrays in name order (the names hashed in as 0-d arrays)."""
    if not isinstance(arrays, dict):
        return [arrays]
    return [a for name in sorted(arrays) for a in (np.array(name), arrays[name])]
