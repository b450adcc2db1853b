"""``nnctl train SPEC``: validate, build, train, and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, SpecPath, boundary, err, options, out
from nnctl.spec.validate import load_spec


def train(
    spec_path: SpecPath,
    run_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run directory [default: runs/NAME-TIME].")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue the run in --out from its newest checkpoint.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            help="Start over in a non-empty run directory; with --resume, accept a changed "
            "spec or data."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain lines, no live display.")
    ] = False,
    overrides: Overrides = None,
) -> None:
    """Train the model a spec describes; print the run directory's path."""
    spec, _ = load_spec(spec_path, overrides or [])
    from nnctl.errors import UserError
    from nnctl.modes import placeholder
    from nnctl.rundir import RunDir, default_run_dir
    from nnctl.training import run as training
    from nnctl.training.distribute import cluster, strategy

    strategy(spec)  # train.distribute's devices and cluster, before TensorFlow starts
    if cluster(spec) is not None:  # multi_worker: every worker runs this same command
        if run_dir is None:
            raise UserError("train.distribute.strategy multi_worker needs --out RUN_DIR, the "
                            "same on every worker")  # fmt: skip
        placeholder(spec, None)
        run = writing(RunDir(run_dir), spec_path)
        metrics = training.train_cluster(spec, spec_path.parent, run, quiet=quiet, force=force)
    elif resume:
        if run_dir is None:
            raise UserError("--resume needs the run directory: --out RUN_DIR")
        run = writing(RunDir(run_dir), spec_path)
        metrics = training.resume(spec, spec_path.parent, run, quiet=quiet, force=force)
    else:
        placeholder(spec, None)  # shape and size errors before any data is loaded
        run = writing(RunDir(run_dir or default_run_dir(spec.name)), spec_path)
        run = RunDir.create(run.path, force=force)
        err.print(f"training {spec.name} into {run.path}", markup=False)
        metrics = training.train(spec, spec_path.parent, run, quiet=quiet)
    report(metrics, run.path)


def writing(run, spec_path: Path):
    """Note the run being written, for the message should the machine refuse a write."""
    options.run = run.path
    options.restart = f"nnctl train {spec_path} --out {run.path} --force"
    return run


def report(metrics: dict, path: Path) -> None:
    """Final metrics per split on stderr, the run directory on stdout."""
    for split, values in metrics.items():
        err.print(
            f"{split:>10}: " + "  ".join(f"{k}={v:.4f}" for k, v in values.items()), markup=False
        )
    out.print(str(path), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(train))
