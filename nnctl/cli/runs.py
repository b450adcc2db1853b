"""``nnctl runs [DIR]``: one row per run directory — name, start, status, epochs, metrics."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import boundary, err
from nnctl.cli.table import number, show


def runs(
    folder: Annotated[
        Path, typer.Argument(help="The folder of run directories.", metavar="DIR")
    ] = Path("runs"),
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            metavar="KEY",
            help="Sort by a metric (best first: lowest loss or error, highest otherwise) or by "
            "name, started, status or epochs.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of runs.")] = False,
) -> None:
    """List the runs in DIR: name, start time, status (finished, running, interrupted,
    diverged, failed), epochs and the main final metrics."""
    from nnctl.workbench import runs as listing

    records = listing.collect(folder)
    if sort is not None:
        records = listing.sort(records, sort)
    if as_json:
        print(json.dumps([r.as_json() for r in records], indent=2))
        return
    if not records:
        err.print(f"no runs in {folder}", markup=False)
        return
    metrics = listing.shown_metrics(records, sort)
    rows = [
        [r.name, _local(r.started), r.status, str(r.epochs)]
        + [number(r.metrics.get(m)) for m in metrics]
        for r in records
    ]
    show([*listing.COLUMNS, *metrics], rows)


def _local(started: str | None) -> str:
    """run.json's UTC time as local time, to the minute."""
    if not started:
        return "-"
    try:
        return datetime.fromisoformat(started).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return started


def register(app: typer.Typer) -> None:
    app.command()(boundary(runs))
