"""What the commands share: argument types, consoles, and the one error boundary."""

from __future__ import annotations

import contextlib
import errno
import functools
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer
from rich.console import Console

from nnctl.errors import Diverged, ExitCode, Interrupted, NnctlError, SpecError

SpecPath = Annotated[
    Path, typer.Argument(help="The YAML spec file.", metavar="SPEC", show_default=False)
]
RunPath = Annotated[
    Path,
    typer.Argument(
        help="A run directory written by 'nnctl train'.", metavar="RUN_DIR", show_default=False
    ),
]
Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override a spec value, e.g. --set train.epochs=5 (repeatable).",
    ),
]

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
options = SimpleNamespace(debug=False, run=None, restart=None)  # run: the run being written

MACHINE_FAILURES = {  # the machine's errors a user fixes (not nnctl bugs), in words
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a folder on the path is a file",
    errno.EEXIST: "it is a file, where a folder is needed",
}


def error_text(exc: NnctlError) -> str:
    return str(exc) if isinstance(exc, SpecError) else f"error: {exc}"


def boundary(command):
    """Where failures become a message on stderr and an exit code: 2 for the user's mistakes,
    1 for internal errors, 130 for an interrupt. Tracebacks only with ``--debug``."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        options.run = options.restart = None
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except NnctlError as exc:
            _traceback()
            err.print(error_text(exc), markup=False)
            _record(_ending(exc), str(exc))
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:
            if exc.errno not in MACHINE_FAILURES:
                _internal(exc)
            _traceback()
            message = machine_failure(exc)
            err.print(f"error: {message}", markup=False)
            _record("failed", message)
            raise typer.Exit(ExitCode.USAGE) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            _record("interrupted", "interrupted (KeyboardInterrupt)")
            raise typer.Exit(130) from None
        except Exception as exc:  # nothing else may reach the user as a bare traceback
            _internal(exc)

    return wrapper


def _internal(exc: Exception):
    _traceback()
    message = f"internal error: {type(exc).__name__}: {exc}"
    err.print(message, markup=False)
    _record("failed", message)
    err.print("A bug in nnctl or its environment; rerun with --debug for a traceback.")
    raise typer.Exit(ExitCode.INTERNAL) from None


def _ending(exc: NnctlError) -> str | None:
    """How a run's training ended, for an error that ends it; None for the user errors that
    refuse before training changed anything (they leave the run as it was)."""
    if isinstance(exc, Diverged):
        return "diverged"
    if isinstance(exc, Interrupted):
        return "interrupted"
    return None


def _record(status: str | None, message: str) -> None:
    """Note in run.json of the run being trained how its training ended, for ``nnctl runs``."""
    if status is None or options.run is None:
        return
    from nnctl.rundir import RunDir

    with contextlib.suppress(OSError):  # the disk that just refused a write may refuse again
        RunDir(Path(options.run)).record_outcome(status, message)


def machine_failure(exc: OSError) -> str:
    """What the machine refused, where, and, while a run was being written, that its last
    good checkpoint is intact and the command that continues."""
    where = exc.filename or options.run or "a file"
    message = f"cannot write {where}: {MACHINE_FAILURES[exc.errno]}"
    if options.run is None or not Path(options.run).is_dir():
        return message + "; free space or choose a writable folder (--out), then run it again"
    from nnctl.rundir import CHECKPOINTS
    from nnctl.training.checkpoint import intact

    last = intact(Path(options.run) / CHECKPOINTS)
    fix = "free space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix the folder"
    if last is None:
        return (
            f"{message}; no checkpoint was written yet: {fix}, then start again: {options.restart}"
        )
    return (
        f"{message}; the last good checkpoint, {last.path}, is intact: {fix}, then continue: "
        f"nnctl resume {options.run}"
    )


def _traceback() -> None:
    if options.debug:
        err.print(traceback.format_exc(), markup=False)
