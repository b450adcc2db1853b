"""``nnctl resume RUN_DIR``: continue an interrupted run from its newest intact checkpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from nnctl.cli.common import RunPath, boundary, options
from nnctl.cli.train import report


def resume(
    run_path: RunPath,
    force: Annotated[
        bool, typer.Option(help="Accept a spec.yaml edited since the checkpoint, or new data.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain lines, no live display.")
    ] = False,
) -> None:
    """Continue training a run directory (it holds its resolved spec); print its path."""
    from nnctl.errors import UserError
    from nnctl.rundir import SPEC, RunDir
    from nnctl.spec.validate import load_spec

    run = RunDir(run_path)
    if not run.file(SPEC).is_file():
        raise UserError(f"{run_path}: not a run directory (no {SPEC})")
    spec, _ = load_spec(run.file(SPEC))
    distribute = spec.train.distribute
    if distribute is not None and distribute.strategy == "multi_worker":
        raise UserError(
            f"{run_path} trains on a multi_worker cluster: restart every worker with the "
            "nnctl train command that started it; the chief continues from this checkpoint"
        )
    options.run, options.restart = run_path, f"nnctl resume {run_path}"
    from nnctl.training.distribute import strategy
    from nnctl.training.run import resume as resume_run

    strategy(spec)  # train.distribute's devices, before TensorFlow starts

    report(resume_run(spec, run_path, run, quiet=quiet, force=force), run_path)


def register(app: typer.Typer) -> None:
    app.command()(boundary(resume))
