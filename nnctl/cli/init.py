"""``nnctl init SPEC``: write a commented starting spec for a CSV file or a built-in source.

On a terminal, what the flags leave open is asked (rich prompts, on stderr); from a script
(stdin not a terminal) nothing is asked: a missing flag is an error that names it.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.prompt import Prompt

from nnctl.cli.common import boundary, err, out
from nnctl.errors import UserError
from nnctl.workbench import init as starter


class Template(StrEnum):
    mlp = "mlp"
    cnn = "cnn"
    lstm = "lstm"
    autoencoder = "autoencoder"


class TaskName(StrEnum):
    classification = "classification"
    regression = "regression"


def init(
    spec_path: Annotated[
        Path, typer.Argument(help="The spec file to write.", metavar="SPEC", show_default=False)
    ],
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="FILE.csv", help="A CSV file with a header row."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", metavar="COLUMN", help="The CSV column to predict."),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help=f"A built-in data set instead: {', '.join(starter.SOURCES)}.",
        ),
    ] = None,
    task: Annotated[
        TaskName | None,
        typer.Option(help="Override the task read from the target column."),
    ] = None,
    template: Annotated[
        Template | None, typer.Option(help="The architecture [default: mlp; lstm for sunspots].")
    ] = None,
) -> None:
    """Write a commented spec for your data that validates and trains as written; an
    existing file is never overwritten."""
    if spec_path.exists():
        raise UserError(f"{spec_path}: exists; init never overwrites a file (choose another path)")
    if data is not None and source is not None:
        raise UserError("give --data FILE.csv or --source NAME, not both")
    asking = data is None and source is None
    if asking:
        data, source = _ask_data()
    if data is not None and target is None:
        target = _ask_target(data)
    chosen = _template(template, source, asking)
    kind = task.value if task else None
    if data is not None:
        facts = starter.csv_data(data, spec_path.parent, target, kind, chosen)
    else:
        facts = starter.source_data(source, kind, chosen)
    starter.write(spec_path, starter.render(spec_path, facts, chosen))
    for note in facts.notes:
        err.print(f"note: {note}", markup=False)
    err.print(
        f"{facts.about}; template {chosen}, {facts.task}. Check it: nnctl validate --build "
        f"{spec_path}; train it: nnctl train {spec_path}",
        markup=False,
    )
    out.print(str(spec_path), markup=False)


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _ask_data() -> tuple[Path | None, str | None]:
    """(a CSV file, or None) and (a source name, or None), asked on a terminal."""
    if not _interactive():
        raise UserError(
            "init needs the data: --data FILE.csv --target COLUMN, or --source NAME "
            f"({', '.join(starter.SOURCES)})"
        )
    answer = Prompt.ask(
        f"Data: a CSV file, or one of {', '.join(starter.SOURCES)}", default="digits", console=err
    )
    return (None, answer) if answer in starter.SOURCES else (Path(answer), None)


def _ask_target(data: Path) -> str:
    table = starter.read_csv(data)
    columns = table.names or [str(i) for i in range(len(table.rows[0]))]
    if not _interactive():
        raise UserError(
            f"--data {data} needs --target COLUMN, the column to predict (columns: "
            f"{', '.join(columns)})"
        )
    return Prompt.ask("Target column", choices=columns, default=columns[-1], console=err)


def _template(template: Template | None, source: str | None, asking: bool) -> str:
    default = "lstm" if source == "sunspots" else "mlp"
    if template is not None:
        return template.value
    if asking:
        return Prompt.ask("Template", choices=list(starter.TEMPLATES), default=default, console=err)
    return default


def register(app: typer.Typer) -> None:
    app.command()(boundary(init))
