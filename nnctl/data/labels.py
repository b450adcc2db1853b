"""Class labels given as words (a CSV column of "setosa", "versicolor", ...; an array of str):
what training says about them, and the losses that can learn from them.

Words become class indices 0..K-1 in sorted order, so only a loss that takes class indices (or,
with ``data.preprocess.one_hot``, one-hot rows) can learn from them; numbers keep today's rules.
"""

from __future__ import annotations

from nnctl.data import Dataset
from nnctl.spec.checks import BINARY_LOSSES, ONE_HOT_LOSSES, SPARSE_LOSSES, loss_name
from nnctl.spec.schema import Spec

SHOWN = 10  # class names listed in a message
INDEX_LOSSES = SPARSE_LOSSES | {"circle"} | BINARY_LOSSES  # take class indices (binary: two)
DISTRIBUTION_LOSSES = ONE_HOT_LOSSES | {"kl_divergence", "kld"}  # take a row per class


def classes_text(names: list[str]) -> str:
    """``3 classes: setosa, versicolor, virginica`` (the first few of many)."""
    more = f", ... ({len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return f"{len(names)} classes: {', '.join(names[:SHOWN])}{more}"


def announcement(dataset: Dataset) -> str | None:
    """What training prints when the targets were words, so a column read as class labels
    (a number column with a stray word, too) is never a silent surprise."""
    if dataset.word_labels is None or not dataset.class_names:
        return None
    return f"data: {dataset.word_labels}: {classes_text(dataset.class_names)}"


def check_loss(spec: Spec, dataset: Dataset) -> None:
    """A loss that cannot learn from word labels is a located SpecError, for the modes whose
    labels they are (a binary loss on more than two classes is ``nnctl.build.targets``' to
    refuse, for any labels)."""
    if dataset.word_labels is None or not dataset.class_names:
        return
    loss = loss_name(spec.loss)
    if loss is None or loss in INDEX_LOSSES or spec.data.preprocess.one_hot:
        return  # one-hot rows fit any loss that compares a row of numbers per class
    where = ("loss",) if isinstance(spec.loss, str) else ("loss", "name")
    labels = f"{dataset.word_labels}, so they are {classes_text(dataset.class_names)}"
    if loss in DISTRIBUTION_LOSSES:
        message = (
            f"{loss} needs one-hot labels: {labels}; set data.preprocess.one_hot: true or use "
            "sparse_categorical_crossentropy"
        )
    else:
        message = (
            f"{loss} does not learn from class labels: {labels}; use "
            "sparse_categorical_crossentropy, or, for regression, make every target a number"
        )
    raise spec.error(where, message)
