"""``nnctl evaluate RUN_DIR``: metrics, and for classifiers a confusion matrix and class scores."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from nnctl.cli.common import RunPath, boundary, out


class SplitName(StrEnum):
    test = "test"
    validation = "validation"
    train = "train"


def evaluate(
    run_path: RunPath,
    split: Annotated[SplitName, typer.Option(help="Which split to evaluate.")] = SplitName.test,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object of metrics.")
    ] = False,
) -> None:
    """Evaluate a trained run on one split."""
    from nnctl.evaluate import evaluate_run
    from nnctl.rundir import RunDir

    report = evaluate_run(RunDir.open(run_path), split.value)
    if as_json:
        baselines = {f"baseline_{name}": value for name, value in report.baselines.items()}
        print(json.dumps(report.metrics | baselines | _classes(report)))
        return
    table = Table(title=f"{run_path} · {report.split} split · {report.samples} {report.unit}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in report.metrics.items():
        table.add_row(name, f"{value:.4f}")
    for name, value in report.baselines.items():
        table.add_row(f"baseline: {name.replace('_', ' ')}", f"{value:.4f}")
    out.print(table)
    if report.confusion is not None:
        out.print(_class_table(report))
    if report.examples:
        out.print(_examples_table(report))


def _classes(report) -> dict:
    """Classifiers: ``{"classes": {name: {precision, recall, samples, predicted}}}``, where
    ``predicted`` is the class's confusion-matrix row (counts per predicted class, in order)."""
    if report.confusion is None:
        return {}
    rows = zip(report.class_names, report.confusion, report.precision, report.recall, strict=True)
    classes = {
        name: {"precision": p, "recall": r, "samples": int(n.sum()), "predicted": n.tolist()}
        for name, n, p, r in rows
    }
    return {"classes": classes}


def _examples_table(report) -> Table:
    table = Table(title="examples, greedy decoding (mistakes first)")
    for column in ("input", "expected", "decoded", ""):
        table.add_column(column)
    for source, expected, got in report.examples:
        table.add_row(source, expected, got, "ok" if got == expected else "wrong")
    return table


def _class_table(report) -> Table:
    names = report.class_names
    table = Table(title="confusion matrix (rows: true class, columns: predicted) and class scores")
    table.add_column("class")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    for i, name in enumerate(names):
        row = [str(v) for v in report.confusion[i]]
        table.add_row(name, *row, f"{report.precision[i]:.3f}", f"{report.recall[i]:.3f}")
    return table


def register(app: typer.Typer) -> None:
    app.command()(boundary(evaluate))
