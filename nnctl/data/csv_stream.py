"""``source: csv`` with ``stream: true``: the feature columns read from the file as batches need
them (``FileRows``), never held whole.

One pass over the file (``scan``) reads it as the loaded CSV source does (the same columns,
checks and messages, a chunk of rows at a time), hashes it for the data fingerprint, keeps the
targets and notes where each row starts: 8 bytes a row, which is all that grows with the file.
Training then reads each batch's rows with ``os.pread`` and parses just them; random access
keeps the epoch order, and a resumed run, exact. Rows end at ``\\n`` (``\\r\\n`` too), not at a
lone ``\\r``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data.files import TargetColumn, check_widths, checked, csv_columns, numbers
from nnctl.data.splits import Raw
from nnctl.data.stream import FileRows, runs
from nnctl.errors import DataError

CELLS = 1 << 18  # feature values checked at a time by the scan


@dataclass(frozen=True, eq=False)
class CsvFile:
    """A ``Store``: the feature columns of a CSV file's rows, parsed as batches ask; row ``i`` is
    the bytes from ``starts[i]`` to ``starts[i + 1]`` (blank lines after it included)."""

    path: Path
    delimiter: str
    columns: tuple[int, ...]  # the feature columns, 0-based
    starts: np.ndarray  # where each row starts, and where the last one ends (int64)
    digest: str  # sha256 of the columns taken and the file's bytes

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.starts) - 1, len(self.columns))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype("float64")

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows``, in that order: one positioned read per run of consecutive rows."""
        out = np.empty((len(rows), len(self.columns)))
        with open(self.path, "rb", buffering=0) as file:
            for places, first, n in runs(np.asarray(rows, np.int64)):
                begin, end = int(self.starts[first]), int(self.starts[first + n])
                text = os.pread(file.fileno(), end - begin, begin).decode("utf-8-sig")
                records = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
                cells = [[row[c] for c in self.columns] for row in records if row]
                out[places] = np.array(cells, dtype=object).astype(np.float64)  # float(cell)
        return out


def load_streamed_csv(spec, path: Path, key: str) -> Raw:
    """The file's feature columns as ``FileRows`` and its targets, checked in one pass."""
    what = f"{key}.path: {path}"
    store, (y, words) = scan(spec, path, key, what)
    x = FileRows(store)
    _, y = checked(np.zeros((len(y), 1), "float32"), y, what)  # the targets' checks
    return Raw(x, y, word_labels=words)


def scan(spec, path: Path, key: str, what: str) -> tuple[CsvFile, tuple]:
    """The file read once, as ``files.load_csv`` reads it: its rows' places and digest, the
    targets (and the note on words), every feature value checked to be a finite number."""
    with open(path, "rb") as file:
        lines = Lines(file, path, key)
        records = _records(csv.reader(lines, delimiter=spec.delimiter), lines, path, key)
        first = next(records, None)
        header = first if spec.header else None
        row = first if header is None else next(records, None)  # the first data row
        if row is None:
            raise DataError(f"{key}.path", f"{path} has no data rows")
        chunk = [row]
        width = len(first[2])  # every row, the header too, must have this many
        names = header[2] if header else None
        target, features = csv_columns(spec, names, width, path, key)
        lines.digest.update(f"{spec.delimiter}{features};".encode())
        column, starts = TargetColumn(target, names, path, what), array("q")
        for record in records:
            chunk.append(record)
            if len(chunk) * len(features) >= CELLS:
                _check(chunk, width, features, names, column, starts, what)
                chunk = []
        _check(chunk, width, features, names, column, starts, what)
        starts.append(lines.position)
    store = CsvFile(path, spec.delimiter, tuple(features), np.array(starts), lines.hexdigest())
    return store, column.values()


def _check(chunk, width, features, names, column: TargetColumn, starts: array, what) -> None:
    """A chunk of ``(line, start, fields)`` rows checked as the loaded source checks them; their
    targets kept and their starts noted."""
    if not chunk:
        return
    rows = [(line, fields) for line, _, fields in chunk]
    check_widths(rows, width, what)
    try:  # an array of str objects: NumPy converts each with float(), as numbers() does
        table = np.array([[f[c] for c in features] for _, f in rows], object).astype(np.float64)
        if not np.isfinite(table).all():
            raise ValueError
    except ValueError:
        numbers(rows, features, names, what)  # says which value is not a number
        raise
    column.add(rows)
    starts.extend(start for _, start, _ in chunk)


def _records(reader, lines: Lines, path: Path, key: str):
    """``(line, start, fields)`` of each non-blank record: its line number, the byte it starts
    at, its fields."""
    while True:
        start = lines.position
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            message = f"cannot read {path}, line {reader.line_num} as UTF-8 CSV: {e}"
            raise DataError(f"{key}.path", message) from None
        if fields:
            yield reader.line_num, start, fields


class Lines:
    """A binary file's lines, decoded as UTF-8 (a byte-order mark dropped), for ``csv.reader``:
    ``position`` is the byte after the last line given, and every byte given is hashed."""

    def __init__(self, file, path: Path, key: str):
        self.file, self.path, self.key = file, path, key
        self.position, self.number = 0, 0
        self.digest = hashlib.sha256()

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = self.file.readline()
        if not line:
            raise StopIteration
        self.digest.update(line)
        self.position += len(line)
        self.number += 1
        try:
            return line.decode("utf-8-sig" if self.number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            message = f"cannot read {self.path}, line {self.number} as UTF-8 CSV: {e}"
            raise DataError(f"{self.key}.path", message) from None

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
