"""Text features: raw strings, kept as NumPy object arrays of ``str`` until they reach the model.

Splits, caps and fingerprints work on object arrays as on numbers; Keras takes strings only as
TensorFlow tensors, so ``model_input`` converts them where data meets the model. IMDB as raw review
text comes from Stanford's aclImdb (the archive or its unpacked folder, at ``data.path``) or from
Keras's download: its word ids turned back into words with Keras's word index.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sys
import tarfile
from pathlib import Path

import numpy as np

from nnctl.data import files
from nnctl.data.splits import Pair, Raw
from nnctl.errors import UserError
from nnctl.task import Task

ACL_IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
HOW_TO_GET = (
    f"download {ACL_IMDB_URL} elsewhere and set `data.path:` to it (or to the aclImdb folder "
    "it unpacks to)"
)
ACL_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos)/[^/]+\.txt$")
LABELS = {"neg": 0, "pos": 1}
START, INDEX_FROM = 1, 3  # Keras's IMDB word ids: 1 starts a review, word of rank r is r + 3


def is_text(x) -> bool:
    """Whether ``x`` is an array of strings (text features)."""
    return isinstance(x, np.ndarray) and x.dtype.kind in "OUS"


def texts(values) -> np.ndarray:
    """Strings (a list, or a list of rows) as an object array of ``str``."""
    array = np.empty(np.shape(values), dtype=object)
    array[...] = values
    return array


def model_input(x):
    """``x`` as Keras takes it: text arrays become string tensors; numbers pass unchanged, and
    so does each array of a dict, list or tuple of them."""
    if isinstance(x, dict):
        return {name: model_input(value) for name, value in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(model_input(value) for value in x)
    if not is_text(x):
        return x
    from nnctl.keras_env import import_keras

    import_keras()
    import tensorflow as tf

    return tf.constant(x.astype(object), dtype=tf.string)


# --------------------------------------------------------------------------------------- imdb
def imdb_reviews(spec, base_dir: Path, key: str, class_names: list[str]) -> Raw:
    """IMDB's 25,000 training and 25,000 test reviews as text, labels 0 negative, 1 positive."""
    if spec.path is not None:
        path = files.resolve(spec.path, base_dir, f"{key}.path")
        train, test = read_acl_imdb(path, f"{key}.path")
    else:
        train, test = _download_reviews(key)
    return Raw(*train, test=test, task=Task.CLASSIFICATION, class_names=class_names)


def read_acl_imdb(path: Path, key: str) -> tuple[Pair, Pair]:
    """(train, test) from ``aclImdb_v1.tar.gz`` (read in place) or the aclImdb folder (or the
    folder holding it); reviews in file-name order, negative ones first."""
    found: dict[str, list[tuple[str, int, str]]] = {"train": [], "test": []}
    if path.is_file():
        for name, text in _archive_reviews(path, key):
            split, label = ACL_MEMBER.search(name).groups()
            found[split].append((name, LABELS[label], text))
    else:
        folder = path if (path / "train").is_dir() else path / "aclImdb"
        for split, label in [(s, label) for s in found for label in LABELS]:
            for file in (folder / split / label).glob("*.txt"):
                found[split].append((file.name, LABELS[label], _read_text(file, key)))
    for split, reviews in found.items():
        if not reviews:
            raise UserError(
                f"{key}: {path} holds no aclImdb/{split}/pos or /neg reviews; {HOW_TO_GET}"
            )
    return _pair(found["train"]), _pair(found["test"])


def _archive_reviews(path: Path, key: str):
    """(member name, text) of each review in the archive, without unpacking it."""
    try:
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile() and ACL_MEMBER.search(member.name):
                    data = archive.extractfile(member).read()
                    yield member.name, data.decode("utf-8", errors="replace")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise UserError(
            f"{key}: cannot read {path} as Stanford's aclImdb_v1.tar.gz ({e}); with text: true, "
            "data.path is that archive or the aclImdb folder it unpacks to"
        ) from None


def _read_text(file: Path, key: str) -> str:
    try:
        return file.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"{key}: cannot read {file}: {e}") from None


def _pair(reviews: list[tuple[str, int, str]]) -> Pair:
    reviews = sorted(reviews, key=lambda r: (r[1], _file_order(r[0])))
    x = texts([[text] for _, _, text in reviews])
    return x, np.array([label for _, label, _ in reviews], dtype=np.int64)


def _file_order(name: str) -> tuple:
    """aclImdb's ``123_8.txt``: numerically by review id, then by name."""
    stem = Path(name).stem.split("_")[0]
    return (int(stem) if stem.isdigit() else -1, name)


def _download_reviews(key: str) -> tuple[Pair, Pair]:
    """Keras's IMDB word ids (all words) and word index, decoded back to text."""
    from nnctl.keras_env import import_keras

    imdb = import_keras().datasets.imdb
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints its download progress
            (x, y), (x_test, y_test) = imdb.load_data(num_words=None)
            index = imdb.get_word_index()
    except Exception as e:  # urllib, OSError, a bad hash: Keras raises many kinds
        raise UserError(
            f"{key}: could not download imdb: the machine is offline or the download failed "
            f"({type(e).__name__}: {e}). To use a local copy, {HOW_TO_GET}"
        ) from None
    words = {rank + INDEX_FROM: word for word, rank in index.items()}
    return (decode(x, words), np.asarray(y, np.int64)), (
        decode(x_test, words),
        np.asarray(y_test, np.int64),
    )


def decode(sequences, words: dict[int, str]) -> np.ndarray:
    """Word-id sequences as texts, one per row; the start marker is dropped, unknown ids too."""
    return texts([[" ".join(words[i] for i in s if i != START and i in words)] for s in sequences])


# ------------------------------------------------------------------------------------ predict
def read_samples(source: Path, shape: tuple) -> np.ndarray:
    """Texts for a model that takes text: a .txt file holds one per line; a .csv file has a header
    row, then rows of as many texts as the model takes (one, for a single text column)."""
    width = shape[0] if len(shape) == 1 and shape[0] else None
    if width is None:
        raise UserError(
            f"{source}: the model takes text of shape {shape}; nnctl reads rows of text"
        )
    try:
        content = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{source}: cannot read it as UTF-8 text: {e}") from None
    if source.suffix == ".txt":
        if width != 1:
            raise UserError(f"{source}: the model takes {width} texts per sample; give a .csv")
        return texts([[line] for line in content.splitlines() if line.strip()])
    try:
        rows = [row for row in csv.reader(io.StringIO(content)) if row][1:]  # after the header
    except csv.Error as e:
        raise UserError(f"{source}: cannot read it as CSV: {e}") from None
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            raise UserError(
                f"{source}: data row {number} has {len(row)} fields, but the model takes "
                f"{width} text{'s' if width > 1 else ''} per sample (after a header row); keep "
                "only the text column" + ("s" if width > 1 else "")
            )
    return texts(rows)
