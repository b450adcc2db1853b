"""``nnctl report RUN``: one self-contained HTML page about a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import RunPath, boundary, err, out


def report(
    run_path: RunPath,
    target: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="FILE.html",
            help="Where to write the page [default: RUN_DIR/report.html].",
        ),
    ] = None,
) -> None:
    """Write one HTML page about a run (metrics and baselines, curves, the mode's figures, the
    model's graph, the spec with each value's origin, versions); print its path."""
    from nnctl.workbench.report import write_report

    err.print(f"reporting on {run_path}", markup=False)
    out.print(str(write_report(run_path, target)), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(report))
