"""What the commands share: argument types, consoles, and the one error boundary."""

from __future__ import annotations

import functools
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

import typer
from rich.console import Console

from nnctl.errors import ExitCode, NnctlError, SpecError

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
options = SimpleNamespace(debug=False)


def error_text(exc: NnctlError) -> str:
    return str(exc) if isinstance(exc, SpecError) else f"error: {exc}"


def boundary(command):
    """Where failures become a message on stderr and an exit code: 2 for the user's mistakes,
    1 for internal errors, 130 for an interrupt. Tracebacks only with ``--debug``."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except NnctlError as exc:
            _traceback()
            err.print(error_text(exc), markup=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except Exception as exc:  # nothing else may reach the user as a bare traceback
            _traceback()
            err.print(f"internal error: {type(exc).__name__}: {exc}", markup=False)
            err.print("A bug in nnctl or its environment; rerun with --debug for a traceback.")
            raise typer.Exit(ExitCode.INTERNAL) from None

    return wrapper


def _traceback() -> None:
    if options.debug:
        err.print(traceback.format_exc(), markup=False)
