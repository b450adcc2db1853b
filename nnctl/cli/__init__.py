"""The ``nnctl`` command line: one thin module per command, one error boundary (``boundary``)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import typer

from nnctl.cli import (
    compare,
    evaluate,
    export,
    init,
    predict,
    render,
    report,
    resume,
    runs,
    schema,
    summary,
    train,
    tune,
    validate,
)
from nnctl.cli.common import options

app = typer.Typer(
    name="nnctl",
    help="Declarative deep learning: validate, train, evaluate and export Keras models from YAML.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
COMMANDS = (init, validate, render, schema, summary, train, resume, tune, runs, compare, report,
            evaluate, export, predict)  # fmt: skip
for module in COMMANDS:
    module.register(app)


def versions() -> str:
    """nnctl's, TensorFlow's, Keras's and Python's versions, read from the installed packages'
    metadata: importing TensorFlow to ask would take seconds."""
    import nnctl

    def installed(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (
        f"nnctl {nnctl.__version__}\ntensorflow {installed('tensorflow')}\n"
        f"keras {installed('keras')}\npython {platform.python_version()}"
    )


def _print_version(value: bool) -> None:
    if value:
        print(versions())
        raise typer.Exit()


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for failures."),
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print nnctl's, TensorFlow's, Keras's and Python's versions and exit.",
    ),
) -> None:
    """Declarative deep learning: validate, train, evaluate and export Keras models from YAML."""
    options.debug = debug


def main(argv: list[str] | None = None) -> int:
    """Run one command line; return its exit code."""
    try:
        app(args=argv, prog_name="nnctl")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
