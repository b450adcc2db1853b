"""nnctl.data: sources, file formats, seeded splits, one-hot, caps and errors (no downloads)."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from pydantic import TypeAdapter

from nnctl.data import Dataset, load_dataset
from nnctl.data.series import sunspot_numbers
from nnctl.data.sources import FASHION_DIR, FASHION_FILES
from nnctl.errors import UserError
from nnctl.spec.schema import DataSpec
from nnctl.spec.validate import load_spec

SPEC = TypeAdapter(DataSpec)


def load(data: dict, validation: float | dict = 0.0, seed: int = 0, base: Path = Path(".")):
    if isinstance(validation, dict):
        validation = SPEC.validate_python(validation)
    return load_dataset(SPEC.validate_python(data), validation, seed, base)


def splits(ds: Dataset):
    return [s for s in (ds.train, ds.validation, ds.test) if s is not None]


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    codes = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}
    code = codes[array.dtype.str.lstrip("|")]
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += array.tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize(
    ("source", "features", "classes"),
    [("digits", 64, 10), ("iris", 4, 3), ("breast_cancer", 30, 2)],
)
def test_bundled_sources(source, features, classes):
    ds = load({"source": source}, validation=0.1)
    assert ds.task == "classification"
    assert ds.num_classes == classes == len(ds.class_names)
    for part in splits(ds):
        assert part.x.dtype == np.float32
        assert part.x.shape[1:] == (features,)
        assert part.y.dtype == np.int64
        assert part.y.shape == (len(part.x),)
    if source == "digits":
        assert ds.train.x.min() == 0
        assert ds.train.x.max() == 16


@pytest.mark.parametrize(
    ("data", "task", "y_dtype"),
    [
        ({"source": "make_regression", "n_samples": 50, "n_features": 3}, "regression", np.float32),
        ({"source": "make_classification", "n_samples": 50}, "classification", np.int64),
        ({"source": "make_moons", "n_samples": 50, "noise": 0.1}, "classification", np.int64),
    ],
)
def test_generated_sources(data, task, y_dtype):
    ds = load(data)
    assert ds.task == task
    assert ds.train.y.dtype == y_dtype
    assert ds.train.y.ndim == 1
    assert len(ds.train.x) + len(ds.test.x) == 50
    assert ds.train.x.dtype == np.float32
    assert (ds.num_classes is None) == (task == "regression")


def test_same_seed_gives_identical_arrays():
    data = {"source": "make_moons", "n_samples": 60, "noise": 0.2}
    a, b = load(data, 0.2, seed=7), load(data, 0.2, seed=7)
    assert a.fingerprint == b.fingerprint
    for left, right in zip(splits(a), splits(b), strict=True):
        np.testing.assert_array_equal(left.x, right.x)
        np.testing.assert_array_equal(left.y, right.y)


def test_other_seed_gives_other_split():
    a, b = load({"source": "iris"}, 0.2, seed=1), load({"source": "iris"}, 0.2, seed=2)
    assert a.fingerprint != b.fingerprint
    assert not np.array_equal(a.train.x, b.train.x)


def test_stratified_splits_keep_every_class():
    ds = load({"source": "iris", "test_split": 0.1}, validation=0.1)
    for part in splits(ds):
        assert set(part.y.tolist()) == {0, 1, 2}


def test_test_split_zero_gives_empty_test():
    ds = load({"source": "digits", "test_split": 0.0})
    assert ds.test.x.shape == (0, 64)
    assert len(ds.train.x) == 1797


def test_one_hot():
    ds = load({"source": "iris", "preprocess": {"one_hot": True}}, validation=0.1)
    for part in splits(ds):
        assert part.y.shape == (len(part.x), 3)
        assert part.y.dtype == np.float32
        np.testing.assert_array_equal(part.y.sum(axis=1), 1)


def test_one_hot_for_regression_is_an_error():
    with pytest.raises(UserError, match="one_hot"):
        load({"source": "make_regression", "preprocess": {"one_hot": True}})


def test_max_samples_caps_each_split(tmp_path):
    np.savez(tmp_path / "v.npz", x=np.zeros((50, 64)), y=np.arange(50) % 10)
    validation = {"source": "npz", "path": str(tmp_path / "v.npz")}
    ds = load({"source": "digits", "max_samples": 30}, validation)
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (30, 30, 30)
    ds = load({"source": "digits", "max_samples": 100}, validation=0.2)
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (80, 20, 100)


# ---------------------------------------------------------------------------------------- csv
CSV = "a,b,label\n1,2.5,3\n4,5,7\n\n7,8,3\n1,1,7\n2,2,3\n3,3,7\n"


@pytest.mark.parametrize(
    ("header", "target", "features"),
    [(True, "label", ["a", "b"]), (True, "label", None), (False, 2, [0, 1])],
)
def test_csv(tmp_path, header, target, features):
    text = CSV if header else CSV.split("\n", 1)[1]
    (tmp_path / "t.csv").write_text(text)
    data = {"source": "csv", "path": "t.csv", "target": target, "header": header}
    ds = load(data | ({"features": features} if features else {}), base=tmp_path)
    assert ds.task == "classification"
    assert ds.class_names == ["3", "7"]
    x = np.concatenate([ds.train.x, ds.test.x])
    y = np.concatenate([ds.train.y, ds.test.y])
    assert x.shape == (6, 2)
    assert x.dtype == np.float32
    assert set(y.tolist()) == {0, 1}
    assert [1.0, 2.5] in x.tolist()


def test_csv_float_target_is_regression(tmp_path):
    (tmp_path / "r.csv").write_text("x;y\n1;0.5\n2;1.5\n3;2.25\n4;3.0\n5;4.5\n")
    ds = load({"source": "csv", "path": str(tmp_path / "r.csv"), "target": "y", "delimiter": ";"})
    assert ds.task == "regression"
    assert ds.train.y.dtype == np.float32


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("a,b\n1,2\n3,oops\n", "a", r"t\.csv, line 3, column 'b': 'oops' is not a number"),
        ("a,b\n1,2\n3\n", "b", r"t\.csv, line 3: 1 fields, expected 2"),
        ("a,b\n1,2,3\n", "b", r"t\.csv, line 2: 3 fields, expected 2"),
        ("a,b\n1,2\n", "c", r"t\.csv has no column 'c' \(columns: a, b\)"),
    ],
)
def test_csv_errors_name_file_line_and_column(tmp_path, text, target, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(UserError, match=message):
        load({"source": "csv", "path": str(tmp_path / "t.csv"), "target": target})


def test_csv_column_name_without_header_is_an_error(tmp_path):
    (tmp_path / "t.csv").write_text("1,2\n3,4\n")
    with pytest.raises(UserError, match="header is false"):
        load({"source": "csv", "path": str(tmp_path / "t.csv"), "target": "b", "header": False})


def test_fingerprint_follows_the_data(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    data = {"source": "csv", "path": str(path), "target": "label"}
    before = load(data).fingerprint
    assert load(data).fingerprint == before
    path.write_text(CSV.replace("2.5", "2.75"))
    assert load(data).fingerprint != before


# ---------------------------------------------------------------------------------- npz / npy
def test_npz_with_own_test_set(tmp_path):
    x, y = np.arange(40.0).reshape(20, 2), np.arange(20) % 2
    np.savez(tmp_path / "d.npz", x=x, y=y, xt=x[:5], yt=y[:5])
    ds = load({"source": "npz", "path": "d.npz", "x_test": "xt", "y_test": "yt"}, base=tmp_path)
    assert len(ds.train.x) == 20
    assert len(ds.test.x) == 5
    assert ds.num_classes == 2


def test_npz_missing_key_lists_the_keys(tmp_path):
    np.savez(tmp_path / "d.npz", features=np.zeros((4, 2)), y=np.zeros(4))
    with pytest.raises(UserError, match=r"d\.npz has no array 'x'; it holds features, y"):
        load({"source": "npz", "path": str(tmp_path / "d.npz")})


def test_npz_refuses_pickled_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.array([[1], [2]], dtype=object), y=np.zeros(2))
    with pytest.raises(UserError, match=r"d\.npz"):
        load({"source": "npz", "path": str(tmp_path / "d.npz")})


def test_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(30, 3)))
    np.save(tmp_path / "y.npy", np.linspace(0, 1, 30))
    ds = load({"source": "npy", "path": "x.npy", "target_path": "y.npy"}, base=tmp_path)
    assert ds.task == "regression"
    assert ds.train.x.shape == (24, 3)


# ---------------------------------------------------------------------------------------- idx
@pytest.mark.parametrize("compress", [False, True])
def test_idx(tmp_path, compress):
    images = np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4)
    labels = np.array([0, 1] * 5, dtype=np.uint8)
    data = {"source": "idx", "images": "i.idx", "labels": "l.idx"}
    write_idx(tmp_path / "i.idx", images, compress)
    write_idx(tmp_path / "l.idx", labels, compress)
    write_idx(tmp_path / "ti.idx", images[:4].astype(">f4"), compress)
    write_idx(tmp_path / "tl.idx", labels[:4].astype(">i4"), compress)
    ds = load(data | {"test_images": "ti.idx", "test_labels": "tl.idx"}, base=tmp_path)
    np.testing.assert_array_equal(ds.train.x, images.astype(np.float32))
    assert ds.train.x.dtype == np.float32
    assert ds.test.x.shape == (4, 4, 4)
    np.testing.assert_array_equal(ds.test.y, labels[:4])


@pytest.mark.parametrize(
    ("blob", "message"),
    [(b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "header promises"), (b"PK\x03\x04", "not an IDX")],
)
def test_idx_malformed(tmp_path, blob, message):
    (tmp_path / "i.idx").write_bytes(blob)
    write_idx(tmp_path / "l.idx", np.zeros(5, np.uint8))
    with pytest.raises(UserError, match=message):
        load({"source": "idx", "images": "i.idx", "labels": "l.idx"}, base=tmp_path)


# --------------------------------------------------------------------------------- validation
def test_validation_source_uses_training_classes(tmp_path):
    (tmp_path / "t.csv").write_text(CSV)
    (tmp_path / "v.csv").write_text("a,b,label\n1,1,7\n2,2,7\n")
    data = {"source": "csv", "path": "t.csv", "target": "label"}
    ds = load(data, {"source": "csv", "path": "v.csv", "target": "label"}, base=tmp_path)
    assert ds.validation.y.tolist() == [1, 1]
    (tmp_path / "v.csv").write_text("a,b,label\n1,1,5\n")
    with pytest.raises(UserError, match="labels 5"):
        load(data, {"source": "csv", "path": "v.csv", "target": "label"}, base=tmp_path)


# ----------------------------------------------------------------------------- keras datasets
@pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason=f"{FASHION_DIR} absent (dataset-fashion-mnist)"
)
def test_fashion_mnist_reads_debian_files():
    ds = load({"source": "fashion_mnist", "max_samples": 200})
    assert ds.train.x.shape == (200, 28, 28)
    assert ds.test.x.shape == (200, 28, 28)
    assert ds.train.x.dtype == np.float32
    assert ds.train.x.max() <= 255
    assert ds.num_classes == 10
    assert ds.class_names[9] == "Ankle boot"


def test_fashion_mnist_local_folder(tmp_path):
    shapes = [(6, 28, 28), (6,), (3, 28, 28), (3,)]
    for name, shape in zip(FASHION_FILES, shapes, strict=True):
        write_idx(tmp_path / name, np.full(shape, 9, np.uint8), compress=True)
    ds = load({"source": "fashion_mnist", "path": str(tmp_path)})
    assert ds.train.x.shape == (6, 28, 28)
    assert ds.test.y.tolist() == [9, 9, 9]


def test_mnist_local_npz(tmp_path):
    x = np.zeros((8, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=x, y_train=np.arange(8), x_test=x[:2], y_test=[1, 2])
    ds = load({"source": "mnist", "path": str(tmp_path)})
    assert ds.train.x.shape == (8, 28, 28)
    assert ds.test.y.dtype == np.int64


@pytest.mark.slow
def test_mnist_offline_is_a_user_error(monkeypatch):
    keras = pytest.importorskip("keras")

    def offline():
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(UserError, match=r"offline.*data\.path: path/to/mnist\.npz"):
        load({"source": "mnist"})


def test_cifar10_local_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        batch = {b"data": np.full((2, 3072), i, np.uint8), b"labels": [i, 9 - i]}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    ds = load({"source": "cifar10", "path": str(tmp_path)})
    assert ds.train.x.shape == (10, 32, 32, 3)
    assert ds.test.x.shape == (2, 32, 32, 3)
    assert ds.test.y.tolist() == [5, 4]
    assert ds.class_names[0] == "airplane"


def test_cifar10_refuses_other_pickled_objects(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit()}))
    with pytest.raises(UserError, match=r"refusing to unpickle builtins\.print"):
        load({"source": "cifar10", "path": str(tmp_path)})


def test_imdb_local_npz(tmp_path):
    seqs = np.array([[5, 6, 7], [8] * 10, [9]], dtype=object)
    np.savez(tmp_path / "imdb.npz", x_train=seqs, y_train=[0, 1, 0], x_test=seqs, y_test=[1, 0, 1])
    ds = load({"source": "imdb", "path": "imdb.npz", "num_words": 11, "maxlen": 4}, base=tmp_path)
    assert ds.train.x.dtype == np.int32
    assert ds.train.x.shape == (3, 4)
    rows = sorted(ds.test.x.tolist())
    assert rows == [[1, 2, 0, 0], [1, 2, 2, 2], [1, 8, 9, 10]]


@pytest.mark.parametrize(
    "data",
    [
        {"source": "csv", "path": "nope.csv", "target": "y"},
        {"source": "npz", "path": "nope.csv"},
        {"source": "npy", "path": "nope.csv", "target_path": "y.npy"},
        {"source": "idx", "images": "nope.csv", "labels": "l.idx"},
        {"source": "mnist", "path": "nope.csv"},
    ],
)
def test_missing_file_names_the_path(tmp_path, data):
    with pytest.raises(UserError, match=f"no such file or directory: {tmp_path / 'nope.csv'}"):
        load(data, base=tmp_path)


# SHA-256 of statsmodels 0.15.0's sunspots SUNACTIVITY (float64), from which nnctl/data/sunspots.csv
# was written, and of the arrays specs/lstm_sunspots.yaml loaded from it (train, validation, test
# x and y, float32): the shipped copy gives the same numbers, to the bit.
STATSMODELS_SUNSPOTS_SHA256 = "66c86ecdcd5950f61f6243f924fdfa10a44596e94816291062fdda266a31c86d"
LSTM_SUNSPOTS_SPLITS_SHA256 = "8c34f5bd37897a6a0b2203a0c337af2ec5c1ba6d82ce576c70f574259a381a9a"


def digest(*arrays: np.ndarray) -> str:
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(array.tobytes())
    return sha.hexdigest()


def test_shipped_sunspots_are_statsmodels_numbers():
    values = sunspot_numbers()
    assert values.dtype == np.float64
    assert values.shape == (309,)  # 1700-2008
    assert digest(values) == STATSMODELS_SUNSPOTS_SHA256


def test_lstm_sunspots_spec_loads_the_same_splits():
    spec, _ = load_spec(ROOT / "specs" / "lstm_sunspots.yaml")
    data = load_dataset(spec.data, spec.train.validation, spec.seed, ROOT / "specs")
    arrays = [array for split in splits(data) for array in (split.x, split.y)]
    assert digest(*arrays) == LSTM_SUNSPOTS_SPLITS_SHA256


def test_sunspots_split_keeps_time_order():
    """The test split is the latest years: no future value leaks into training."""
    from nnctl.data.series import naive_forecast_mse

    spec = TypeAdapter(DataSpec).validate_python({"source": "sunspots", "window": 5})
    data = load_dataset(spec, 0.1, seed=1, base_dir=Path("."))
    assert data.task == "regression"
    assert data.train.x.shape[1:] == (5, 1)
    # each sample's window ends where the previous sample's target was
    np.testing.assert_array_equal(data.train.x[1:, -1, 0], data.train.y[:-1])
    np.testing.assert_array_equal(data.test.x[0, -1, 0], data.validation.y[-1])
    assert naive_forecast_mse(data.test.x, data.test.y) > 0


def test_a_data_error_found_when_loading_is_located_at_the_spec_key(write_spec, tmp_path):
    from nnctl.data import load_spec_data
    from nnctl.errors import SpecError
    from nnctl.spec.validate import load_spec

    (tmp_path / "houses.csv").write_text("size,price\n1,2\n3,4\n")
    path = write_spec(
        "name: houses\ndata: {source: csv, path: houses.csv, target: price}\n"
        "model: {layers: [Dense: 1]}\nloss: mse\n"
    )
    spec, _ = load_spec(path)
    (tmp_path / "houses.csv").write_text("size,Price\n1,2\n3,4\n")  # changed after validation
    with pytest.raises(SpecError) as caught:
        load_spec_data(spec, tmp_path)
    assert f"{path}:2:47: error: data.target: " in str(caught.value)
    assert "has no column 'price' (columns: size, Price); did you mean 'Price'?" in str(
        caught.value
    )
