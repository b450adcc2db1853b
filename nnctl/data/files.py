"""The user's data files: CSV, .npz, .npy and IDX. Every problem is a UserError naming the file.

``key`` arguments are the spec key a message points at, e.g. ``data`` or ``train.validation``.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nnctl.data.splits import Pair, Raw, count
from nnctl.data.stream import FileRows, NpyFile
from nnctl.errors import DataError, UserError
from nnctl.spec.columns import column_problem

GZIP_MAGIC = b"\x1f\x8b"
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# The globals pickled arrays need (and bytes in a protocol-2 pickle); nothing else is unpickled.
ARRAY_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


def resolve(value: str, base_dir: Path, key: str) -> Path:
    """``value`` as a path (relative to ``base_dir``) that exists, else a UserError."""
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.exists():
        raise DataError(
            key,
            f"no such file or directory: {path}; fix the path in the spec "
            f"(relative paths start from {base_dir})",
        )
    return path


def read_bytes(path: Path, key: str) -> bytes:
    """The file's bytes, gunzipped if they start with gzip's magic number."""
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{key}: cannot read {path}: {e}") from None


def checked(x: np.ndarray, y: np.ndarray, what: str) -> Pair:
    """Numeric, finite, matching features and targets; x as float32 (a 1-D x is one feature),
    or, if it holds strings, as text (an object array of str); y of strings: class labels."""
    for name, array in (("features", x), ("targets", y)):
        if (array.dtype.kind not in "biufU") or array.ndim == 0:
            use = "text" if name == "features" else "class labels"
            raise UserError(
                f"{what}: {name} must be an array of numbers or of strings ({use}), "
                f"got {array.dtype}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise UserError(f"{what}: {name} contain NaN or infinite values; clean the data first")
    if len(x) != len(y):
        raise UserError(f"{what}: {len(x)} feature rows but {len(y)} targets; they must match")
    x = x.astype(object if x.dtype.kind == "U" else np.float32)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.dtype.kind == "U" and y.ndim != 1:
        raise UserError(
            f"{what}: targets of strings are class labels, one per sample; got shape {y.shape}"
        )
    return (x[:, None] if x.ndim == 1 else x), y


def file_raw(train: Pair, test: Pair | None, what: str) -> Raw:
    """A file source's arrays, checked; a test set must have the training set's shapes."""
    train = checked(*train, what)
    if test is not None:
        test = checked(*test, what)
        if test[0].shape[1:] != train[0].shape[1:] or test[1].shape[1:] != train[1].shape[1:]:
            raise UserError(f"{what}: the test arrays' sample shapes differ from the training ones")
    words = train[1].dtype.kind == "U" or (test is not None and test[1].dtype.kind == "U")
    return Raw(*train, test=test, word_labels="the targets are strings" if words else None)


# ---------------------------------------------------------------------------------------- csv
def load_csv(spec, base_dir: Path, key: str) -> Raw:
    """Numeric feature columns (or text ones) of a CSV file, and the target column: numbers, or
    words if any value is not a number (class labels, numbers among them read as words too).
    With ``stream``, the features are read as batches need them (``nnctl.data.csv_stream``)."""
    path = resolve(spec.path, base_dir, f"{key}.path")
    if len(spec.delimiter) != 1:
        raise DataError(f"{key}.delimiter", f"must be one character, got {spec.delimiter!r}")
    if spec.stream:
        from nnctl.data.csv_stream import load_streamed_csv

        return load_streamed_csv(spec, path, key)
    rows = csv_rows(path, spec.delimiter, key)
    width = len(rows[0][1]) if rows else 0  # every row, the header too, must have this many
    names = rows.pop(0)[1] if spec.header and rows else None
    if not rows:
        raise DataError(f"{key}.path", f"{path} has no data rows")
    target, features = csv_columns(spec, names, width, path, key)
    what = f"{key}.path: {path}"
    check_widths(rows, width, what)
    column = TargetColumn(target, names, path, what)
    column.add(rows)
    y, words = column.values()
    if getattr(spec, "text", False):
        return Raw(_text_columns(rows, features), y, word_labels=words)
    raw = file_raw((numbers(rows, features, names, what), y), None, what)
    raw.word_labels = words
    return raw


def csv_columns(spec, names: list[str] | None, width: int, path: Path, key: str):
    """(target, features): the 0-based columns the spec names (features: default all others)."""
    target = _column(spec.target, names, width, path, f"{key}.target")
    if spec.features is None:
        features = [c for c in range(width) if c != target]
    else:
        features = [_column(c, names, width, path, f"{key}.features") for c in spec.features]
    if not features or target in features:
        raise DataError(f"{key}.features", "give feature columns that do not include the target")
    return target, features


def _text_columns(rows, features: list[int]) -> np.ndarray:
    """``text: true``: the feature columns as strings."""
    from nnctl.data.text import texts

    return texts([[row[c] for c in features] for _, row in rows])


class TargetColumn:
    """The target column, taken a batch of rows at a time: float64 numbers; or, if any value is
    not a number, stripped words (class labels), with a note saying so (the first word and its
    line, when other values are numbers). An empty value is an error naming its line."""

    def __init__(self, target: int, names: list[str] | None, path: Path, what: str):
        self.target, self.path, self.what = target, path, what
        self.name = repr(names[target]) if names else str(target)
        self.parts: list[np.ndarray] = []
        self.word: tuple[str, int] | None = None  # the first value that is not a number
        self.numeric = False  # some value is a number

    def add(self, rows) -> None:
        """Rows ``(line, fields)``, in the file's order."""
        values = [row[self.target].strip() for _, row in rows]
        for (line, _), value in zip(rows, values, strict=True):
            if not value:
                raise located(
                    self.what,
                    f", line {line}, column {self.name}: the target is empty; every row needs a "
                    "number or a class label",
                )
            if _is_number(value):
                self.numeric = True
            elif self.word is None:
                self.word = (value, line)
        self.parts.append(np.array(values, dtype=str))

    def values(self) -> tuple[np.ndarray, str | None]:
        values = np.concatenate(self.parts)
        if self.word is None:
            return np.array([float(v) for v in values.tolist()]), None
        note = f"column {self.name} of {self.path.name} holds words"
        if self.numeric:
            note += f" ({self.word[0]!r}, line {self.word[1]}) among numbers"
        return values, note


def located(what: str, detail: str) -> DataError:
    """A problem in a file, shown at the spec key that names it: ``what`` is ``KEY: FILE``."""
    key, _, path = what.partition(": ")
    return DataError(key, path + detail)


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def check_widths(rows, width: int, what: str) -> None:
    for line, row in rows:
        if len(row) != width:
            raise located(what, f", line {line}: {len(row)} fields, expected {width}")


def csv_rows(path: Path, delimiter: str, key: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank record."""
    reader = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            return [(reader.line_num, row) for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        line = f", line {reader.line_num}" if reader else ""
        raise DataError(f"{key}.path", f"cannot read {path}{line} as UTF-8 CSV: {e}") from None


def _column(column: str | int, names: list[str] | None, width: int, path: Path, key: str) -> int:
    """A column's 0-based index, from its header name or its index."""
    problem = column_problem(column, names, width, path)
    if problem:
        raise DataError(key, problem)
    return names.index(column) if isinstance(column, str) else column


def numbers(rows, columns: list[int], names, what: str) -> np.ndarray:
    """The chosen columns as float64 (rows of ``check_widths``' width); a non-number names its
    line and column."""
    table = np.empty((len(rows), len(columns)))
    for i, (line, row) in enumerate(rows):
        for j, c in enumerate(columns):
            try:
                value = float(row[c])
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                name = repr(names[c]) if names else str(c)
                raise located(
                    what,
                    f", line {line}, column {name}: {row[c]!r} is not a number; nnctl reads "
                    "numeric columns only: encode it as a number or leave the column out of "
                    "data.features (text features: set text: true)",
                )
            table[i, j] = value
    return table


# ---------------------------------------------------------------------------------- npz / npy
def load_npz(spec, base_dir: Path, key: str) -> Raw:
    """Arrays ``x``, ``y`` and optionally ``x_test``, ``y_test`` from a .npz archive."""
    path = resolve(spec.path, base_dir, f"{key}.path")
    if (spec.x_test is None) != (spec.y_test is None):
        raise UserError(f"{key}: give both x_test and y_test, or neither")
    keys = {"x": spec.x, "y": spec.y, "x_test": spec.x_test, "y_test": spec.y_test}
    if any(isinstance(v, dict) for v in keys.values()):
        return _named_npz(path, keys, key)
    arrays = read_npz(path, {k: v for k, v in keys.items() if v is not None}, key)
    test = (arrays["x_test"], arrays["y_test"]) if spec.x_test else None
    return file_raw((arrays["x"], arrays["y"]), test, f"{key}.path: {path}")


def _named_npz(path: Path, keys: dict, key: str) -> Raw:
    """Several named inputs and/or targets: each ``x``/``y`` is a key or name -> key."""
    parts = {}
    for part, spec_keys in keys.items():
        if spec_keys is None:
            continue
        named = spec_keys if isinstance(spec_keys, dict) else {None: spec_keys}
        wanted = {f"{part}.{n}" if n else part: stored for n, stored in named.items()}
        arrays = read_npz(path, wanted, key)
        by_name = {n: arrays[f"{part}.{n}" if n else part] for n in named}
        for name, array in by_name.items():
            checked_array(array, f"{key}.{part}" + (f".{name}" if name else ""), path)
        parts[part] = by_name if isinstance(spec_keys, dict) else by_name[None]
    train, test = (parts["x"], parts["y"]), None
    if "x_test" in parts:
        test = (parts["x_test"], parts["y_test"])
    for pair in filter(None, (train, test)):
        counts = {count(a) for a in pair}
        if len(counts) > 1:
            raise UserError(f"{key}.path: {path}: the named arrays have different numbers of rows")
    return Raw(*train, test=test)


def checked_array(array: np.ndarray, where: str, path: Path) -> None:
    """One named array: numbers, finite, at least one dimension."""
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        raise UserError(f"{where}: {path}: must be an array of numbers, got {array.dtype}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise UserError(f"{where}: {path}: contains NaN or infinite values; clean the data first")


def read_npz(path: Path, keys: dict[str, str], key: str) -> dict[str, np.ndarray]:
    """The arrays stored under ``keys``' values, by ``keys``' names (spec keys), no pickles."""
    with _np_load(path, f"{key}.path") as archive:
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise UserError(f"{key}.path: {path} is a single .npy array, not a .npz archive")
        for name, stored in keys.items():
            if stored not in archive.files:
                raise UserError(
                    f"{key}.{name}: {path} has no array {stored!r}; it holds "
                    f"{', '.join(archive.files) or 'nothing'}"
                )
        try:
            return {name: archive[stored] for name, stored in keys.items()}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise UserError(f"{key}.path: cannot read {path}: {e}") from None


def load_npy(spec, base_dir: Path, key: str) -> Raw:
    """Features and targets from two .npy files; with ``stream``, the features as ``FileRows``
    (read a batch at a time), checked in one pass over the file."""
    path = resolve(spec.path, base_dir, f"{key}.path")
    y = read_npy(resolve(spec.target_path, base_dir, f"{key}.target_path"), f"{key}.target_path")
    what = f"{key}: {spec.path}, {spec.target_path}"
    if not spec.stream:
        return file_raw((read_npy(path, f"{key}.path"), y), None, what)
    x = FileRows(NpyFile.open(path, f"{key}.path"))
    _, y = checked(np.zeros((len(y), 1), "float32"), y, what)  # the targets' checks
    if len(x) != len(y):
        raise UserError(f"{what}: {len(x)} feature rows but {len(y)} targets; they must match")
    return Raw(x, y)


def read_npy(path: Path, key: str) -> np.ndarray:
    loaded = _np_load(path, key)
    if isinstance(loaded, np.lib.npyio.NpzFile):
        loaded.close()
        raise UserError(f"{key}: {path} is a .npz archive; use source: npz for it")
    return loaded


def _np_load(path: Path, key: str):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UserError(
            f"{key}: cannot read {path} as a NumPy file ({e}); save numeric arrays with "
            "numpy.save / numpy.savez"
        ) from None


# ---------------------------------------------------------------------------------------- idx
def load_idx(spec, base_dir: Path, key: str) -> Raw:
    """Images and labels from IDX files (the MNIST format), gzipped or not."""
    if (spec.test_images is None) != (spec.test_labels is None):
        raise UserError(f"{key}: give both test_images and test_labels, or neither")

    def read(name: str) -> np.ndarray:
        return read_idx(resolve(getattr(spec, name), base_dir, f"{key}.{name}"), f"{key}.{name}")

    test = (read("test_images"), read("test_labels")) if spec.test_images else None
    return file_raw((read("images"), read("labels")), test, f"{key}: {spec.images}")


def read_idx(path: Path, key: str) -> np.ndarray:
    """An IDX file's array: magic 0 0, a type code, the number of dimensions, then the sizes."""
    data = read_bytes(path, key)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise UserError(f"{key}: {path} is not an IDX file (bad magic number {data[:4].hex()})")
    start = 4 + 4 * data[3]
    if len(data) < start:
        raise UserError(f"{key}: {path} is not an IDX file (its header is cut short)")
    dims = struct.unpack(f">{data[3]}I", data[4:start])
    dtype = np.dtype(IDX_TYPES[data[2]])
    size = math.prod(dims) * dtype.itemsize
    if len(data) - start != size:
        raise UserError(
            f"{key}: {path} is damaged: its header promises shape {dims} ({size} bytes of data) "
            f"but it holds {len(data) - start} bytes"
        )
    return np.frombuffer(data, dtype, offset=start).reshape(dims).astype(dtype.newbyteorder("="))


# ------------------------------------------------------------------------------------- pickle
class _ArraysOnly(pickle.Unpickler):
    """Unpickles lists, dicts, strings, numbers and NumPy arrays; refuses any other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def unpickle(data: bytes, path: Path, key: str, encoding: str = "ASCII"):
    """A pickle of plain data and arrays (CIFAR batches, IMDB's ragged arrays)."""
    try:
        return _ArraysOnly(io.BytesIO(data), encoding=encoding).load()
    except Exception as e:  # a damaged pickle can raise nearly anything
        raise UserError(f"{key}: cannot read {path}: {type(e).__name__}: {e}") from None


def read_object_npz(path: Path, names: list[str], key: str) -> dict[str, np.ndarray]:
    """Arrays of a .npz that may hold object arrays (IMDB), unpickled with ``_ArraysOnly``."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in names:
                member = io.BytesIO(archive.read(f"{name}.npy"))
                version = np.lib.format.read_magic(member)
                header = np.lib.format.read_array_header_1_0
                if version != (1, 0):  # 3.0 differs from 2.0 only in the header's encoding
                    header = np.lib.format.read_array_header_2_0
                _, _, dtype = header(member)
                if dtype.hasobject:
                    arrays[name] = unpickle(member.read(), path, key)
                else:
                    member.seek(0)
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, zlib.error) as e:
        raise UserError(f"{key}: cannot read {path} as .npz of {', '.join(names)}: {e}") from None
    return arrays
