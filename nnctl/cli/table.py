"""Tables of results on stdout: rich's on a terminal, plain aligned columns otherwise (for
scripts: no box characters, no wrapping, one line per row)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from nnctl.cli.common import out


def show(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "") -> None:
    """Print ``rows`` under ``headers``; columns after the first are right-aligned."""
    if out.is_terminal:
        table = Table(title=title or None)
        for i, header in enumerate(headers):
            table.add_column(header, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    if title:
        print(title)
    for row in (headers, *rows):
        cells = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def number(value: float | None) -> str:
    """A metric as the tables show it: 4 decimals, or ``-`` where a run has none."""
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) >= 1e4 or 0 < abs(value) < 1e-3 else f"{value:.4f}"
