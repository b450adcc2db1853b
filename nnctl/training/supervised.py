"""Supervised training on features and labels: the batches, callbacks and loop a spec asks for."""

from __future__ import annotations

import math
import sys

import numpy as np

from nnctl.data import Dataset, count
from nnctl.modes import mode_of
from nnctl.rundir import RunDir
from nnctl.spec.catalog import suggest
from nnctl.spec.schema import Spec
from nnctl.task import Task
from nnctl.training.callbacks import run_callbacks
from nnctl.training.distribute import Distribution
from nnctl.training.loop import Batches, Loop
from nnctl.training.progress import PlainProgress, RichProgress
from nnctl.training.state import Checkpointer

AUTO_STEPS = (16, 8, 4, 2, 1)  # steps_per_call auto: the first that divides every_steps


def checkpoint_options(spec: Spec) -> tuple[int | None, int]:
    """(every_steps, keep_last) from ``train.checkpoint``."""
    return spec.train.checkpoint.every_steps, spec.train.checkpoint.keep_last


def steps_per_call(spec: Spec) -> int:
    """``train.steps_per_call``, with ``auto`` resolved: the largest of ``AUTO_STEPS`` that
    divides ``train.checkpoint.every_steps`` (checkpoints fall between calls)."""
    given = spec.train.steps_per_call
    if given != "auto":
        return given
    every = spec.train.checkpoint.every_steps
    return next(k for k in AUTO_STEPS if every is None or every % k == 0)


def steps_per_epoch(spec: Spec, dataset: Dataset) -> int:
    return max(1, math.ceil(count(dataset.train.x) / spec.train.batch_size))


def make_loop(
    spec: Spec,
    dataset: Dataset,
    model,
    run: RunDir,
    checkpointer: Checkpointer,
    distribution: Distribution,
    *,
    quiet: bool,
    extra: list = (),
) -> Loop:
    """The loop over ``dataset.train`` with the spec's callbacks, TensorBoard and progress, and
    a mode's ``extra`` callbacks (a GAN's sample grids)."""
    batches = Batches(
        dataset.train.x,
        dataset.train.y,
        sample_weights(spec, dataset),
        spec.train.batch_size,
        spec.seed,
        spec.train.shuffle,
        min_rows=distribution.replicas,
    )
    callbacks = [
        *checkpointer.callbacks.values(),
        *run_callbacks(run),
        *extra,
        _progress(spec, batches, quiet),
    ]
    return Loop(
        model,
        batches,
        dataset.validation,
        callbacks,
        run=run,
        epochs=spec.train.epochs,
        checkpointer=checkpointer,
        every_steps=checkpoint_options(spec)[0],
        advice=mode_of(spec).advice,
        distribution=distribution,
        per_call=steps_per_call(spec),
        jit_compile=spec.train.jit_compile,
    )


def _progress(spec: Spec, batches: Batches, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return PlainProgress(spec.train.epochs)
    return RichProgress(spec.train.epochs, batches.steps)


def sample_weights(spec: Spec, dataset: Dataset) -> np.ndarray | None:
    """Each training sample's loss weight, from the spec's class weights (None: all equal)."""
    weights = class_weights(spec, dataset)
    if weights is None:
        return None
    labels = _labels(dataset.train.y)
    table = np.ones(max(int(labels.max(initial=0)), *weights) + 1, dtype="float32")
    for label, weight in weights.items():
        table[label] = weight
    return table[labels]


def class_weights(spec: Spec, dataset: Dataset) -> dict[int, float] | None:
    """The spec's class weights by class index: keys are class indices or class names (the
    labels as the data writes them); ``balanced`` weighs classes inversely to their frequency."""
    weights = spec.train.class_weight
    if weights is None:
        return None
    names = dataset.class_names
    if names is None or dataset.task != Task.CLASSIFICATION:
        message = "class weights need class labels, but the targets are not classes"
        raise spec.error(("train", "class_weight"), f"{message} (task: {dataset.task})")
    if weights != "balanced":
        return {_class_index(spec, key, names): weight for key, weight in weights.items()}
    labels = _labels(dataset.train.y)
    counts = np.bincount(labels, minlength=dataset.num_classes or 0)
    present = counts > 0
    total, k = counts.sum(), present.sum()
    return {int(c): float(total / (k * counts[c])) for c in np.flatnonzero(present)}


def _class_index(spec: Spec, key: int | str, names: list[str]) -> int:
    if isinstance(key, int) and 0 <= key < len(names):
        return key
    if isinstance(key, str) and key in names:
        return names.index(key)
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    what = f"class index {key}" if isinstance(key, int) else f"class {key!r}"
    message = f"no {what}: the data has {len(names)} classes (0-{len(names) - 1}: {shown})"
    raise spec.error(("train", "class_weight", key), message + suggest(str(key), names))


def _labels(y: np.ndarray) -> np.ndarray:
    return y.argmax(axis=-1) if y.ndim > 1 else y.astype(int).reshape(-1)
