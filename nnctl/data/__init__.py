"""A spec's `data` section (and `train.validation`) as seeded train/validation/test splits.

Features are only converted to float32 (IMDB: int32 word ids); scaling, standardizing and reshaping
happen in the model. Every random choice comes from ``seed``, so equal specs give equal arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data.sources import load_raw
from nnctl.data.splits import (
    Arrays,
    Pair,
    cap,
    count,
    encode_targets,
    fingerprint,
    holdout,
    label_classes,
    rows,
)
from nnctl.data.splits import one_hot as to_one_hot
from nnctl.errors import DataError, UserError
from nnctl.spec.schema import DataSpec, Spec
from nnctl.task import Task

__all__ = ["Arrays", "Dataset", "Split", "count", "load_dataset", "load_spec_data", "rows"]


@dataclass(frozen=True)
class Split:
    x: Arrays  # features, float32 (imdb: int32 word ids; seq2seq: strings, then ids by input)
    y: Arrays  # int64 class labels or float32 regression targets; float32 one-hot if one_hot


@dataclass(frozen=True)
class Dataset:
    train: Split
    validation: Split | None
    test: Split  # empty (zero rows) when the source has no test set and test_split is 0
    task: Task
    num_classes: int | None
    class_names: list[str] | None
    fingerprint: str  # sha256 over every split's arrays: changes iff the data changes
    word_labels: str | None = None  # the targets were words (class labels): what, for messages


def load_dataset(
    data: DataSpec, validation: float | DataSpec, seed: int, base_dir: Path
) -> Dataset:
    """Load ``data``, split it, and take validation data from ``validation``.

    ``validation`` is a fraction of the training split (0: none) or a data source of its own.
    A source's own test set is used as the test split; otherwise ``data.test_split`` is held out
    (stratified for classification). ``max_samples`` then caps train and test to a seeded random
    subset each, before the validation fraction is taken. Paths are relative to ``base_dir``.
    """
    base_dir = Path(base_dir)
    raw = load_raw(data, seed, base_dir, "data")
    task, classes, names = label_classes(raw)
    if data.preprocess.one_hot and task != Task.CLASSIFICATION:
        raise UserError(
            "data.preprocess.one_hot: the targets are continuous (a regression task), so there "
            "are no class labels to one-hot encode; remove one_hot"
        )
    stratify = task == Task.CLASSIFICATION
    pair = (raw.x, encode_targets(raw.y, classes, "data"))
    if raw.test is None:
        train, test = holdout(
            pair, data.test_split, seed, stratify, "data.test_split", ordered=raw.ordered
        )
    else:
        train, test = pair, (raw.test[0], encode_targets(raw.test[1], classes, "data"))
    rng = np.random.default_rng(seed)
    train, test = cap(train, data.max_samples, rng), cap(test, data.max_samples, rng)
    train, held_out = _validation(
        validation, data, train, classes, seed, base_dir, rng, raw.ordered
    )
    parts = {"train": train, "validation": held_out, "test": test}
    if data.preprocess.one_hot:
        parts = {
            k: p if p is None else (p[0], to_one_hot(p[1], len(names))) for k, p in parts.items()
        }
    return Dataset(
        train=Split(*parts["train"]),
        validation=Split(*parts["validation"]) if held_out is not None else None,
        test=Split(*parts["test"]),
        task=task,
        num_classes=len(names) if names else None,
        class_names=names,
        fingerprint=fingerprint(parts, names if raw.word_labels else None),
        word_labels=raw.word_labels,
    )


def load_spec_data(spec: Spec, base_dir: Path) -> Dataset:
    """The data of ``spec``; a problem with a file or column it names is shown at that key."""
    try:
        return load_dataset(spec.data, spec.train.validation, spec.seed, base_dir)
    except DataError as exc:
        raise spec.error(exc.path, exc.reason) from None


def _validation(validation, data, train: Pair, classes, seed, base_dir: Path, rng, ordered: bool):
    """(train, validation): a fraction held out of ``train``, or a source of its own, capped."""
    if isinstance(validation, int | float):
        if validation == 0:
            return train, None
        stratify = classes is not None
        return holdout(train, validation, seed, stratify, "train.validation", ordered=ordered)
    raw = load_raw(validation, seed, base_dir, "train.validation")
    pair = (raw.x, encode_targets(raw.y, classes, "train.validation"))
    if pair[0].shape[1:] != train[0].shape[1:] or pair[1].shape[1:] != train[1].shape[1:]:
        raise UserError(
            f"train.validation: samples of shape {pair[0].shape[1:]} -> {pair[1].shape[1:]} "
            f"do not match the training data's {train[0].shape[1:]} -> {train[1].shape[1:]}"
        )
    return train, cap(pair, validation.max_samples or data.max_samples, rng)
