"""Every ``data.source``: scikit-learn's bundled and generated sets, Keras's sets, the file formats.

Keras's sets are read from the user's local copy (``path``) when given; Keras's download cache is
never pointed at it, since Keras deletes a cached file whose re-download fails.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import sklearn.datasets

from nnctl.data import files, images, memory_tasks, series, string_pairs, text, tfrecord
from nnctl.data.splits import Raw
from nnctl.errors import UserError
from nnctl.spec.schema import MEMORY_TASKS, DataCommon
from nnctl.task import Task

BUNDLED = {"digits": "load_digits", "iris": "load_iris", "breast_cancer": "load_breast_cancer"}
KERAS = {"mnist", "fashion_mnist", "cifar10", "imdb"}
FILES = {
    "csv": files.load_csv,
    "npz": files.load_npz,
    "npy": files.load_npy,
    "idx": files.load_idx,
    "image_folder": images.load_image_folder,
    "tfrecord": tfrecord.load_tfrecord,
}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
    "imdb": ["negative", "positive"],
}
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
HOW_TO_GET = {
    "mnist": f"download {KERAS_URL}mnist.npz elsewhere and set `data.path: path/to/mnist.npz`",
    "fashion_mnist": "install Debian's copy (`apt-get install dataset-fashion-mnist`), or set "
    f"`data.path:` to a folder holding {', '.join(FASHION_FILES)}",
    "cifar10": "download and unpack https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz "
    "elsewhere and set `data.path:` to its cifar-10-batches-py folder",
    "imdb": f"download {KERAS_URL}imdb.npz elsewhere and set `data.path: path/to/imdb.npz`",
}
START, OOV, INDEX_FROM = 1, 2, 3  # Keras's IMDB encoding: 0 pads, 1 starts, 2 is a rare word


def load_raw(spec, seed: int, base_dir: Path, key: str = "data") -> Raw:
    """The arrays of the source ``spec`` names, before any split."""
    if spec.source in BUNDLED:
        bunch = getattr(sklearn.datasets, BUNDLED[spec.source])()
        names = [str(name) for name in bunch.target_names]
        x, y = bunch.data.astype(np.float32), bunch.target.astype(np.int64)
        return Raw(x, y, task=Task.CLASSIFICATION, class_names=names)
    if spec.source.startswith("make_"):
        return _generated(spec, seed, key)
    if spec.source == "sunspots":
        return series.sunspots(spec.window)
    if spec.source in MEMORY_TASKS:
        return memory_tasks.load(spec, seed)
    if spec.source == "addition":
        return string_pairs.addition(spec.n_samples, spec.digits, seed)
    if spec.source == "dates":
        return string_pairs.dates(spec.n_samples, seed)
    if spec.source == "text_pairs":
        return string_pairs.text_pairs(spec, base_dir, key)
    if spec.source in KERAS:
        return _keras_set(spec, base_dir, key)
    return FILES[spec.source](spec, base_dir, key)


def _generated(spec, seed: int, key: str) -> Raw:
    """scikit-learn's generators with the spec's parameters and ``random_state=seed``."""
    params = spec.model_dump(exclude={"source", *DataCommon.model_fields})
    params = {name: value for name, value in params.items() if value is not None}
    try:
        x, y = getattr(sklearn.datasets, spec.source)(**params, random_state=seed)
    except ValueError as e:
        raise UserError(f"{key}: {spec.source} rejects these parameters: {e}") from None
    if spec.source == "make_regression":
        return Raw(x.astype(np.float32), y.astype(np.float32), task=Task.REGRESSION)
    names = [str(i) for i in range(getattr(spec, "n_classes", 2))]
    return Raw(
        x.astype(np.float32), y.astype(np.int64), task=Task.CLASSIFICATION, class_names=names
    )


def _keras_set(spec, base_dir: Path, key: str) -> Raw:
    """A Keras set from ``path``, Debian's Fashion-MNIST, or Keras's download."""
    if spec.source == "imdb" and spec.text:  # raw review text
        return text.imdb_reviews(spec, base_dir, key, CLASS_NAMES["imdb"])
    if spec.path is not None:
        path = files.resolve(spec.path, base_dir, f"{key}.path")
        local = {"mnist": _mnist, "fashion_mnist": _fashion, "cifar10": _cifar, "imdb": _imdb}
        (x, y), (x_test, y_test) = local[spec.source](path, spec, f"{key}.path")
    elif spec.source == "fashion_mnist" and all((FASHION_DIR / f).is_file() for f in FASHION_FILES):
        (x, y), (x_test, y_test) = _fashion(FASHION_DIR, spec, f"{key}.path")
    else:
        (x, y), (x_test, y_test) = _download(spec, key)
    if len(x) != len(y) or len(x_test) != len(y_test):
        raise UserError(f"{key}.path: the {spec.source} copy has different numbers of x and y")
    if spec.source == "imdb":
        x, x_test = _pad(x, spec.maxlen), _pad(x_test, spec.maxlen)
    else:
        x, x_test = x.astype(np.float32), x_test.astype(np.float32)
    y, y_test = (labels.reshape(-1).astype(np.int64) for labels in (y, y_test))
    names = CLASS_NAMES[spec.source]
    return Raw(x, y, test=(x_test, y_test), task=Task.CLASSIFICATION, class_names=names)


def _download(spec, key: str):
    """Keras's ``load_data()``; any failure becomes a UserError saying how to work offline."""
    from nnctl.keras_env import import_keras

    module = getattr(import_keras().datasets, spec.source)
    kwargs = {"num_words": spec.num_words} if spec.source == "imdb" else {}
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints its download progress
            return module.load_data(**kwargs)
    except Exception as e:  # urllib, OSError, a bad hash: Keras raises many kinds
        raise UserError(
            f"{key}: could not download {spec.source}: the machine is offline or the download "
            f"failed ({type(e).__name__}: {e}). To use a local copy, {HOW_TO_GET[spec.source]}"
        ) from None


def _mnist(path: Path, spec, key: str):
    """``mnist.npz`` (x_train, y_train, x_test, y_test), or a folder holding it."""
    path = path / "mnist.npz" if path.is_dir() else path
    names = {name: name for name in ("x_train", "y_train", "x_test", "y_test")}
    a = files.read_npz(files.resolve(str(path), path.parent, key), names, key)
    return (a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])


def _fashion(folder: Path, spec, key: str):
    """A folder of the four gzipped IDX files, named as Keras names them."""
    if not folder.is_dir():
        raise UserError(f"{key}: {folder} should be a folder holding {', '.join(FASHION_FILES)}")
    x, y, x_test, y_test = (
        files.read_idx(files.resolve(f, folder, key), key) for f in FASHION_FILES
    )
    return (x, y), (x_test, y_test)


def _cifar(path: Path, spec, key: str):
    """The pickled batches of ``cifar-10-batches-py`` (the folder, or the folder above it)."""
    folder = path if (path / "data_batch_1").exists() else path / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = []
    for name in names:
        file = files.resolve(name, folder, key)
        batch = files.unpickle(files.read_bytes(file, key), file, key, encoding="bytes")
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise UserError(f"{key}: {file} is not a CIFAR-10 batch (no data and labels)")
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        batches.append((images.transpose(0, 2, 3, 1), np.asarray(batch[b"labels"])))
    x, y = (np.concatenate(parts) for parts in zip(*batches[:-1], strict=True))
    return (x, y), batches[-1]


def _imdb(path: Path, spec, key: str):
    """``imdb.npz`` (ragged word-id arrays), encoded as Keras encodes it, words < num_words."""
    path = path / "imdb.npz" if path.is_dir() else path
    names = ["x_train", "y_train", "x_test", "y_test"]
    a = files.read_object_npz(files.resolve(str(path), path.parent, key), names, key)
    rng = np.random.RandomState(113)  # Keras's own shuffle, so both copies give the same arrays
    pairs = []
    for x, y in ((a["x_train"], a["y_train"]), (a["x_test"], a["y_test"])):
        order = np.arange(len(x))
        rng.shuffle(order)
        x = [np.concatenate(([START], np.asarray(x[i], np.int64) + INDEX_FROM)) for i in order]
        pairs.append(([np.where(s < spec.num_words, s, OOV) for s in x], y[order]))
    return pairs[0], pairs[1]


def _pad(sequences, maxlen: int) -> np.ndarray:
    """Word-id sequences as int32 rows of ``maxlen``: cut at the end, or 0-padded there."""
    out = np.zeros((len(sequences), maxlen), dtype=np.int32)
    for row, sequence in zip(out, sequences, strict=True):
        sequence = sequence[:maxlen]
        row[: len(sequence)] = sequence
    return out
