"""``nnctl validate SPEC...``: check specs; with ``--build``, also build each model symbolically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, boundary, err, error_text, out
from nnctl.errors import SpecError, UserError
from nnctl.spec.validate import load_spec


def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.", show_default=False)],
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
                build_placeholder(spec, path.parent)
            out.print(f"{path}: OK", markup=False)
        except UserError as exc:
            failures.append(exc)
            err.print(error_text(exc), markup=False)
    if failures:
        count = sum(len(e.problems) if isinstance(e, SpecError) else 1 for e in failures)
        raise UserError(f"{count} error(s) in {len(failures)} of {len(specs)} file(s)")


def build_before_data(spec) -> None:
    """Build on placeholder data when the sample shape is known without reading any data."""
    from nnctl.build import build_symbolic
    from nnctl.data.shapes import sample_shape

    known = sample_shape(spec.data)
    if known is not None:
        build_symbolic(spec, *known)


def build_placeholder(spec, base_dir: Path):
    """The spec's model built on zeros of its data's sample shape (files are read for it)."""
    from nnctl.build import build_symbolic
    from nnctl.data import load_dataset
    from nnctl.data.shapes import sample_shape

    known = sample_shape(spec.data)
    if known is None:
        x = load_dataset(spec.data, spec.train.validation, spec.seed, base_dir).train.x
        known = (x.shape[1:], str(x.dtype))
    return build_symbolic(spec, *known)


def register(app: typer.Typer) -> None:
    app.command()(boundary(validate))
