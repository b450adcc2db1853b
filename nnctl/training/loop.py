"""The training loop: epochs of steps over a data order fixed by (seed, epoch), so a run resumed
from any checkpoint, even mid-epoch, continues exactly as it would have without interruption.

Steps run ``per_call`` at a time inside one compiled call (a ``tf.while_loop`` over the call's
batches stacked as ``(steps, batch, ...)``, gathered in the graph or read by a ``tf.data``
pipeline: ``nnctl.training.pipeline``; under ``train.distribute`` each step's batch is split
among the replicas: ``nnctl.training.distribute``), and everything Python does (logs,
callbacks' batch hooks, the divergence guard, signals, checkpoints) happens between calls. Calls
end at every multiple of ``per_call`` in the run's global step count, so a checkpoint every
``every_steps`` (a multiple of it) always falls between calls, and a resumed run makes the same
calls as an uninterrupted one; the first call of an epoch runs up to the next multiple, the last
full batches of an epoch make a shorter call, and a partial last batch is a call of its own.

Keras's callbacks (early stopping, reduce-on-plateau, TensorBoard, progress) are driven as
``model.fit`` drives them; the epoch's metrics are Keras's own running means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnctl.data import Arrays, Split, count
from nnctl.keras_env import import_keras
from nnctl.rundir import HISTORY, RunDir, write_text
from nnctl.testhooks import pause_point, poison, poison_call, poison_targets, poison_weights
from nnctl.training import finite
from nnctl.training.callbacks import history_csv
from nnctl.training.distribute import Distribution
from nnctl.training.pipeline import Pipeline, keras_data
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
    min_rows: int = 1  # a partial last batch of fewer rows is left out (one row per replica)

    @property
    def steps(self) -> int:
        full, rest = divmod(count(self.x), self.size)
        return max(1, full + (rest >= self.min_rows))

    def order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(count(self.x))
        return np.random.default_rng([self.seed, epoch]).permutation(count(self.x))

    @property
    def parts(self) -> tuple:
        """What each step trains on: (x, y) or (x, y, weights)."""
        return (self.x, self.y) if self.weights is None else (self.x, self.y, self.weights)

    def call_length(self, step: int, global_step: int, per_call: int) -> int:
        """How many steps the call starting at ``step`` of the epoch runs: up to the next
        multiple of ``per_call`` in the global step count, never past the epoch's full batches;
        the partial last batch (a smaller shape) runs alone."""
        full = count(self.x) // self.size
        if step >= full:
            return 1
        return min(per_call - global_step % per_call, full - step)

    def plan(self, step: int, global_step: int, per_call: int) -> list[tuple[int, int]]:
        """The rest of the epoch from ``step`` as calls, ``(first batch, steps)`` each."""
        calls = []
        while step < self.steps:
            steps = self.call_length(step, global_step, per_call)
            calls.append((step, steps))
            step, global_step = step + steps, global_step + steps
        return calls


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
        distribution: Distribution,
        per_call: int = 1,
        jit_compile: bool = False,  # XLA-compile the steps (train.jit_compile)
    ):
        keras = import_keras()
        self.model, self.batches, self.validation = model, batches, validation
        self.displays, self.recorder = callbacks, _Recorder()
        self.callbacks = keras.callbacks.CallbackList(
            [*callbacks, self.recorder], model=model, epochs=epochs, steps=batches.steps
        )
        self.run_dir, self.epochs, self.checkpointer = run, epochs, checkpointer
        self.every_steps, self.advice, self.per_call = every_steps, advice, per_call
        self.jit_compile, self.distribution = jit_compile, distribution
        self.watched = finite.watched(model)

        self.pipeline = Pipeline(batches.parts, batches.size)
        self.train_steps = self._compile(self._train_step, self.pipeline)
        self.test_steps = None  # compiled for the first validation under a strategy
        self.names: list[str] = []  # the logs' names, in the order train_steps returns them
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
        plan = self.batches.plan(state.step, state.global_step, self.per_call)
        calls = self.pipeline.calls(self.batches.order(epoch), plan)
        for (step, steps), inputs in zip(plan, calls, strict=True):
            self._call(state, step, steps, inputs)
        self.callbacks.on_epoch_end(epoch, self._epoch_logs(epoch))  # may stop training
        for name, value in self.recorder.logs.items():  # as the callbacks left them
            state.history.setdefault(name, []).append(float(value))
        write_text(self.run_dir.file(HISTORY), history_csv(state.history))
        state.epoch, state.step = epoch + 1, 0
        state.stopped = bool(self.model.stop_training)
        self.checkpointer.save(state)
        pause_point("epoch", until=self._signalled)
        self._stop_if_signalled(state)

    def _call(self, state: TrainState, step: int, steps: int, inputs: tuple) -> None:
        """One compiled call of ``steps`` steps from batch ``step`` of the epoch, then the guard,
        callbacks and checkpoints."""
        for batch in range(step, step + steps):
            poison_weights(self.model, state.epoch, batch)
        self.callbacks.on_train_batch_begin(step)
        values, total = self.train_steps(*poison_call(inputs, state.epoch, step))
        values = np.asarray(values)  # (steps, logs): the one read-back of the call
        bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
        last = int(bad[0]) if bad.size else steps - 1
        logs = dict(zip(self.names, values[last].tolist(), strict=True))
        state.step, state.global_step = step + steps, state.global_step + steps
        finite.check(
            logs, self._where(state.epoch, step, steps, bad), self.checkpointer, self.advice,
            variables=self.watched, total=float(total),
        )  # fmt: skip
        self.callbacks.on_train_batch_end(step + steps - 1, logs)
        pause_point("step", until=self._signalled, visits=steps)
        mid_epoch = state.step < self.batches.steps
        if self.stop.signum is not None:
            self.checkpointer.save(state)
            self._stop_if_signalled(state)
        elif self.every_steps and mid_epoch and state.global_step % self.every_steps == 0:
            self.checkpointer.save(state)

    @staticmethod
    def _where(epoch: int, step: int, steps: int, bad: np.ndarray) -> str:
        """Where a call's logs or weights stopped being finite: the first step whose logs are not,
        or (the weights are summed once, after the call's last step) the call's batches."""
        if bad.size:
            return f"at epoch {epoch + 1}, batch {step + int(bad[0]) + 1}"
        where = f"at epoch {epoch + 1}, batch {step + 1}"
        if steps > 1:
            where += f" (or a later one up to batch {step + steps}: one check per call)"
        return where

    def _compile(self, step, pipeline: Pipeline):
        """One ``tf.function`` running ``step`` (in each replica, under a strategy) on any number
        of stacked batches of any size; it returns each step's logs and the weights' total. Its
        batches are gathered on the CPU, so only they, never the whole split, go to the device;
        with ``train.jit_compile`` XLA compiles each step, as Keras's ``fit()`` does (a whole
        call's loop compiled by XLA ran 15x slower on CPUs here)."""
        import tensorflow as tf

        if self.jit_compile:
            step = tf.function(step, jit_compile=True)

        def run_steps(*inputs):  # -> (steps, logs) values, weight total
            data = pipeline.batches(*inputs)  # (steps, batch, ...)
            steps = tf.shape(tf.nest.flatten(data)[0])[0]

            def body(i, values):
                batch = tf.nest.map_structure(lambda a: a[i], data)
                return i + 1, values.write(i, self.distribution.run(step, batch))

            values = tf.TensorArray(tf.float32, size=steps)
            _, values = tf.while_loop(
                lambda i, _: i < steps, body, (tf.constant(0), values), parallel_iterations=1
            )
            return values.stack(), finite.weight_total(self.watched)

        return tf.function(run_steps, input_signature=pipeline.signature)

    def _train_step(self, batch):
        """One training step on ``batch``: its logs as one row."""
        import tensorflow as tf

        logs = self.model.train_step(batch if len(batch) == 3 else (*batch, None))
        self.names = list(logs)
        return tf.stack([tf.cast(v, tf.float32) for v in logs.values()])

    def _test_step(self, batch):
        import tensorflow as tf

        logs = self.model.test_step((*batch, None))
        return tf.stack([tf.cast(v, tf.float32) for v in logs.values()])

    def _epoch_logs(self, epoch: int) -> dict[str, float]:
        """The epoch's training metrics (running means) and, if any, its validation metrics."""
        logs = {name: float(v) for name, v in self.model.get_metrics_result().items()}
        if self.validation is not None and count(self.validation.x):
            x = poison(self.validation.x, "validation", epoch)
            y = poison_targets(self.validation.y, epoch)
            validation = {f"val_{name}": v for name, v in self._validate(x, y).items()}
            where = f"at epoch {epoch + 1} (validation)"
            finite.check(validation, where, self.checkpointer, self.advice)
            logs |= validation
        return logs

    def _validate(self, x, y) -> dict[str, float]:
        """The model's metrics on validation data: Keras's ``evaluate``, or under a strategy
        compiled calls that split each batch among the replicas (a last batch of fewer rows
        than replicas is left out)."""
        if not self.distribution.active:
            data = keras_data(x, y, self.batches.size)
            results = self.model.evaluate(**data, verbose=0, return_dict=True)
            return {name: float(v) for name, v in results.items()}
        replicas = self.distribution.replicas
        batches = Batches(x, y, None, self.batches.size, 0, False, min_rows=replicas)
        pipeline = Pipeline(batches.parts, batches.size)
        if self.test_steps is None:
            self.test_steps = self._compile(self._test_step, pipeline)
        self.model.reset_metrics()
        plan = batches.plan(0, 0, self.per_call)
        for inputs in pipeline.calls(batches.order(0), plan):
            self.test_steps(*inputs)
        return {name: float(v) for name, v in self.model.get_metrics_result().items()}

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
