"""Training progress: a live bar per epoch on a terminal, one plain line per epoch elsewhere."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nnctl.keras_env import import_keras

keras = import_keras()


def format_logs(logs: dict | None) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in (logs or {}).items() if isinstance(v, int | float))


class PlainProgress(keras.callbacks.Callback):
    """``epoch 3/10  loss=0.12  accuracy=0.97  val_loss=0.15 ...  (1.2s)`` per epoch, on stderr."""

    def __init__(self, epochs: int, stream=None):
        super().__init__()
        self.epochs, self.stream = epochs, stream or sys.stderr

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        took = time.perf_counter() - self.started
        line = f"epoch {epoch + 1}/{self.epochs}  {format_logs(logs)}  ({took:.1f}s)"
        print(line, file=self.stream, flush=True)


class RichProgress(keras.callbacks.Callback):
    """A live progress bar over the steps of each epoch, leaving one summary line per epoch."""

    def __init__(self, epochs: int, steps: int, console: Console | None = None):
        super().__init__()
        self.epochs, self.steps = epochs, steps
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[logs]}"),
            console=self.console,
            transient=True,
        )

    def on_train_begin(self, logs=None):
        self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        label = f"{epoch + 1}/{self.epochs}"
        self.task = self.progress.add_task("", total=self.steps, epoch=label, logs="")

    def on_train_batch_end(self, batch, logs=None):
        self.progress.update(self.task, completed=batch + 1, logs=format_logs(logs))

    def on_epoch_end(self, epoch, logs=None):
        took = time.perf_counter() - self.started
        self.progress.remove_task(self.task)
        line = f"epoch {epoch + 1}/{self.epochs}  {format_logs(logs)}  ({took:.1f}s)"
        self.console.print(line, markup=False, highlight=False)

    def on_train_end(self, logs=None):
        self.progress.stop()

    def close(self) -> None:
        """Stop the live display when training ends early (a signal, a divergence)."""
        self.progress.stop()
