"""TensorBoard's HParams dashboard for a run: the spec's settings beside its final metrics.

Written once a run has its final metrics, into the root of ``RUN/logs`` (TensorBoard's training
scalars are in ``logs/train`` and ``logs/validation`` beneath it), so that
``tensorboard --logdir runs`` lists every run as one session with its learning rate, batch size,
units, ... and its final ``test_accuracy``, ``test_loss``, ..., sortable and filterable.
"""

from __future__ import annotations

import json
from typing import Any

from nnctl.rundir import LOGS, RunDir

LEFT_OUT = ("description",)  # prose, not a setting


def flat_settings(resolved: Any, prefix: str = "") -> dict[str, bool | int | float | str]:
    """The resolved spec's scalar values by key path (``optimizer.learning_rate``,
    ``model.layers[0].Dense.units``); a list of scalars (``metrics``) is one JSON string."""
    if isinstance(resolved, dict):
        items = [(f"{prefix}.{key}" if prefix else str(key), v) for key, v in resolved.items()]
    elif isinstance(resolved, list) and any(isinstance(v, dict | list) for v in resolved):
        items = [(f"{prefix}[{index}]", value) for index, value in enumerate(resolved)]
    elif isinstance(resolved, list):
        return {prefix: json.dumps(resolved)}
    elif resolved is None or prefix in LEFT_OUT:
        return {}
    else:
        return {prefix: resolved}
    flat: dict[str, bool | int | float | str] = {}
    for key, value in items:
        flat |= flat_settings(value, key)
    return flat


def final_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """``{"test": {"accuracy": ...}}`` as ``{"final/test_accuracy": ...}``; numbers only."""
    return {
        f"final/{split}_{name}": float(value)
        for split, figures in metrics.items()
        for name, value in figures.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def write_hparams(
    run: RunDir, resolved: dict[str, Any], metrics: dict[str, dict[str, float]], step: int
) -> None:
    """The run's settings as an HParams session, and its final metrics as scalars at ``step``."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(str(run.file(LOGS)))
    with writer.as_default():
        hp.hparams(flat_settings(resolved), trial_id=run.path.name)
        for tag, value in final_metrics(metrics).items():
            tf.summary.scalar(tag, value, step=step)
    writer.close()
