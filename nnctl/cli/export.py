"""``nnctl export RUN_DIR``: write a SavedModel, .keras, TFLite or ONNX file, checked against the
model."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import RunPath, boundary, err, out


class Format(StrEnum):
    saved_model = "saved_model"
    keras = "keras"
    tflite = "tflite"
    onnx = "onnx"


def export(
    run_path: RunPath,
    dest: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write [default: RUN_DIR/export[.suffix]]."),
    ] = None,
    fmt: Annotated[
        Format | None, typer.Option("--format", help="[default: the spec's export.format]")
    ] = None,
) -> None:
    """Export a trained run and verify the export against the Keras model."""
    from nnctl.export import export_run
    from nnctl.rundir import RunDir

    result = export_run(RunDir.open(run_path), dest, fmt.value if fmt else None)
    check = f"|export - model| <= {result.difference:.2g} on {result.samples} samples "
    check += f"(tolerance {result.tolerance:g})"
    if result.strings:
        check = f"decodes the same strings as the model on {result.samples} samples"
    err.print(f"{result.format}: {check}", markup=False)
    out.print(str(result.path), markup=False)
    for part in result.parts:
        out.print(str(part), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(export))
