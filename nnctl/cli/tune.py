"""``nnctl tune SPEC``: search the spec's ``search`` section's space with Optuna."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, SpecPath, boundary, err, out
from nnctl.errors import UserError
from nnctl.spec.validate import load_spec


def tune(
    spec_path: SpecPath,
    tune_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Tune directory [default: tunes/NAME]; again continues."),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Finished trials to reach [default: search.trials].")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Trial processes on this machine, sharing the study.")
    ] = 1,
    storage: Annotated[
        str | None,
        typer.Option(
            envvar="NNCTL_TUNE_STORAGE",
            help="An Optuna storage URL (postgresql://..., mysql://...) shared by workers on "
            "several machines [default: SQLite in the tune directory]; or the environment "
            "variable NNCTL_TUNE_STORAGE, which keeps a password off the command line.",
            show_envvar=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the search space and budget; run nothing.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain lines, no live table.")
    ] = False,
    worker: Annotated[bool, typer.Option("--worker", hidden=True)] = False,
    overrides: Overrides = None,
) -> None:
    """Tune the values of the spec's search section; print the tune directory's best.yaml."""
    overrides = [*(overrides or []), *([f"search.trials={trials}"] if trials else [])]
    spec, _ = load_spec(spec_path, overrides)
    if spec.search is None:
        raise UserError(f"{spec_path}: no search section; add one to tune (see README)")
    from nnctl.tune import command

    if dry_run:
        out.print(command.dry_run(spec), markup=False)
        return
    request = command.Request(
        spec_path, overrides, tune_dir or Path("tunes") / spec.name, storage, workers, quiet
    )
    if worker:
        command.worker(spec, request, _say)
        return
    err.print(f"tuning {spec.name} into {request.tune_dir}", markup=False)
    show = _table(spec.search) if err.is_terminal and not quiet else None
    best = command.tune(spec, request, _say, show)
    if best is None:
        raise UserError("no trial completed (all were pruned or failed); nothing is best")
    err.print(
        f"best: trial {best.number}, {spec.search.metric} = {best.value:.4f} "
        f"({', '.join(f'{k}={v}' for k, v in best.params.items())})",
        markup=False,
    )
    out.print(str(request.tune_dir / "best.yaml"), markup=False)


def _say(line: str) -> None:
    err.print(line, markup=False)


def _table(search):
    """On a terminal: the table of trials so far, after each trial."""
    from rich.table import Table

    from nnctl.tune.results import table

    def show(study) -> None:
        headers, rows = table(study, search)
        grid = Table(title="trials")
        for header in headers:
            grid.add_column(header, justify="left" if header == "state" else "right")
        for row in rows:
            grid.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
        err.print(grid)

    return show


def register(app: typer.Typer) -> None:
    app.command()(boundary(tune))
