"""The ``nnctl`` command line: one thin module per command, one error boundary (``boundary``)."""

from __future__ import annotations

import sys

import typer

from nnctl.cli import (
    evaluate,
    export,
    predict,
    render,
    resume,
    schema,
    summary,
    train,
    validate,
)
from nnctl.cli.common import options

app = typer.Typer(
    name="nnctl",
    help="Declarative deep learning: validate, train, evaluate and export Keras models from YAML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
for module in (validate, render, schema, summary, train, resume, evaluate, export, predict):
    module.register(app)


@app.callback()
def _options(
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for failures."),
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
