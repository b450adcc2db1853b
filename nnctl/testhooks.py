"""Test hooks: let fault-tolerance tests stop a real process at an exact moment.

Inert unless these environment variables are set (nnctl's own tests set them; users never need to):

``NNCTL_TEST_PAUSE_AT=POINT:N``
    The N-th time this process reaches POINT, write ``NNCTL_TEST_PAUSE_FILE`` (its content is the
    point) and sleep until a signal arrives, so a test can SIGKILL, SIGTERM or SIGINT it there.
    Points: ``step`` (after a compiled call of training steps: N counts steps, and the pause
    comes after the call that runs the N-th), ``epoch`` (after an epoch's checkpoint is committed),
    ``checkpoint-write`` (a checkpoint's files written, its manifest not yet), ``finalize``
    (training done, the model file not yet written), ``export-write`` (an export written and
    checked, not yet renamed onto its target).
``NNCTL_TEST_NAN_AT=train:EPOCH:BATCH`` or ``validation:EPOCH``
    Replace that training batch's (or that epoch's validation) features by NaN (1-based numbers;
    in a call of several steps, only that batch's).
    Validation targets that are floats (regression) become NaN too: NaN features alone reach
    the loss on some CPUs only (oneDNN's fused ReLU turns NaN into 0).
``NNCTL_TEST_NAN_AT=weights:EPOCH:BATCH`` (or ``weights:EPISODE`` for actor-critic)
    Set the model's first trainable variable to NaN just before that step (or episode): a
    failure that no kernel can hide. In a call of several steps, before the call.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

PAUSE_AT = "NNCTL_TEST_PAUSE_AT"
PAUSE_FILE = "NNCTL_TEST_PAUSE_FILE"
NAN_AT = "NNCTL_TEST_NAN_AT"

_visits: Counter[str] = Counter()


def pause_point(point: str, until: Callable[[], bool] = lambda: False, visits: int = 1) -> None:
    """Pause here if ``NNCTL_TEST_PAUSE_AT`` names this visit, or one of the ``visits`` this one
    stands for (the steps of one compiled call); resume when ``until()`` is true."""
    wanted = os.environ.get(PAUSE_AT)
    if not wanted:
        return
    before = _visits[point]
    _visits[point] += visits
    name, _, count = wanted.partition(":")
    if name != point or not before < int(count or 1) <= _visits[point]:
        return
    Path(os.environ[PAUSE_FILE]).write_text(point)
    while not until():
        time.sleep(0.02)


def poison(x: np.ndarray, part: str, epoch: int, batch: int | None = None) -> np.ndarray:
    """``x`` as NaN if ``NNCTL_TEST_NAN_AT`` names this batch (``epoch`` and ``batch`` 0-based)."""
    if not _named(part, epoch, batch) or not isinstance(x, np.ndarray):
        return x
    return np.full(x.shape, np.nan, dtype="float32")


def poison_call(inputs: tuple, epoch: int, first: int) -> tuple:
    """A compiled call's arguments (``Pipeline.calls``) for batches from ``first`` on, with the
    batch ``NNCTL_TEST_NAN_AT`` names, if any, as NaN features: the split's tensors with that
    batch's rows poisoned, or (streamed) the stacked batches ``(steps, batch, ...)`` themselves."""
    if not os.environ.get(NAN_AT, "").startswith("train:"):
        return inputs
    if len(inputs) == 1:  # streamed: the batches
        data = inputs[0]
        if isinstance(data[0], dict):
            return inputs
        x = np.asarray(data[0])
        for i, batch in enumerate(x):
            if (bad := poison(batch, "train", epoch, first + i)) is not batch:
                x = x.copy()
                x[i] = bad
        return ((x, *data[1:]),)
    sources, rows = inputs
    if isinstance(sources[0], dict):
        return inputs
    x = np.asarray(sources[0])
    for i, index in enumerate(rows):
        if (batch := x[index]) is not (bad := poison(batch, "train", epoch, first + i)):
            x = x.copy()  # the split itself stays as it was
            x[index] = bad
    return ((x, *sources[1:]), rows)


def poison_targets(y: np.ndarray, epoch: int) -> np.ndarray:
    """Validation targets ``y`` as NaN if ``NNCTL_TEST_NAN_AT`` names this epoch's validation and
    they are floats (class labels are left as they are)."""
    floats = isinstance(y, np.ndarray) and y.dtype.kind == "f"
    return poison(y, "validation", epoch) if floats else y


def poison_weights(model, epoch: int, batch: int | None = None) -> None:
    """Set ``model``'s first trainable variable to NaN if ``NNCTL_TEST_NAN_AT`` names this step."""
    if _named("weights", epoch, batch):
        variable = model.trainable_variables[0]
        variable.assign(np.full(variable.shape, np.nan, dtype=variable.dtype))


def _named(part: str, epoch: int, batch: int | None) -> bool:
    numbers = [str(epoch + 1)] + ([] if batch is None else [str(batch + 1)])
    return os.environ.get(NAN_AT, "").split(":") == [part, *numbers]
