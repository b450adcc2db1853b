"""Supervised training: ``model.fit`` on features and labels, with the spec's callbacks."""

from __future__ import annotations

import math
import sys

import numpy as np

from nnctl.data import Dataset
from nnctl.errors import UserError
from nnctl.rundir import RunDir
from nnctl.spec.schema import Spec
from nnctl.training.callbacks import StopOnNonFinite, run_callbacks, spec_callbacks
from nnctl.training.progress import PlainProgress, RichProgress


def steps_per_epoch(spec: Spec, dataset: Dataset) -> int:
    return max(1, math.ceil(len(dataset.train.x) / spec.train.batch_size))


def fit(spec: Spec, dataset: Dataset, model, run: RunDir, *, quiet: bool) -> dict[str, list[float]]:
    """Train ``model`` in place; return the history (one list per metric, one value per epoch)."""
    guard = StopOnNonFinite()
    progress = _progress(spec, dataset, quiet)
    validation = dataset.validation
    history = model.fit(
        dataset.train.x,
        dataset.train.y,
        batch_size=spec.train.batch_size,
        epochs=spec.train.epochs,
        validation_data=(validation.x, validation.y) if validation else None,
        shuffle=spec.train.shuffle,
        class_weight=class_weights(spec, dataset),
        callbacks=[guard, *spec_callbacks(spec), *run_callbacks(run), progress],
        verbose=0,
    )
    if guard.failure:
        raise UserError(
            f"training diverged: {guard.failure}. Lower optimizer.learning_rate, "
            "add gradient clipping (optimizer.clipnorm) or standardize the data."
        )
    return {k: [float(v) for v in values] for k, values in history.history.items()}


def _progress(spec: Spec, dataset: Dataset, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return PlainProgress(spec.train.epochs)
    return RichProgress(spec.train.epochs, steps_per_epoch(spec, dataset))


def class_weights(spec: Spec, dataset: Dataset) -> dict[int, float] | None:
    """The spec's class weights; ``balanced`` weighs classes inversely to their frequency."""
    weights = spec.train.class_weight
    if weights != "balanced":
        return weights
    labels = dataset.train.y
    labels = labels.argmax(axis=-1) if labels.ndim > 1 else labels.astype(int)
    counts = np.bincount(labels, minlength=dataset.num_classes or 0)
    present = counts > 0
    total, k = counts.sum(), present.sum()
    return {int(c): float(total / (k * counts[c])) for c in np.flatnonzero(present)}
