"""``source: tfrecord``: ``tf.train.Example`` records of TFRecord files, read by position as
batches need them (``FileRows``), never held whole.

A TFRecord file is a run of records, each framed as a uint64 length, a uint32 masked CRC-32C of
the length, the data, and a uint32 masked CRC-32C of the data; files taken end to end are one
such run (shards). One pass (``scan``) reads every record through TensorFlow's reader, which
checks both CRCs; it notes where each record starts (8 bytes a record), hashes the records for
the data fingerprint, parses them to check the feature and target the spec names (present,
the right kind and number of values, finite) and keeps the targets. Training then reads each
batch's records with ``os.pread`` and parses them with ``tf.io.parse_example``; random access
keeps the epoch order, and a resumed run, exact.
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
import re
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data.splits import Raw
from nnctl.data.stream import FileRows
from nnctl.errors import DataError

HEADER, FOOTER = 12, 4  # a record's bytes before its data (length, CRC) and after it (CRC)
BATCH = 4096  # records parsed at a time by the scan
READ_BUFFER = 1 << 24  # bytes TensorFlow's reader reads at a time
GZIP_MAGIC = b"\x1f\x8b"
LISTS = {"float32": "float_list", "int64": "int64_list"}  # what each dtype parses


@dataclass(frozen=True, eq=False)
class Records:
    """The records of TFRecord files taken end to end: record ``i`` is the bytes from
    ``starts[i] + HEADER`` to ``starts[i + 1] - FOOTER`` of the joined files."""

    paths: tuple[Path, ...]
    bounds: np.ndarray  # where each file starts in the joined files, and where the last ends
    starts: np.ndarray  # where each record starts, and where the last one ends (int64)
    digest: str  # sha256 of every record's length and bytes

    def __len__(self) -> int:
        return len(self.starts) - 1

    def read(self, rows: np.ndarray) -> list[bytes]:
        """The data of records ``rows``, in that order: one positioned read each."""
        begins, ends = self.starts[rows] + HEADER, self.starts[rows + 1] - FOOTER
        files = np.searchsorted(self.bounds, begins, side="right") - 1
        descriptors: dict[int, int] = {}
        try:
            out = []
            for begin, end, file in zip(
                begins.tolist(), ends.tolist(), files.tolist(), strict=True
            ):
                if file not in descriptors:
                    descriptors[file] = os.open(self.paths[file], os.O_RDONLY)
                out.append(os.pread(descriptors[file], end - begin, begin - self.bounds[file]))
            return out
        finally:
            for descriptor in descriptors.values():
                os.close(descriptor)


@dataclass(frozen=True, eq=False)
class ExampleFeature:
    """A ``Store``: one fixed-length feature of each record, parsed as batches ask."""

    records: Records
    name: str
    sample: tuple[int, ...]  # the feature's shape in one record
    kind: str  # float32 or int64

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.records), *self.sample)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.kind)

    @property
    def digest(self) -> str:
        return f"{self.records.digest}:{self.name}{list(self.sample)}{self.kind}"

    def read(self, rows: np.ndarray) -> np.ndarray:
        tf = _tensorflow()
        serialized = tf.constant(self.records.read(np.asarray(rows, np.int64)), tf.string)
        feature = tf.io.FixedLenFeature(self.sample, tf.as_dtype(self.kind))
        return tf.io.parse_example(serialized, {self.name: feature})[self.name].numpy()


def load_tfrecord(spec, base_dir: Path, key: str) -> Raw:
    """The records ``path`` names (and ``test_path``'s, if given): the feature streamed, the
    targets loaded."""
    x, y = _split(spec, spec.path, base_dir, key, "path")
    test = None
    if spec.test_path is not None:
        test = _split(spec, spec.test_path, base_dir, key, "test_path")
    return Raw(x, y, test=test)


def _split(spec, value: str, base_dir: Path, key: str, part: str) -> tuple[FileRows, np.ndarray]:
    (name, feature), target = next(iter(spec.features.items())), spec.target
    wanted = {  # spec key -> (feature name, shape, dtype); the target last
        _feature_key(key, name): (name, tuple(feature.shape), feature.dtype),
        f"{key}.target": (target.name, tuple(target.shape), target.dtype),
    }
    where = f"{key}.{part}"
    records, y = scan(shards(value, base_dir, where), wanted, where)
    store = ExampleFeature(records, name, tuple(feature.shape), feature.dtype)
    return FileRows(store), y


def _feature_key(key: str, name: str) -> str:
    """The spec key of a feature (its section, when a dot in the name would split the key)."""
    return f"{key}.features" if "." in name else f"{key}.features.{name}"


def shards(value: str, base_dir: Path, key: str) -> list[Path]:
    """The files ``value`` names: one file, or a glob's matches in name order."""
    from nnctl.data.files import resolve

    if not glob.has_magic(value):
        path = resolve(value, base_dir, key)
        if not path.is_file():
            raise DataError(key, f"{path} is not a file; name a TFRecord file or a glob of them")
        return [path]
    pattern = Path(value).expanduser()
    pattern = pattern if pattern.is_absolute() else base_dir / pattern
    found = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
    if not found:
        raise DataError(key, f"no file matches {pattern}; fix the pattern in the spec")
    return found


def scan(paths: list[Path], wanted: dict, key: str) -> tuple[Records, np.ndarray]:
    """Every record of ``paths``, read once: their places, their digest, each ``wanted``
    feature checked, and the values of the last one (the targets)."""
    tf = _tensorflow()
    description = {
        name: tf.io.FixedLenFeature(shape, tf.as_dtype(kind))
        for name, shape, kind in wanted.values()
    }
    digest = hashlib.sha256(repr(list(wanted.values())).encode())
    starts, bounds, targets = array("q", [0]), [0], []
    target = list(wanted.values())[-1][0]
    for path in paths:
        _refuse_compressed(path, key)
        first = len(starts) - 1
        for batch in _batches(path, starts, first, key):
            records = batch.numpy().tolist()
            lengths = np.fromiter(map(len, records), np.int64, len(records))
            digest.update(lengths.tobytes())
            for record in records:
                digest.update(record)
            at = Place(path, len(starts) - 1 - first, key)  # the batch's first record
            starts.extend((starts[-1] + np.cumsum(lengths + HEADER + FOOTER)).tolist())
            targets.append(_parsed(batch, records, description, wanted, at)[target])
        if len(starts) - 1 == first:
            raise DataError(key, f"{path} holds no records")
        bounds.append(starts[-1])
    records = Records(tuple(paths), np.array(bounds), np.array(starts), digest.hexdigest())
    return records, np.concatenate(targets)


@dataclass(frozen=True)
class Place:
    """Record ``index`` of ``path`` (0-based), a file the spec key ``key`` names."""

    path: Path
    index: int
    key: str

    def __add__(self, offset: int) -> Place:
        return Place(self.path, self.index + offset, self.key)

    def __str__(self) -> str:
        return f"{self.path}: record {self.index}"


def _batches(path: Path, starts: array, first: int, key: str):
    """Batches of ``path``'s records (a tf.string tensor each); a damaged or cut record is a
    DataError naming it (``starts[first:]``: where this file's records read so far start)."""
    tf = _tensorflow()
    records = iter(tf.data.TFRecordDataset(str(path), buffer_size=READ_BUFFER).batch(BATCH))
    while True:
        try:
            yield next(records)
        except StopIteration:
            return
        except tf.errors.DataLossError as exc:
            known = np.frombuffer(starts, np.int64)[first:] - starts[first]
            raise _damaged(path, exc.message, int(known[-1]), len(known) - 1, key) from None


def _damaged(path: Path, message: str, position: int, index: int, key: str) -> DataError:
    """Which record TensorFlow's reader refused (it names a byte in it), found by walking the
    records' lengths from the last one read whole (record ``index``, at byte ``position``)."""
    found = re.search(r"record at (\d+)", message)
    byte = int(found.group(1)) if found else None
    size = path.stat().st_size
    with open(path, "rb") as file:
        while byte is not None and position + HEADER <= size:
            file.seek(position)
            end = position + HEADER + FOOTER + int.from_bytes(file.read(8), "little")
            if byte < end:
                break
            position, index = end, index + 1
    where = f"{path}: record {index} (byte {position})"
    if "truncated" in message or position + HEADER > size:
        return DataError(
            key, f"{where} is cut short: the file ends inside it (an unfinished copy?)"
        )
    return DataError(
        key,
        f"{where} is damaged: its checksum does not match its bytes (a corrupt file, or a "
        "compressed one: nnctl reads uncompressed TFRecord files)",
    )


def _refuse_compressed(path: Path, key: str) -> None:
    with open(path, "rb") as file:
        if file.read(2) == GZIP_MAGIC:
            raise DataError(
                key,
                f"{path} is gzip-compressed; records are read by position, so write them "
                "uncompressed (tf.io.TFRecordWriter without compression) or gunzip the file",
            )


def _parsed(batch, records, description, wanted, at: Place) -> dict[str, np.ndarray]:
    """The batch's ``wanted`` features as arrays; a record that lacks one, holds the wrong kind
    or number of values, or NaN, is a DataError naming it (the batch starts ``at``)."""
    tf = _tensorflow()
    try:
        parsed = {k: v.numpy() for k, v in tf.io.parse_example(batch, description).items()}
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):  # the latter: its message
        for i, record in enumerate(records):  # holds the record's bytes, and they are no text
            if problem := _problem(record, wanted, at.key):
                raise DataError(problem[0], f"{at + i}: {problem[1]}") from None
        raise  # parse_example refused what each record's own check passed: a bug
    for spec_key, (name, _, _) in wanted.items():
        values = parsed[name].reshape(len(records), -1)
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            i = int(np.argmin(np.isfinite(values).all(axis=1)))
            message = f"feature {name!r} holds NaN or infinite values; clean the data first"
            raise DataError(spec_key, f"{at + i}: {message}")
    return parsed


def _problem(record: bytes, wanted: dict, file_key: str) -> tuple[str, str] | None:
    """(spec key, what is wrong) with one record, or None."""
    from google.protobuf.message import DecodeError

    tf = _tensorflow()
    example = tf.train.Example()
    try:
        example.ParseFromString(record)
    except DecodeError:
        return file_key, "not a tf.train.Example"
    features = example.features.feature
    for spec_key, (name, shape, kind) in wanted.items():
        if name not in features:
            held = ", ".join(sorted(features)) or "none"
            return spec_key, f"no feature {name!r} (its features: {held})"
        held = features[name].WhichOneof("kind")  # bytes_list, float_list, int64_list or None
        if held != LISTS[kind]:
            other = {v: k for k, v in LISTS.items()}.get(held)
            fix = f" (set its dtype: {other})" if other else ""
            message = f"feature {name!r} holds {_a(held)}; dtype {kind} reads {_a(LISTS[kind])}"
            return spec_key, message + fix
        count, needed = len(getattr(features[name], LISTS[kind]).value), math.prod(shape)
        if count != needed:
            return (
                spec_key,
                f"feature {name!r} has {count} values; shape {list(shape)} needs {needed}",
            )
    return None


def _a(kind: str | None) -> str:
    return {None: "no list", "int64_list": "an int64_list"}.get(kind, f"a {kind}")


def _tensorflow():
    from nnctl.keras_env import import_keras

    import_keras()
    import tensorflow as tf

    return tf
