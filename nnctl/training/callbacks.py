"""The Keras callbacks a spec asks for, made resumable, plus TensorBoard and history.csv."""

from __future__ import annotations

import numpy as np

from nnctl.keras_env import import_keras
from nnctl.rundir import LOGS, RunDir
from nnctl.spec.schema import ReduceOnPlateau, Spec

keras = import_keras()


def _plain(value):
    return float(value) if isinstance(value, np.floating | np.integer) else value


class Resumable:
    """A Keras callback whose state (``STATE`` attributes) a checkpoint saves and restores.

    A restored state is applied right after Keras's own ``on_train_begin``, which resets it.
    Before training begins there is no state: ``get_state`` returns ``{}``.
    """

    STATE: tuple[str, ...] = ()
    _pending: tuple[dict, list[np.ndarray]] | None = None
    _begun = False

    def get_state(self) -> tuple[dict, list[np.ndarray]]:
        if not self._begun:
            return {}, []
        return {name: _plain(getattr(self, name)) for name in self.STATE}, []

    def set_state(self, state: dict, arrays: list[np.ndarray]) -> None:
        self._pending = (state, arrays)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._begun = True
        if self._pending is not None:
            self._apply(*self._pending)
        self._pending = None

    def _apply(self, state: dict, arrays: list[np.ndarray]) -> None:
        for name in self.STATE:
            setattr(self, name, state[name])


class EarlyStopping(Resumable, keras.callbacks.EarlyStopping):
    """Keras's early stopping, with its wait count, best value and best weights resumable."""

    STATE = ("wait", "stopped_epoch", "best", "best_epoch")

    def get_state(self) -> tuple[dict, list[np.ndarray]]:
        state, _ = super().get_state()
        if not state:
            return state, []
        state["has_best_weights"] = self.best_weights is not None
        return state, list(self.best_weights or [])

    def _apply(self, state: dict, arrays: list[np.ndarray]) -> None:
        super()._apply(state, arrays)
        self.best_weights = list(arrays) if state["has_best_weights"] else None


class ReduceLROnPlateau(Resumable, keras.callbacks.ReduceLROnPlateau):
    """Keras's reduce-on-plateau, with its wait and cooldown counts and best value resumable.
    The learning rate itself is an optimizer variable, saved with the optimizer."""

    STATE = ("wait", "cooldown_counter", "best")


def monitor_mode(monitor: str) -> str:
    """Losses and errors improve downwards, accuracies upwards; for other names Keras looks at
    the compiled metric (it cannot for a per-output loss such as ``val_size_loss``)."""
    name = monitor.removeprefix("val_")
    if name.endswith(("loss", "error")):
        return "min"
    if name.endswith(("accuracy", "auc", "precision", "recall")):
        return "max"
    return "auto"


def spec_callbacks(spec: Spec) -> dict[str, Resumable]:
    """Early stopping and reduce-on-plateau, as the spec configures them, by checkpoint key."""
    callbacks = {}
    stop = spec.train.early_stopping
    if stop:
        callbacks["early_stopping"] = EarlyStopping(
            monitor=stop.monitor,
            patience=stop.patience,
            min_delta=stop.min_delta,
            mode=monitor_mode(stop.monitor) if stop.mode == "auto" else stop.mode,
            restore_best_weights=stop.restore_best_weights,
        )
    plateau = spec.optimizer.schedule
    if isinstance(plateau, ReduceOnPlateau):
        callbacks["reduce_on_plateau"] = ReduceLROnPlateau(
            monitor=plateau.monitor,
            factor=plateau.factor,
            patience=plateau.patience,
            min_delta=plateau.min_delta,
            min_lr=plateau.min_lr,
        )
    return callbacks


def run_callbacks(run: RunDir) -> list:
    """TensorBoard logs (history.csv is rewritten from the history by the training loop)."""
    return [keras.callbacks.TensorBoard(log_dir=str(run.file(LOGS)), write_graph=False)]


def history_csv(
    history: dict[str, list[float]],
    index: str = "epoch",
    first: int = 0,
    columns: tuple[str, ...] | None = None,
) -> str:
    """One row per epoch (numbered from 0, as Keras's CSVLogger) or episode (``index``,
    numbered from ``first``); ``columns`` in that order, or every metric in sorted order."""
    keys = list(columns or sorted(history))
    rows = [",".join([index, *keys])]
    for number in range(max((len(v) for v in history.values()), default=0)):
        column = [history.get(k, []) for k in keys]
        values = [repr(c[number]) if number < len(c) else "NA" for c in column]
        rows.append(",".join([str(number + first), *values]))
    return "\n".join(rows) + "\n"
