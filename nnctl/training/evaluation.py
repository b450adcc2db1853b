"""A trained model's figures on a split of its data, as the modes that learn from a dataset
report them: Keras's metrics, the data's baselines, for classifiers a confusion matrix and class
scores, and the mode's own figures (``Mode.add_figures``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnctl.data import Dataset, Split, count, load_spec_data
from nnctl.data.series import naive_forecast_mse
from nnctl.errors import UserError
from nnctl.rundir import RunDir
from nnctl.spec.schema import Spec
from nnctl.task import Task
from nnctl.training.pipeline import keras_data

SPLITS = ("train", "validation", "test")
EXAMPLES = 8  # seq2seq examples shown


@dataclass
class Report:
    split: str
    samples: int
    metrics: dict[str, float]
    class_names: list[str] | None = None
    confusion: np.ndarray | None = None  # rows: true class, columns: predicted class
    precision: list[float] = field(default_factory=list)
    baselines: dict[str, float] = field(default_factory=dict)  # what a trivial model scores
    recall: list[float] = field(default_factory=list)
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # input, expected, got
    unit: str = "samples"  # what ``samples`` counts (actor_critic: episodes)
    kept: dict[str, Any] = field(default_factory=dict)  # what the mode keeps for nnctl report


def split_metrics(model, split: Split, batch_size: int) -> dict[str, float]:
    """``model.evaluate`` in inference mode, as a plain dict of floats."""
    if count(split.x) == 0:
        return {}
    data = keras_data(split.x, split.y, batch_size)
    results = model.evaluate(**data, verbose=0, return_dict=True)
    return {name: float(value) for name, value in results.items()}


def evaluate_split(mode, spec: Spec, model, run: RunDir, split: str) -> Report:
    """Metrics of ``model`` on a split of the spec's data, the data's baselines, and the
    ``mode``'s own figures."""
    strings = load_spec_data(spec, run.path)
    vocab = mode.vocabularies(run)
    dataset, _ = mode.encode(spec, strings, vocab)
    dataset = mode.prepare(spec, dataset, model)
    part = getattr(dataset, split)
    if part is None or count(part.x) == 0:
        raise UserError(f"{run.path}: the {split} split is empty for this spec")
    report = Report(split, count(part.x), split_metrics(model, part, spec.train.batch_size))
    if dataset.task == Task.CLASSIFICATION:
        _add_classification(report, model, part, dataset, spec.train.batch_size)
    if spec.data.forecast:  # a forecast must beat repeating the last value
        report.baselines["naive_forecast_mse"] = naive_forecast_mse(part.x, part.y)
    data = {"dataset": dataset, "part": part, "strings": getattr(strings, split), "vocab": vocab}
    mode.add_figures(report, spec, model, data)
    return report


def _add_classification(report: Report, model, part: Split, dataset: Dataset, batch: int) -> None:
    scores = np.asarray(model.predict(**keras_data(part.x, None, batch), verbose=0))
    k = dataset.num_classes or scores.shape[-1]
    predicted = (scores[:, 0] > 0.5).astype(int) if scores.shape[-1] == 1 else scores.argmax(-1)
    truth = _class_indices(part.y)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    report.confusion = confusion
    report.class_names = dataset.class_names or [str(i) for i in range(k)]
    report.baselines["majority_class_accuracy"] = _majority_accuracy(dataset.train.y, truth, k)
    diag = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        report.precision = np.nan_to_num(diag / confusion.sum(axis=0)).tolist()
        report.recall = np.nan_to_num(diag / confusion.sum(axis=1)).tolist()


def _majority_accuracy(train_y: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Accuracy of always predicting the training split's most frequent class."""
    majority = int(np.bincount(_class_indices(train_y), minlength=k).argmax())
    return float(np.mean(truth == majority))


def _class_indices(y: np.ndarray) -> np.ndarray:
    """Class indices from indices or one-hot rows."""
    return y.argmax(-1) if y.ndim > 1 else y.astype(int).reshape(-1)
