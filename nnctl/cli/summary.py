"""``nnctl summary SPEC``: the layer table and parameter totals, without training."""

from __future__ import annotations

import typer
from rich.table import Table

from nnctl.cli.common import Overrides, SpecPath, boundary, out
from nnctl.spec.validate import load_spec


def summary(spec_path: SpecPath, overrides: Overrides = None) -> None:
    """Build the model a spec describes and print its layers, output shapes and parameters."""
    spec, _ = load_spec(spec_path, overrides or [])
    import numpy as np

    from nnctl.modes import placeholder

    model = placeholder(spec, spec_path.parent)
    table = Table(title=f"{spec.name} ({spec_path})")
    for column in ("layer", "type", "output shape"):
        table.add_column(column)
    table.add_column("parameters", justify="right")
    for layer in model.layers:
        shape = tuple(layer.output.shape) if hasattr(layer, "output") else ""
        table.add_row(layer.name, type(layer).__name__, str(shape), f"{layer.count_params():,}")
    out.print(table)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    out.print(
        f"total parameters: {total:,} "
        f"(trainable {trainable:,}, non-trainable {total - trainable:,})"
    )


def register(app: typer.Typer) -> None:
    app.command()(boundary(summary))
