"""Training progress: a live bar on a terminal, one plain line per epoch (or every tenth
episode) elsewhere; the same summary line for both."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nnctl.keras_env import import_keras

keras = import_keras()


def format_logs(logs: dict | None) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in (logs or {}).items() if isinstance(v, int | float))


def summary_line(unit: str, number: int, total: int, logs: dict | None, seconds: float) -> str:
    """``epoch 3/10  loss=0.12  accuracy=0.97  (1.2s)``; ``number`` counts from 1."""
    return f"{unit} {number}/{total}  {format_logs(logs)}  ({seconds:.1f}s)"


def live_bar(label: str, console: Console, *columns) -> Progress:
    """A transient rich progress bar: ``label``, the bar, done/total, then ``columns``."""
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), *columns,
        TextColumn("{task.fields[logs]}"), console=console, transient=True,
    )  # fmt: skip


class PlainProgress(keras.callbacks.Callback):
    """``epoch 3/10  loss=0.12  accuracy=0.97  val_loss=0.15 ...  (1.2s)`` per epoch, on stderr."""

    def __init__(self, epochs: int, stream=None):
        super().__init__()
        self.epochs, self.stream = epochs, stream or sys.stderr

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        took = time.perf_counter() - self.started
        print(
            summary_line("epoch", epoch + 1, self.epochs, logs, took), file=self.stream, flush=True
        )


class RichProgress(keras.callbacks.Callback):
    """A live progress bar over the steps of each epoch, leaving one summary line per epoch."""

    def __init__(self, epochs: int, steps: int, console: Console | None = None):
        super().__init__()
        self.epochs, self.steps = epochs, steps
        self.console = console or Console(stderr=True)
        self.progress = live_bar(
            "[bold]epoch {task.fields[epoch]}", self.console, TimeElapsedColumn()
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
        line = summary_line("epoch", epoch + 1, self.epochs, logs, took)
        self.console.print(line, markup=False, highlight=False)

    def on_train_end(self, logs=None):
        self.progress.stop()

    def close(self) -> None:
        """Stop the live display when training ends early (a signal, a divergence)."""
        self.progress.stop()


class EpisodeProgress:
    """A live bar over an agent's episodes on a terminal; elsewhere (or quiet) one line every
    ``EVERY`` episodes and at the last."""

    EVERY = 10

    def __init__(self, episodes: int, *, quiet: bool):
        self.episodes, self.started = episodes, time.perf_counter()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            self.bar = live_bar("[bold]episode", Console(stderr=True))
            self.task = self.bar.add_task("", total=episodes, logs="")
            self.bar.start()

    def update(self, episode: int, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=episode, logs=format_logs(logs))
        if episode % self.EVERY == 0 or episode == self.episodes:
            took = time.perf_counter() - self.started
            line = summary_line("episode", episode, self.episodes, logs, took)
            if self.bar is not None:
                self.bar.console.print(line, markup=False, highlight=False)
            else:
                print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
