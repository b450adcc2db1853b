"""``nnctl validate SPEC...``: check specs; with ``--build``, also build each model symbolically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, boundary, err, error_text, out
from nnctl.errors import SpecError, UserError
from nnctl.spec.validate import load_spec


def validate(
    specs: Annotated[
        list[Path], typer.Argument(help="Spec files to check.", metavar="SPEC", show_default=False)
    ],
    overrides: Overrides = None,
    build: Annotated[
        bool, typer.Option("--build", help="Also build each model to catch shape errors.")
    ] = False,
) -> None:
    """Check specs: one OK line per valid file, or every error of every file (exit 2).

    Plain validation imports no TensorFlow; --build does, and builds each model on
    placeholder data to report shape and size errors at the layer that causes them.
    """
    failures = []
    for path in specs:
        try:
            spec, _ = load_spec(path, overrides or [])
            if build:
                from nnctl.modes import placeholder

                placeholder(spec, path.parent)
            out.print(f"{path}: OK", markup=False)
        except UserError as exc:
            failures.append(exc)
            err.print(error_text(exc), markup=False)
    if failures:
        count = sum(len(e.problems) if isinstance(e, SpecError) else 1 for e in failures)
        raise UserError(f"{count} error(s) in {len(failures)} of {len(specs)} file(s)")


def register(app: typer.Typer) -> None:
    app.command()(boundary(validate))
