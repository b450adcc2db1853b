"""The Keras callbacks a spec asks for, plus those every run has (history, TensorBoard, NaN)."""

from __future__ import annotations

import math

from nnctl.keras_env import import_keras
from nnctl.rundir import HISTORY, LOGS, RunDir
from nnctl.spec.schema import ReduceOnPlateau, Spec

keras = import_keras()


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop at the first non-finite loss, remembering where, so the run can say so."""

    def __init__(self):
        super().__init__()
        self.failure: str | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.failure = f"loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        bad = {
            k: v for k, v in (logs or {}).items() if isinstance(v, float) and not math.isfinite(v)
        }
        if bad and self.failure is None:
            self.failure = f"{', '.join(f'{k}={v}' for k, v in bad.items())} at epoch {epoch + 1}"
            self.model.stop_training = True


def spec_callbacks(spec: Spec) -> list:
    """Early stopping and reduce-on-plateau, as the spec configures them."""
    callbacks = []
    stop = spec.train.early_stopping
    if stop:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stop.monitor,
                patience=stop.patience,
                min_delta=stop.min_delta,
                mode=stop.mode,
                restore_best_weights=stop.restore_best_weights,
            )
        )
    plateau = spec.optimizer.schedule
    if isinstance(plateau, ReduceOnPlateau):
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=plateau.monitor,
                factor=plateau.factor,
                patience=plateau.patience,
                min_delta=plateau.min_delta,
                min_lr=plateau.min_lr,
            )
        )
    return callbacks


def run_callbacks(run: RunDir) -> list:
    """History as CSV (written as it goes) and TensorBoard logs."""
    return [
        keras.callbacks.CSVLogger(str(run.file(HISTORY))),
        keras.callbacks.TensorBoard(log_dir=str(run.file(LOGS)), write_graph=False),
    ]
