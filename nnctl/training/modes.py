"""Training modes that change what the model learns from: the targets of each split."""

from __future__ import annotations

import dataclasses

import numpy as np

from nnctl.build.model import preprocessed_view
from nnctl.data import Dataset, Split
from nnctl.spec.schema import Spec


def encode(spec: Spec, dataset: Dataset, vocab=None) -> tuple[Dataset, object | None]:
    """The dataset as the model takes it, before the model exists: for ``seq2seq``, strings
    become token ids with ``vocab`` (a trained run's) or vocabularies built from the data."""
    if spec.train.mode != "seq2seq":
        return dataset, None
    from nnctl import seq2seq

    return seq2seq.encode(dataset, spec.data.tokens, vocab)


def prepare(spec: Spec, dataset: Dataset, model) -> Dataset:
    """The dataset as the mode trains on it: for ``autoencoder``, each target is its input; for
    ``gan``, the task is generation (class labels serve only its scorer)."""
    if spec.train.mode == "gan":
        return dataclasses.replace(dataset, task="generation")
    if spec.train.mode != "autoencoder":
        return dataset
    view = preprocessed_view(model)
    parts = {}
    for name in ("train", "validation", "test"):
        part = getattr(dataset, name)
        if part is not None:
            target = view.predict(part.x, batch_size=1024, verbose=0) if len(part.x) else part.x
            parts[name] = Split(part.x, np.asarray(target, dtype=np.float32))
    return dataclasses.replace(dataset, **parts, task="reconstruction", num_classes=None,
                               class_names=None)  # fmt: skip


def mean_baseline_mse(train: Split, test: Split) -> float:
    """MSE of predicting every test sample as the mean training sample ("the mean image")."""
    mean = train.y.mean(axis=0, keepdims=True)
    return float(np.mean((test.y - mean) ** 2))
