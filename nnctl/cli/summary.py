"""``nnctl summary SPEC``: the layer table and parameter totals, without training; ``--plot``
draws the model's graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nnctl.cli.common import Overrides, SpecPath, boundary, err, out
from nnctl.spec.validate import load_spec


def summary(
    spec_path: SpecPath,
    overrides: Overrides = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Also draw the model's graph into FILE (.png, .svg, .pdf; needs Graphviz).",
        ),
    ] = None,
) -> None:
    """Build the model a spec describes and print its layers, output shapes and parameters."""
    spec, _ = load_spec(spec_path, overrides or [])
    from nnctl.build.describe import check_drawing, draw, layer_rows, parameter_totals
    from nnctl.modes import placeholder

    if plot is not None:
        check_drawing(plot)
    model = placeholder(spec, spec_path.parent)
    table = Table(title=f"{spec.name} ({spec_path})")
    for column in ("layer", "type", "output shape"):
        table.add_column(column)
    table.add_column("parameters", justify="right")
    for row in layer_rows(model):
        table.add_row(row.name, row.kind, row.shape, f"{row.parameters:,}")
    out.print(table)
    total, trainable = parameter_totals(model)
    out.print(
        f"total parameters: {total:,} "
        f"(trainable {trainable:,}, non-trainable {total - trainable:,})"
    )
    if plot is not None:
        draw(model, plot)
        err.print(f"drew the model's graph into {plot}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(summary))
