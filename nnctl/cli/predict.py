"""``nnctl predict MODEL --input FILE``: batched inference with a run or an export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import boundary, err, out


def predict(
    model: Annotated[
        Path,
        typer.Argument(
            help="A run directory, a SavedModel directory, or a .keras, .tflite or .onnx file.",
            metavar="RUN_DIR|EXPORT",
            show_default=False,
        ),
    ],
    source: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="A .npy or .csv file of samples, or a folder of images.",
            show_default=False,
        ),
    ],
    dest: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write .csv, .json or .npy [default: CSV on stdout]."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Samples per inference batch.")] = 256,
    trust_model: Annotated[
        bool,
        typer.Option(
            "--trust-model",
            help="Run a SavedModel, TFLite or ONNX file even if it holds operations beyond pure "
            "computation (file, process or Python ops). Only for models whose author you trust.",
        ),
    ] = False,
) -> None:
    """Predict: for classifiers the label and class probabilities of each sample."""
    from nnctl.model_safety import Trust
    from nnctl.predict import predict as run_predict
    from nnctl.predict import render, write

    trust = Trust.USER if trust_model else Trust.CHECK
    result = run_predict(model, source, batch_size, trust)
    err.print(f"predicted {len(result.names)} samples with {model}", markup=False)
    if dest is None:
        sys.stdout.write(render(result, ".csv").decode())
        return
    write(result, dest)
    out.print(str(dest), markup=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(predict))
