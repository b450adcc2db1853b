"""A CSV file's header, read without loading the data, so plain ``validate`` can check the
columns a spec names (and the loader words a missing column the same way)."""

from __future__ import annotations

import csv
from pathlib import Path

from nnctl.spec.catalog import suggest


def header(path: Path, delimiter: str) -> list[str] | None:
    """The first row of a CSV file, or None when it cannot be read (the loader says why)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            return next(csv.reader(file, delimiter=delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error, TypeError):
        return None


def column_problem(column: str | int, names: list[str] | None, width: int, path: Path) -> str:
    """What is wrong with a column a spec names (by header name or 0-based index), or ``""``."""
    if isinstance(column, str):
        if names is None:
            return (
                f"{column!r} is a column name but data.header is false; "
                f"use a 0-based column index for {path}"
            )
        if column not in names:
            listed = f"{path} has no column {column!r} (columns: {', '.join(names)})"
            return listed + suggest(column, names)
        return ""
    if not 0 <= column < width:
        return f"column {column} is out of range: {path} has {width}, numbered from 0"
    return ""
