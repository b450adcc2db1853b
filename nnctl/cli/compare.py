"""``nnctl compare RUN RUN...``: final metrics side by side (best marked), the spec keys whose
values differ, and with ``--plot`` the learning curves overlaid in one figure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import boundary, err, out
from nnctl.cli.table import number, show

BEST = " *"


def compare(
    run_paths: Annotated[
        list[Path],
        typer.Argument(help="Run directories to compare.", metavar="RUN...", show_default=False),
    ],
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", metavar="FILE.png", help="Draw the runs' learning curves in one figure."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: runs, metrics, differences.")
    ] = False,
) -> None:
    """Compare runs: final metrics side by side (* marks the best), then only the spec keys
    whose values differ."""
    from nnctl.workbench.compare import compare as side_by_side
    from nnctl.workbench.compare import plot as draw

    comparison = side_by_side(run_paths)
    if plot is not None:
        draw(comparison, plot)
        err.print(f"learning curves: {plot}", markup=False)
    if as_json:
        print(json.dumps(comparison.as_json(), indent=2, default=str))
        return
    _metrics_table(comparison)
    out.print()
    _differences_table(comparison)


def _metrics_table(comparison) -> None:
    rows = [
        ["status", *(r.status for r in comparison.runs)],
        ["epochs", *(str(r.epochs) for r in comparison.runs)],
    ]
    for name, values in comparison.metrics.items():
        best = comparison.best[name]
        rows.append(
            [name] + [number(v) + (BEST if i in best else "") for i, v in enumerate(values)]
        )
    show(["metric", *comparison.labels], rows, title=f"final metrics ({BEST.strip()} best)")


def _differences_table(comparison) -> None:
    if not comparison.differences:
        out.print("the runs' resolved specs are the same", markup=False)
        return
    rows = [[key, *(_value(v) for v in values)] for key, values in comparison.differences.items()]
    show(["spec key", *comparison.labels], rows, title="spec keys whose values differ")


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def register(app: typer.Typer) -> None:
    app.command()(boundary(compare))
