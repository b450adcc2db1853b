"""``nnctl predict``: batched inference from a run or an export, on NPY, CSV or a folder of images.

For classifiers each sample gets its label and the class probabilities (class names from the run's
data when the model carries them: a run directory, or a SavedModel written by ``nnctl export``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data import text
from nnctl.data.images import IMAGE_SUFFIXES, images_in, read_image
from nnctl.errors import UserError
from nnctl.export import METADATA
from nnctl.model_safety import Trust, guard
from nnctl.modes import mode_of
from nnctl.modes.seq2seq.strings import string_predictor
from nnctl.predictors import Predictor, keras_predictor, predictor
from nnctl.rundir import MODEL, SPEC, RunDir, atomic_path
from nnctl.spec.validate import load_spec
from nnctl.task import Task

FILE_FORMATS = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}


@dataclass(frozen=True)
class Loaded:
    predict: Predictor
    task: str | None  # a Task value; None: unknown (raw outputs)
    class_names: list[str] | None


@dataclass(frozen=True)
class Predictions:
    names: list[str]  # one per sample: row number or image file name
    outputs: np.ndarray  # (samples, ...) raw model outputs
    task: str | None
    class_names: list[str] | None


def load(path: Path, trust: Trust = Trust.CHECK) -> Loaded:
    """A run directory (checked against its manifest), a SavedModel, or a .keras/.tflite/.onnx
    (checked to be pure computation unless ``trust`` says otherwise)."""
    if path.is_dir() and (path / SPEC).is_file():
        run = RunDir.open(path)
        info = run.read_info()
        spec, _ = load_spec(run.file(SPEC))
        if own := mode_of(spec).predictor(run):  # the mode predicts its own way (a policy...)
            return Loaded(*own, info.get("class_names"))
        return Loaded(keras_predictor(run.file(MODEL)), info.get("task"), info.get("class_names"))
    if path.is_dir() and (path / "saved_model.pb").is_file():
        metadata = json.loads((path / METADATA).read_text()) if (path / METADATA).is_file() else {}
        if metadata.get("task") == Task.SEQ2SEQ:
            return Loaded(_seq2seq_saved_model(path, trust), Task.SEQ2SEQ, None)
        model = predictor(path, "saved_model", trust)
        return Loaded(model, metadata.get("task"), metadata.get("class_names"))
    if path.is_file() and path.suffix in FILE_FORMATS:
        return Loaded(predictor(path, FILE_FORMATS[path.suffix], trust), None, None)
    raise UserError(
        f"{path}: not a run directory, a SavedModel directory or a .keras, .tflite or .onnx file"
    )


def _seq2seq_saved_model(path: Path, trust: Trust) -> Predictor:
    import tensorflow as tf

    guard(path, "saved_model", trust)
    loaded = tf.saved_model.load(str(path))
    return string_predictor(loaded.signatures["serving_default"], loaded)


def predict(
    model: Path, source: Path, batch_size: int = 256, trust: Trust = Trust.CHECK
) -> Predictions:
    """Run the model at ``model`` on every sample in ``source``, ``batch_size`` at a time."""
    loaded = load(model, trust)
    x, names = read_input(source, loaded.predict.input_shape, loaded.predict.dtype)
    chunks = [loaded.predict(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    outputs = np.concatenate(chunks) if chunks else np.zeros((0,))
    return Predictions(names, outputs, loaded.task, loaded.class_names)


# -------------------------------------------------------------------------------------- input
def read_input(source: Path, shape: tuple, dtype: str = "float32") -> tuple[np.ndarray, list[str]]:
    """Samples shaped for the model, and a name for each."""
    if dtype == "string" and source.suffix in (".csv", ".txt") and source.is_file():
        x = text.read_samples(source, shape)  # a model that takes text
        return x, [str(i) for i in range(len(x))]
    if source.is_dir():
        return read_images(source, shape)
    if not source.is_file():
        raise UserError(f"{source}: no such file or directory")
    if source.suffix == ".npy":
        try:
            x = np.load(source, allow_pickle=False)
        except ValueError as exc:
            raise UserError(f"{source}: not a NumPy array file ({exc})") from None
    elif source.suffix in (".csv", ".txt"):
        x = read_csv(source)
    else:
        raise UserError(f"{source}: expected a .npy or .csv file, or a folder of images")
    x = conform(x, shape, source)
    return x, [str(i) for i in range(len(x))]


def conform(x: np.ndarray, shape: tuple, source: Path) -> np.ndarray:
    """``x`` as a batch of samples of ``shape``: a single sample gains a batch axis, flat rows
    are reshaped when their size matches."""
    if x.ndim == len(shape) and _matches(x.shape, shape):
        x = x[None]
    if x.ndim >= 1 and not _matches(x.shape[1:], shape):
        size = math.prod(n for n in shape if n)
        if None not in shape and x.ndim >= 2 and math.prod(x.shape[1:]) == size:
            return x.reshape((len(x), *shape))
        raise UserError(
            f"{source}: samples of shape {tuple(x.shape[1:])}, but the model takes "
            f"{tuple(shape)} (rows of {size} numbers)"
        )
    return x


def _matches(actual: tuple, expected: tuple) -> bool:
    return len(actual) == len(expected) and all(
        e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


def read_csv(source: Path) -> np.ndarray:
    """Numeric columns; a first row that is not numeric is a header and skipped."""
    rows = [row for row in csv.reader(io.StringIO(source.read_text())) if row]
    if rows and not _numeric(rows[0]):
        rows = rows[1:]
    for number, row in enumerate(rows, start=1):
        if not _numeric(row):
            raise UserError(f"{source}: data row {number} is not all numbers: {','.join(row)}")
    if len({len(row) for row in rows}) > 1:
        raise UserError(f"{source}: rows have different numbers of columns")
    return np.asarray(rows, dtype="float32").reshape(len(rows), -1)


def _numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row]
    except ValueError:
        return False
    return True


def read_images(folder: Path, shape: tuple) -> tuple[np.ndarray, list[str]]:
    """Every image in ``folder`` (sorted by name), converted and resized to the model's input:
    (H, W) or (H, W, 1) grayscale, (H, W, 3) RGB, or a flat square grayscale (H*W,); as
    ``source: image_folder`` reads them for training."""
    files = images_in(folder)
    if not files:
        raise UserError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    mode, size = _image_layout(shape, folder)
    images = [read_image(path, mode, size).reshape(shape) for path in files]
    return np.stack(images), [p.name for p in files]


def _image_layout(shape: tuple, folder: Path) -> tuple[str, tuple[int, int]]:
    """PIL mode and (width, height) for a model input shape."""
    if len(shape) == 1 and shape[0] and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return "L", (side, side)
    if len(shape) in (2, 3) and None not in shape[:2]:
        channels = shape[2] if len(shape) == 3 else 1
        if channels in (1, 3):
            return ("L" if channels == 1 else "RGB"), (shape[1], shape[0])
    raise UserError(f"{folder}: the model takes samples of shape {shape}, which are not images")


# ------------------------------------------------------------------------------------- output
def table(result: Predictions) -> tuple[list[str], list[list]]:
    """Header and rows: sample, then label and class probabilities, or the outputs."""
    outputs = result.outputs.reshape(len(result.outputs), -1)
    if result.task == Task.SEQ2SEQ:
        pairs = zip(result.names, outputs, strict=True)
        return ["sample", "output"], [[name, str(output[0])] for name, output in pairs]
    if result.task is None or not Task(result.task).labelled:  # policy: the likeliest action
        columns = (
            ["prediction"]
            if outputs.shape[1] == 1
            else [f"output_{i}" for i in range(outputs.shape[1])]
        )
        return ["sample", *columns], [
            [n, *map(float, o)] for n, o in zip(result.names, outputs, strict=True)
        ]
    scores = np.concatenate([1 - outputs, outputs], axis=1) if outputs.shape[1] == 1 else outputs
    labels = result.class_names or [str(i) for i in range(scores.shape[1])]
    prefix = "p_" if _probabilities(scores) else "score_"
    header = ["sample", "label", *[prefix + label for label in labels]]
    rows = [
        [name, labels[int(row.argmax())], *map(float, row)]
        for name, row in zip(result.names, scores, strict=True)
    ]
    return header, rows


def _probabilities(scores: np.ndarray) -> bool:
    """Whether each row is a probability distribution (softmax or sigmoid outputs)."""
    inside = bool(np.all((scores >= 0) & (scores <= 1)))
    return inside and bool(np.allclose(scores.sum(axis=1), 1, atol=1e-3))


def render(result: Predictions, suffix: str) -> bytes:
    """The predictions as CSV, JSON (one object per sample) or NPY (the raw outputs)."""
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, result.outputs)
        return buffer.getvalue()
    header, rows = table(result)
    if suffix == ".json":
        return (
            json.dumps([dict(zip(header, row, strict=True)) for row in rows], indent=1) + "\n"
        ).encode()
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([header, *rows])
    return text.getvalue().encode()


def write(result: Predictions, out: Path) -> None:
    if out.suffix not in (".csv", ".json", ".npy"):
        raise UserError(f"{out}: expected an output file ending in .csv, .json or .npy")
    with atomic_path(out) as tmp:
        tmp.write_bytes(render(result, out.suffix))
