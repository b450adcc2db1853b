"""data.stream: features read from their .npy file a batch at a time train exactly as loaded ones,
in memory that does not grow with the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import STREAMED, assert_memory_flat

from nnctl.data.splits import fingerprint
from nnctl.data.stream import FileRows, NpyFile
from nnctl.errors import UserError

SPEC = STREAMED.replace("DATA", "{source: npy, path: x.npy, target_path: y.npy, stream: true}")


def _digits(directory):
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.save(directory / "x.npy", (digits.data / 16).astype("float32"))
    np.save(directory / "y.npy", digits.target)


def test_rows_read_in_any_order_are_the_files_rows(tmp_path):
    array = np.arange(60, dtype="float32").reshape(20, 3)
    np.save(tmp_path / "x.npy", array)
    rows = FileRows(NpyFile.open(tmp_path / "x.npy", "data.path"))
    index = np.array([7, 3, 4, 5, 19, 0, 3])
    assert np.array_equal(rows.read(index), array[index])
    view = rows[np.array([10, 2, 6])][1:]  # views of views read nothing until asked
    assert view.shape == (2, 3)
    assert np.array_equal(np.asarray(view), array[[2, 6]])
    mean, variance = rows.moments()
    assert np.allclose(mean, array.mean(axis=0))
    assert np.allclose(variance, array.var(axis=0))


def test_the_fingerprint_changes_with_the_file_and_the_rows_taken(tmp_path):
    array = np.ones((10, 2), dtype="float32")
    np.save(tmp_path / "x.npy", array)
    rows = FileRows(NpyFile.open(tmp_path / "x.npy", "data.path"))
    y = np.zeros(10)

    def of(x):
        return fingerprint({"train": (x, y)})

    assert of(rows) == of(FileRows(NpyFile.open(tmp_path / "x.npy", "data.path")))
    assert of(rows[:5]) != of(rows)
    array[9, 1] = 2
    np.save(tmp_path / "x.npy", array)
    assert of(FileRows(NpyFile.open(tmp_path / "x.npy", "data.path"))) != of(rows)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([[1.0, np.nan]] * 3, dtype="float32"), "rows 0-2 contain NaN or infinite"),
        (np.asfortranarray(np.ones((4, 3), dtype="float32")), "this one is Fortran-ordered"),
        (np.ones(5, dtype="float32"), "one row per sample"),
    ],
)
def test_a_file_that_cannot_be_streamed_is_refused_at_its_key(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(UserError, match=message) as error:
        NpyFile.open(tmp_path / "x.npy", "data.path")
    assert str(error.value).startswith("data.path: ")


@pytest.mark.slow
def test_streamed_features_train_bitwise_as_loaded_ones(tmp_path, write_spec, cli):
    _digits(tmp_path)
    runs = {}
    for stream in ("true", "false"):
        spec = write_spec(SPEC.replace("stream: true", f"stream: {stream}"), f"{stream}.yaml")
        runs[stream] = tmp_path / stream
        code, _, err = cli("train", spec, "--out", runs[stream], "-q")
        assert code == 0, err
    history = {k: (run / "history.csv").read_text() for k, run in runs.items()}
    assert history["true"] == history["false"]
    metrics = {k: json.loads((run / "metrics.json").read_text()) for k, run in runs.items()}
    assert metrics["true"] == metrics["false"]
    assert metrics["true"]["test"]["accuracy"] > 0.8
    code, out, err = cli("evaluate", runs["true"], "--split", "test")
    assert code == 0, err
    assert "accuracy" in out


def _learnable_file(directory, rows: int, features: int) -> int:
    """Rows of random features whose class is the sign of their sum, written a chunk at a time;
    the file's size."""
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(directory / "x.npy", "w+", "float32", (rows, features))
    y = np.empty(rows, dtype="int64")
    for first in range(0, rows, 8192):
        chunk = rng.standard_normal((min(8192, rows - first), features), dtype="float32")
        x[first : first + len(chunk)] = chunk
        y[first : first + len(chunk)] = chunk.sum(axis=1) > 0
    x.flush()
    del x
    np.save(directory / "y.npy", y)
    return (directory / "x.npy").stat().st_size


@pytest.mark.slow
def test_memory_stays_flat_when_the_file_is_larger_than_it(tmp_path):
    """A 400 MB file against an 80 MB one, same batches: training's peak resident memory grows by
    less than half the difference (loading the file would take it and a copy as a tensor, twice
    the difference; streamed, memory depends on the batch and steps per call, not on the file:
    measured 13-51 MB of the 320 MB difference)."""
    assert_memory_flat(tmp_path, SPEC, _learnable_file)
