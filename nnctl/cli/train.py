"""``nnctl train SPEC``: validate, build, train, and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import SpecPath, boundary, err, out
from nnctl.spec.validate import load_spec


def train(
    spec_path: SpecPath,
    run_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory [default: runs/NAME-TIME].")
    ] = None,
    force: Annotated[bool, typer.Option(help="Reuse a non-empty run directory.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain lines, no live display.")
    ] = False,
) -> None:
    """Train the model a spec describes; print the run directory's path."""
    spec, _ = load_spec(spec_path)
    from nnctl.rundir import RunDir, default_run_dir
    from nnctl.training.run import train as train_run

    run = RunDir.create(run_dir or default_run_dir(spec.name), force=force)
    err.print(f"training {spec.name} into {run.path}", markup=False)
    metrics = train_run(spec, spec_path.parent, run, quiet=quiet)
    for split, values in metrics.items():
        err.print(
            f"{split:>10}: " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()), markup=False
        )
    out.print(str(run.path), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(train))
