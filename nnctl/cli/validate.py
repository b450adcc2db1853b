"""``nnctl validate SPEC...``: check specs; with ``--build``, also build each model symbolically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, boundary, err, error_text, out
from nnctl.errors import SpecError, UserError
from nnctl.spec.loader import format_value
from nnctl.spec.search import NO_SEARCH, candidates, override
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
            spec, source = load_spec(path, overrides or [])
            if build:
                _build(spec, source, path, overrides or [])
            out.print(f"{path}: OK", markup=False)
        except UserError as exc:
            failures.append(exc)
            err.print(error_text(exc), markup=False)
    if failures:
        count = sum(len(e.problems) if isinstance(e, SpecError) else 1 for e in failures)
        raise UserError(f"{count} error(s) in {len(failures)} of {len(specs)} file(s)")


def _build(spec, source, path: Path, overrides: list[str]) -> None:
    """Build the model on placeholder data; with a search section, also for each choice and
    range end, the errors located at the value that causes them."""
    from nnctl.modes import placeholder

    placeholder(spec, path.parent)
    problems = []
    for key, at, value in candidates(spec.search) if spec.search else []:
        candidate, _ = load_spec(path, [*overrides, override(key, value), NO_SEARCH])
        try:
            placeholder(candidate, path.parent)
        except SpecError as exc:
            problems += [
                source.problem(at, f"with {key} = {format_value(value)}: {p.path}: {p.message}")
                for p in exc.problems
            ]
        except UserError as exc:
            problems.append(source.problem(at, f"with {key} = {format_value(value)}: {exc}"))
    if problems:
        raise SpecError(problems)


def register(app: typer.Typer) -> None:
    app.command()(boundary(validate))
