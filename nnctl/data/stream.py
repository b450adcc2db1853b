"""Features read from their files as batches need them, never held whole: data larger than memory.

``FileRows`` stands for the rows of a ``Store``: a ``.npy`` file (``data.stream: true``), a folder
of images (``source: image_folder``, ``nnctl.data.images``), TFRecord files (``source: tfrecord``,
``nnctl.data.tfrecord``) or a CSV file (``data.stream: true``, ``nnctl.data.csv_stream``), the
last two through an index of where each row starts. Splitting, capping and
selecting rows give views (the file and a row index), so the data layer's code works on it as on
an array; reading happens in ``read``, a batch at a time, with positioned reads (``os.pread``)
that go through the page cache, not into the process's memory (a memory map's pages would count
in it).
``np.asarray`` reads a view whole: right for a batch, and the way to a small file's array.

The one full pass over a ``.npy`` file (``NpyFile.scan``) hashes it for the run's data fingerprint
and checks every value is finite, a chunk at a time; training then reads each row once an epoch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from nnctl.errors import DataError

CHUNK = 1 << 24  # bytes read at a time by ``scan``
HEADERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class Store(Protocol):
    """Where streamed rows come from: a file of rows, a folder of images, files of records."""

    shape: tuple[int, ...]  # of all its rows
    dtype: np.dtype  # of what ``read`` returns
    digest: str  # sha256 of its layout and contents, for the data fingerprint

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (store positions, in that order)."""


@dataclass(frozen=True)
class NpyFile:
    """A ``.npy`` file's layout, from its header; rows read with ``os.pread``."""

    path: Path
    offset: int  # where the first row starts
    dtype: np.dtype
    shape: tuple[int, ...]
    digest: str = ""  # sha256 of layout and bytes (``scan``)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    @classmethod
    def open(cls, path: Path, key: str) -> NpyFile:
        """The file's layout, checked, and its digest (one pass over the file)."""
        try:
            with open(path, "rb") as file:
                version = np.lib.format.read_magic(file)
                read_header = HEADERS.get(version)
                if read_header is None:
                    raise ValueError(f".npy format version {version} is not supported")
                shape, fortran, dtype = read_header(file)
                offset = file.tell()
        except (OSError, ValueError) as e:
            raise DataError(key, f"cannot read {path} as a .npy file ({e})") from None
        if fortran or dtype.hasobject or dtype.kind not in "biuf" or len(shape) < 2:
            raise DataError(
                key,
                f"{path}: data.stream reads C-ordered arrays of numbers, one row per "
                f"sample (shape (samples, features...)); this one is "
                f"{'Fortran-ordered ' if fortran else ''}{dtype} of shape {shape} (save it with "
                "numpy.save(path, np.ascontiguousarray(x)))",
            )
        expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if path.stat().st_size < expected:
            raise DataError(key, f"{path} is truncated: its header promises {shape} {dtype}")
        layout = cls(path, offset, dtype, tuple(shape))
        return replace(layout, digest=layout.scan(key))

    def read(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows``, in that order: one positioned read per run of consecutive rows."""
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        size = self.row_bytes
        with open(self.path, "rb", buffering=0) as file:
            for places, first, n in runs(rows):
                data = os.pread(file.fileno(), n * size, self.offset + first * size)
                out[places] = np.frombuffer(data, self.dtype).reshape(n, *self.shape[1:])
        return out

    def scan(self, key: str) -> str:
        """sha256 of the file's layout and bytes, read once in chunks; refuses NaN and infinity
        as the loaded sources do."""
        digest = hashlib.sha256(f"{self.dtype.str}{self.shape};".encode())
        size = self.row_bytes
        per_chunk = max(1, CHUNK // max(size, 1))
        with open(self.path, "rb", buffering=0) as file:
            for first in range(0, self.shape[0], per_chunk):
                n = min(per_chunk, self.shape[0] - first)
                data = os.pread(file.fileno(), n * size, self.offset + first * size)
                digest.update(data)
                values = np.frombuffer(data, self.dtype)
                if values.dtype.kind == "f" and not np.isfinite(values).all():
                    raise DataError(
                        key,
                        f"{self.path}: rows {first}-{first + n - 1} contain NaN or "
                        "infinite values; clean the data first",
                    )
        return digest.hexdigest()


def runs(rows: np.ndarray):
    """``rows`` in runs of consecutive rows, in the file's order, for one read a run:
    ``(where in rows the run's rows are, its first row, how many)``."""
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    start = 0
    while start < len(ordered):
        end = start + 1
        while end < len(ordered) and ordered[end] == ordered[end - 1] + 1:
            end += 1
        yield order[start:end], int(ordered[start]), end - start
        start = end


@dataclass(frozen=True)
class FileRows:
    """Rows ``index`` of a ``Store`` (all of them when ``index`` is None), as float32."""

    file: Store
    index: np.ndarray | None = None
    dtype: np.dtype = field(default=np.dtype("float32"))
    ndim: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "ndim", len(self.file.shape))

    def __len__(self) -> int:
        return self.file.shape[0] if self.index is None else len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.file.shape[1:])

    @property
    def rows(self) -> np.ndarray:
        """The store's rows this view stands for."""
        return np.arange(self.file.shape[0]) if self.index is None else self.index

    def __getitem__(self, key) -> FileRows:
        """A view of these rows (a slice or an index array): nothing is read."""
        if isinstance(key, int | np.integer):
            raise TypeError("FileRows selects rows with a slice or an index array")
        return FileRows(self.file, self.rows[key], self.dtype)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self.read(np.arange(len(self))).astype(dtype or self.dtype, copy=False)

    def read(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` of this view (in that order), read from the store."""
        rows = self.rows[np.asarray(index, dtype=np.int64)]
        return self.file.read(rows).astype(self.dtype, copy=False)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature mean and variance of these rows, a chunk at a time (float64 sums)."""
        total = np.zeros(self.file.shape[1:])
        squares = np.zeros(self.file.shape[1:])
        row_bytes = int(np.prod(self.file.shape[1:], dtype=np.int64)) * 4
        per_chunk = max(1, CHUNK // max(row_bytes, 1))
        for first in range(0, len(self), per_chunk):
            chunk = self.read(np.arange(first, min(first + per_chunk, len(self)))).astype("f8")
            total += chunk.sum(axis=0)
            squares += (chunk**2).sum(axis=0)
        n = max(len(self), 1)
        mean, variance = total / n, np.maximum(squares / n - (total / n) ** 2, 0)
        return mean.astype("float32"), variance.astype("float32")
