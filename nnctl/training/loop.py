"""The training loop: epochs of steps over a data order fixed by (seed, epoch), so a run resumed
from any checkpoint, even mid-epoch, continues exactly as it would have without interruption.

Keras's callbacks (early stopping, reduce-on-plateau, TensorBoard, progress) are driven as
``model.fit`` drives them; the epoch's metrics are Keras's own running means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnctl.data import Arrays, Split, count, rows
from nnctl.data.text import model_input
from nnctl.keras_env import import_keras
from nnctl.rundir import HISTORY, RunDir, write_text
from nnctl.testhooks import pause_point, poison, poison_targets, poison_weights
from nnctl.training import finite
from nnctl.training.callbacks import history_csv
from nnctl.training.signals import Stop, interrupted, interruptible
from nnctl.training.state import Checkpointer, TrainState


@dataclass(frozen=True)
class Batches:
    """The training split in batches; each epoch's order is a function of (seed, epoch) alone."""

    x: Arrays
    y: Arrays
    weights: np.ndarray | None  # per-sample loss weights (from class weights)
    size: int
    seed: int
    shuffle: bool

    @property
    def steps(self) -> int:
        return max(1, math.ceil(count(self.x) / self.size))

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(count(self.x))
        return np.random.default_rng([self.seed, epoch]).permutation(count(self.x))

    def batch(self, order: np.ndarray, step: int) -> tuple:
        index = order[step * self.size : (step + 1) * self.size]
        weights = None if self.weights is None else self.weights[index]
        return rows(self.x, index), rows(self.y, index), weights


class Loop:
    """Runs epochs from a ``TrainState``, checkpointing after every epoch, every ``every_steps``
    steps, and when a signal asks it to stop."""

    def __init__(
        self,
        model,
        batches: Batches,
        validation: Split | None,
        callbacks: list,
        *,
        run: RunDir,
        epochs: int,
        checkpointer: Checkpointer,
        every_steps: int | None,
        advice: str,
    ):
        keras = import_keras()
        import tensorflow as tf

        self.model, self.batches, self.validation = model, batches, validation
        self.displays, self.recorder = callbacks, _Recorder()
        self.callbacks = keras.callbacks.CallbackList(
            [*callbacks, self.recorder], model=model, epochs=epochs, steps=batches.steps
        )
        self.run_dir, self.epochs, self.checkpointer = run, epochs, checkpointer
        self.every_steps, self.advice = every_steps, advice
        self.watched = finite.watched(model)

        def train_step(data):  # the step's logs, and the guard's one scalar over the weights
            return model.train_step(data), finite.weight_total(self.watched)

        self.train_step = tf.function(train_step, reduce_retracing=True)
        self.stop = Stop()

    def run(self, state: TrainState) -> TrainState:
        """Train until the last epoch or early stopping; return the final state."""
        self.model.stop_training = state.stopped
        with interruptible() as self.stop:
            self.callbacks.on_train_begin()
            try:
                while state.epoch < self.epochs and not state.stopped:
                    self._epoch(state)
            finally:
                for callback in self.displays:
                    getattr(callback, "close", lambda: None)()
            self.callbacks.on_train_end()
            self._stop_if_signalled(state)  # a signal during on_train_end: the checkpoint is saved
        return state

    def _epoch(self, state: TrainState) -> None:
        epoch = state.epoch
        self.callbacks.on_epoch_begin(epoch)
        if state.step == 0:
            self.model.reset_metrics()
        order = self.batches.order(epoch)
        for step in range(state.step, self.batches.steps):
            self._step(state, order, step)
        self.callbacks.on_epoch_end(epoch, self._epoch_logs(epoch))  # may stop training
        for name, value in self.recorder.logs.items():  # as the callbacks left them
            state.history.setdefault(name, []).append(float(value))
        write_text(self.run_dir.file(HISTORY), history_csv(state.history))
        state.epoch, state.step = epoch + 1, 0
        state.stopped = bool(self.model.stop_training)
        self.checkpointer.save(state)
        pause_point("epoch", until=self._signalled)
        self._stop_if_signalled(state)

    def _step(self, state: TrainState, order: np.ndarray, step: int) -> None:
        x, y, weights = self.batches.batch(order, step)
        x = poison(x, "train", state.epoch, step)
        poison_weights(self.model, state.epoch, step)
        self.callbacks.on_train_batch_begin(step)
        logs, total = self.train_step((x, y, weights))
        logs = {name: float(v) for name, v in logs.items()}
        state.step, state.global_step = step + 1, state.global_step + 1
        where = f"at epoch {state.epoch + 1}, batch {step + 1}"
        finite.check(
            logs, where, self.checkpointer, self.advice, variables=self.watched, total=float(total)
        )
        self.callbacks.on_train_batch_end(step, logs)
        pause_point("step", until=self._signalled)
        mid_epoch = state.step < self.batches.steps
        if self.stop.signum is not None:
            self.checkpointer.save(state)
            self._stop_if_signalled(state)
        elif self.every_steps and mid_epoch and state.global_step % self.every_steps == 0:
            self.checkpointer.save(state)

    def _epoch_logs(self, epoch: int) -> dict[str, float]:
        """The epoch's training metrics (running means) and, if any, its validation metrics."""
        logs = {name: float(v) for name, v in self.model.get_metrics_result().items()}
        if self.validation is not None and count(self.validation.x):
            x = model_input(poison(self.validation.x, "validation", epoch))
            y = poison_targets(self.validation.y, epoch)
            results = self.model.evaluate(
                x, y, batch_size=self.batches.size, verbose=0, return_dict=True
            )
            validation = {f"val_{name}": float(v) for name, v in results.items()}
            where = f"at epoch {epoch + 1} (validation)"
            finite.check(validation, where, self.checkpointer, self.advice)
            logs |= validation
        return logs

    def _signalled(self) -> bool:
        return self.stop.signum is not None

    def _stop_if_signalled(self, state: TrainState) -> None:
        if self.stop.signum is None:
            return
        where = f"epoch {state.epoch + 1}, batch {state.step}" if state.step else (
            f"the end of epoch {state.epoch}"
        )  # fmt: skip
        raise interrupted(self.stop, f"at {where}", self.checkpointer.last, self.run_dir.path)


class _Recorder(import_keras().callbacks.Callback):
    """The epoch's logs as the other callbacks left them (reduce-on-plateau adds learning_rate)."""

    def on_epoch_end(self, epoch, logs=None):
        self.logs = dict(logs or {})
