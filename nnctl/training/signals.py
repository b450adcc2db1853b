"""SIGINT and SIGTERM during training: note the signal, let the loop finish its step and commit."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from nnctl.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """The first signal received, or None; a second signal interrupts at once."""

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""


@contextmanager
def interruptible() -> Iterator[Stop]:
    """Install the handlers for the duration of training; restore the previous ones after."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupted(stop: Stop, where: str, checkpoint, run_path) -> Interrupted:
    """The error that ends a run stopped by a signal at ``where``, naming the checkpoint it
    saved and the command that continues it."""
    return Interrupted(
        f"{stop.name} received: stopped {where} and saved checkpoint {checkpoint.path}; "
        f"continue with: nnctl resume {run_path}",
        stop.signum,
    )
