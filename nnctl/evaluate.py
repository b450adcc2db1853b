"""Metrics of a trained model on a split; for classifiers a confusion matrix and class scores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nnctl import seq2seq
from nnctl.data import Dataset, Split, count, load_spec_data
from nnctl.data.series import naive_forecast_mse
from nnctl.data.text import model_input
from nnctl.errors import UserError
from nnctl.keras_env import import_keras
from nnctl.rundir import MODEL, SPEC, VOCABULARIES, RunDir
from nnctl.seq2seq import Vocabularies
from nnctl.spec.schema import Spec
from nnctl.spec.validate import load_spec
from nnctl.training import modes

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


def split_metrics(model, split: Split, batch_size: int) -> dict[str, float]:
    """``model.evaluate`` in inference mode, as a plain dict of floats."""
    if count(split.x) == 0:
        return {}
    x = model_input(split.x)  # text as string tensors
    results = model.evaluate(x, split.y, batch_size=batch_size, verbose=0, return_dict=True)
    return {name: float(value) for name, value in results.items()}


def load_run(run: RunDir) -> tuple[Spec, object]:
    """The run's resolved spec and its trained model (loaded in Keras safe mode)."""
    spec, _ = load_spec(run.file(SPEC))
    keras = import_keras()
    model = keras.saving.load_model(run.file(MODEL), safe_mode=True)
    return spec, model


def evaluate_run(run: RunDir, split: str) -> Report:
    spec, model = load_run(run)
    if spec.train.mode == "actor_critic":  # evaluation episodes, not a data split
        from nnctl.rl.play import evaluation_report

        return evaluation_report(spec, model)
    strings = load_spec_data(spec, run.path)
    vocab = Vocabularies.read(run.file(VOCABULARIES)) if spec.train.mode == "seq2seq" else None
    dataset, _ = modes.encode(spec, strings, vocab)
    dataset = modes.prepare(spec, dataset, model)
    part = getattr(dataset, split)
    if part is None or count(part.x) == 0:
        raise UserError(f"{run.path}: the {split} split is empty for this spec")
    report = Report(split, count(part.x), split_metrics(model, part, spec.train.batch_size))
    if dataset.task == "classification":
        _add_classification(report, model, part, dataset, spec.train.batch_size)
    if vocab is not None:
        _add_decoded(report, model, vocab, getattr(strings, split))
    if dataset.task == "reconstruction":
        report.baselines["mean_image_mse"] = modes.mean_baseline_mse(dataset.train, part)
    if spec.data.source == "sunspots":  # a forecast must beat repeating the last value
        report.baselines["naive_forecast_mse"] = naive_forecast_mse(part.x, part.y)
    if dataset.task == "generation":  # the scorer on real samples and an untrained generator's
        from nnctl.training import gan

        report.baselines |= gan.baselines(spec, model, part)
    return report


def _add_decoded(report: Report, model, vocab: Vocabularies, strings: Split) -> None:
    """seq2seq: greedy decoding's exact-match rate, and examples (the first mistakes first)."""
    predicted = seq2seq.decode_all(seq2seq.decoder(model, vocab), strings.x)
    expected = [seq2seq.normalized(str(t), vocab) for t in strings.y]
    triples = [(str(s), e, p) for s, e, p in zip(strings.x, expected, predicted, strict=True)]
    report.metrics["exact_match"] = float(np.mean([e == p for _, e, p in triples]))
    wrong = [t for t in triples if t[1] != t[2]]
    report.examples = (wrong[:EXAMPLES] + [t for t in triples if t[1] == t[2]])[:EXAMPLES]


def _add_classification(report: Report, model, part: Split, dataset: Dataset, batch: int) -> None:
    scores = np.asarray(model.predict(model_input(part.x), batch_size=batch, verbose=0))
    k = dataset.num_classes or scores.shape[-1]
    predicted = (scores[:, 0] > 0.5).astype(int) if scores.shape[-1] == 1 else scores.argmax(-1)
    truth = part.y.argmax(-1) if part.y.ndim > 1 else part.y.astype(int).reshape(-1)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    report.confusion = confusion
    report.class_names = dataset.class_names or [str(i) for i in range(k)]
    diag = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        report.precision = np.nan_to_num(diag / confusion.sum(axis=0)).tolist()
        report.recall = np.nan_to_num(diag / confusion.sum(axis=1)).tolist()
