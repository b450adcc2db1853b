"""``nnctl init``: a commented starting spec for a CSV file or a built-in source, written so that
it validates and trains as it stands.

A CSV file is read here with the ``csv`` module (no NumPy, no TensorFlow): its numeric columns
become the features, and the target decides the task the way the loader will read it (words, or
a few whole numbers, are classes; other numbers are regression).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nnctl.errors import UserError
from nnctl.spec.columns import column_problem
from nnctl.spec.schema import DATA_SOURCES
from nnctl.task import Task

TEMPLATES = ("mlp", "cnn", "lstm", "autoencoder")
TASKS = ("classification", "regression")
FEW_CLASSES = 20  # whole-number targets with at most this many values are class labels
LOADER_CLASSES = 1000  # the csv loader reads whole numbers with up to this many values as classes


@dataclass
class Data:
    """What a template needs to know of the data, and the spec's ``data:`` section."""

    lines: list[str]  # YAML under ``data:``, with comments
    shape: tuple[int, ...]  # one sample as the model's first layer receives it
    task: str
    classes: int | None
    about: str  # one line for the spec's header comment
    unit_range: bool = False  # features scaled to [0, 1]: an autoencoder's output is a sigmoid
    notes: list[str] = field(default_factory=list)  # what init printed to the user


# ------------------------------------------------------------------------------- sources
SOURCES = {  # name -> (extra keys, scale, what it is); shapes and classes come from the schema
    "digits": ("", "1/16", "1,797 8x8 images of digits, pixels 0..16"),
    "iris": ("", None, "150 iris flowers, 4 measurements, 3 species"),
    "breast_cancer": ("", None, "569 tumours, 30 measurements, benign or malignant"),
    "make_moons": ("n_samples: 1000, noise: 0.2", None, "two interleaving half moons"),
    "make_classification": (
        "n_samples: 1000, n_features: 20", None, "generated points in 2 classes"
    ),
    "make_regression": (
        "n_samples: 1000, n_features: 8, noise: 10.0", None,
        "generated linear regression, 8 features",
    ),
    "sunspots": ("window: 12", None, "yearly sunspot numbers: 12 years -> next"),
    "mnist": ("", "1/255", "MNIST digits (Keras downloads it once)"),
    "fashion_mnist": ("", "1/255", "Fashion-MNIST (Keras downloads it once)"),
    "cifar10": ("", "1/255", "CIFAR-10 colour images (Keras downloads it once)"),
}  # fmt: skip
IMAGES = {"digits": (8, 8)}  # sources that give images as vectors: cnn and lstm reshape them


def source_data(name: str, task: str | None, template: str) -> Data:
    """The ``data:`` section for a built-in source."""
    if name not in SOURCES:
        raise UserError(f"--source {name}: not a source init knows (one of: {', '.join(SOURCES)})")
    extra, scale, about = SOURCES[name]
    shape, classes = _facts(name, extra)
    known = "classification" if classes else "regression"
    if task is not None and task != known:
        raise UserError(f"--task {task}: {name} is a {known} data set")
    lines = [f"source: {name}" + (f"  # {about}" if about else "")]
    lines += [f"{key.strip()}" for key in extra.split(",") if key.strip()]
    preprocess = []
    if scale:
        preprocess.append(f"scale: {scale}  # to [0, 1]")
    else:
        preprocess.append("standardize: true  # mean 0, std 1 (training-split statistics)")
    if template in ("cnn", "lstm") and name in IMAGES:
        shape = IMAGES[name]
        preprocess.append(f"reshape: {list(shape)}  # the pixels as an image")
    if template in ("mlp", "autoencoder") and len(shape) > 1:
        preprocess.append("flatten: true  # one vector per sample")
        shape = (math.prod(shape),)
    lines += ["test_split: 0.2  # held out for the final test", "preprocess:"]
    lines += ["  " + p for p in preprocess]
    return Data(lines, shape, known, classes, about, unit_range=bool(scale))


def _facts(name: str, extra: str) -> tuple[tuple[int, ...], int | None]:
    """(one sample's shape, its classes or None) as the source's schema class tells them."""
    data = DATA_SOURCES[name].model_validate({"source": name, **yaml.safe_load(f"{{{extra}}}")})
    return data.sample_shape()[0], data.known_classes()


# ----------------------------------------------------------------------------------- csv
@dataclass
class Table:
    names: list[str] | None  # the header, or None when the first row is data
    rows: list[list[str]]
    delimiter: str


def read_csv(path: Path) -> Table:
    """A CSV file's rows; the header is the first row unless every field of it is a number."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as file:
            sample = file.read(1 << 16)
            file.seek(0)
            delimiter = _delimiter(sample)
            rows = [row for row in csv.reader(file, delimiter=delimiter) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--data {path}: cannot read it as a UTF-8 CSV file: {exc}") from None
    if not rows:
        raise UserError(f"--data {path}: the file is empty")
    names = None if all(_is_number(v) for v in rows[0]) else [v.strip() for v in rows.pop(0)]
    if not rows:
        raise UserError(f"--data {path}: a header and no rows of data")
    width = len(names) if names else len(rows[0])
    for number, row in enumerate(rows, start=2 if names else 1):
        if len(row) != width:
            raise UserError(f"--data {path}, line {number}: {len(row)} fields, expected {width}")
    return Table(names, rows, delimiter)


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def target_index(table: Table, target: str, path: Path) -> int:
    """The target column's index, from its header name or a 0-based index."""
    width = len(table.rows[0])
    column: str | int = target
    if table.names is None or (target not in table.names and target.isdigit()):
        if not target.isdigit():
            raise UserError(
                f"--target {target}: {path} has no header row; give the target's 0-based "
                f"column index (0 to {width - 1})"
            )
        column = int(target)
    problem = column_problem(column, table.names, width, path)
    if problem:
        raise UserError(f"--target {target}: {problem}")
    return table.names.index(column) if isinstance(column, str) else column


def csv_data(path: Path, spec_dir: Path, target: str, task: str | None, template: str) -> Data:
    """The ``data:`` section for a CSV file: its numeric columns as features, standardized."""
    table = read_csv(path)
    t = target_index(table, target, path)
    label = table.names[t] if table.names else str(t)
    values = [row[t].strip() for row in table.rows]
    if "" in values:
        line = values.index("") + (2 if table.names else 1)
        raise UserError(f"--data {path}, line {line}: the target {label!r} is empty")
    task, classes, what = _task(values, task, label)
    features, left_out = _features(table, t)
    if not features:
        raise UserError(
            f"--data {path}: no column besides the target holds only numbers; nnctl reads "
            "numeric feature columns (text features need a TextVectorization spec)"
        )
    shown = [_column(table, c) for c in features]
    lines = [
        "source: csv",
        f"path: {_scalar(os.path.relpath(path.resolve(), spec_dir.resolve()))}"
        "  # relative to this file",
        f"target: {_column(table, t)}  # {what}",
    ]
    if table.names is None:
        lines.append("header: false  # the first row is data")
    if table.delimiter != ",":
        lines.append(f"delimiter: {json.dumps(table.delimiter)}")
    if left_out:
        lines.append(f"features: [{', '.join(shown)}]  # left out: {', '.join(left_out)}")
    lines += [
        "test_split: 0.2  # held out for the final test",
        "preprocess:",
        "  standardize: true  # each feature to mean 0, std 1 (training-split statistics)",
    ]
    about = f"{path.name}: {len(table.rows)} rows, {len(features)} numeric features, {what}"
    notes = [f"left out {c}" for c in left_out]
    return Data(lines, (len(features),), task, classes, about, notes=notes)


def _task(values: list[str], task: str | None, label: str) -> tuple[str, int | None, str]:
    """(task, class count, the target in words) as the csv loader will read the column."""
    distinct = sorted(set(values))
    numbers = all(_is_number(v) for v in values)
    whole = numbers and all(float(v).is_integer() for v in values)
    if task is None:
        few = whole and len(distinct) <= FEW_CLASSES
        task = "classification" if not numbers or few else "regression"
    if task == Task.REGRESSION:
        if not numbers:
            word = next(v for v in values if not _is_number(v))
            raise UserError(f"--task regression: the target {label!r} holds words ({word!r})")
        if whole and len({float(v) for v in values}) <= LOADER_CLASSES:
            raise UserError(
                f"--target {label}: its values are {len(distinct)} different whole numbers, and "
                f"nnctl's csv loader reads whole-number targets with up to {LOADER_CLASSES} "
                "values as class labels, so a regression spec would learn class indices; if they "
                "are classes, run init again with --task classification"
            )
        return task, None, "a number: regression"
    count = len({float(v) for v in values}) if numbers else len(distinct)
    if count < 2:
        raise UserError(f"--target {label}: every row has the same value; nothing to learn")
    if count > LOADER_CLASSES:
        raise UserError(f"--task classification: the target {label!r} has {count} values")
    shown = ", ".join(distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    return task, count, f"{count} classes: {shown}"


def _features(table: Table, target: int) -> tuple[list[int], list[str]]:
    """(numeric feature columns, the other columns in words)."""
    features, left_out = [], []
    for c in range(len(table.rows[0])):
        if c == target:
            continue
        if all(_is_number(row[c]) for row in table.rows):
            features.append(c)
        else:
            left_out.append(f"{_column(table, c)} (not a number in every row)")
    return features, left_out


def _column(table: Table, c: int) -> str:
    return _scalar(table.names[c]) if table.names else str(c)


PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~"}


def _scalar(text: str) -> str:
    """A string as a YAML scalar: bare when that reads back as the same string, else quoted."""
    plain = PLAIN.fullmatch(text) and text.lower() not in YAML_WORDS
    return text if plain else json.dumps(text)


# ------------------------------------------------------------------------------ the spec
def layers(template: str, data: Data) -> list[str]:
    """The model's layers for ``template``, ending in the output the task needs."""
    shape = data.shape
    if template == "autoencoder":
        return _autoencoder(data)
    if template == "cnn":
        body = _cnn(shape)
    elif template == "lstm":
        body = _lstm(shape)
    else:
        body = ["Dense: {units: 64, activation: relu}", "Dense: {units: 64, activation: relu}"]
    if data.task == Task.CLASSIFICATION:
        output = (
            f"Dense: {{units: {data.classes}, activation: softmax}}  # one probability per class"
        )
    else:
        output = "Dense: {units: 1}  # the predicted number"
    return [*body, output]


def _cnn(shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 1:  # a vector: a 1-D convolution along the features
        return [
            f"Reshape: [{shape[0]}, 1]  # features as a sequence of one channel",
            "Conv1D: {filters: 32, kernel_size: 3, padding: same, activation: relu}",
            "Flatten",
            "Dense: {units: 64, activation: relu}",
        ]
    if len(shape) == 2 and shape[1] == 1:  # a series of one value per step
        return [
            "Conv1D: {filters: 32, kernel_size: 3, padding: same, activation: relu}",
            "Flatten",
            "Dense: {units: 64, activation: relu}",
        ]
    reshape = (
        [f"Reshape: [{shape[0]}, {shape[1]}, 1]  # one colour channel"] if len(shape) == 2 else []
    )
    return [
        *reshape,
        "Conv2D: {filters: 32, kernel_size: 3, padding: same, activation: relu}",
        "MaxPooling2D: 2",
        "Conv2D: {filters: 64, kernel_size: 3, padding: same, activation: relu}",
        "MaxPooling2D: 2",
        "Flatten",
        "Dense: {units: 64, activation: relu}",
    ]


def _lstm(shape: tuple[int, ...]) -> list[str]:
    if len(shape) == 1:
        return [f"Reshape: [{shape[0]}, 1]  # features as a sequence", "LSTM: {units: 32}"]
    if len(shape) == 3:
        return [f"Reshape: [{shape[0]}, {shape[1] * shape[2]}]  # rows as steps", "LSTM: 64"]
    return ["LSTM: {units: 64}  # reads the steps in order"]


def _autoencoder(data: Data) -> list[str]:
    width = data.shape[0]
    code = max(1, min(8, width // 2))
    output = "sigmoid" if data.unit_range else "linear"
    return [
        "Dense: {units: 32, activation: relu}",
        f"Dense: {{units: {code}, activation: relu, name: code}}  # the bottleneck",
        "Dense: {units: 32, activation: relu}",
        f"Dense: {{units: {width}, activation: {output}}}  # the reconstructed features",
    ]


def render(path: Path, data: Data, template: str) -> str:
    """The spec's text, commented line by line."""
    if template == "autoencoder":
        loss, metrics = "mse  # reconstruction error", "[mae]"
    elif data.task == Task.CLASSIFICATION:
        loss = "sparse_categorical_crossentropy  # class indices against the softmax"
        metrics = "[accuracy]"
    else:
        loss, metrics = "mse  # squared error of the predicted number", "[mae]"
    text = [
        f"# Written by nnctl init ({template}): {data.about}.",
        f"# Check it: nnctl validate --build {path.name}    Train it: nnctl train {path.name}",
        "version: 1",
        f"name: {spec_name(path)}",
        "seed: 42  # seeds the splits, the initial weights and the shuffling",
        "",
        "data:",
        *("  " + line for line in data.lines),
        "",
        "model:",
        "  layers:",
        *("    - " + line for line in layers(template, data)),
        "",
        f"loss: {loss}",
        "optimizer: {name: adam, learning_rate: 0.001}",
        f"metrics: {metrics}",
        "",
        "train:",
        *(
            ["  mode: autoencoder  # learns to reproduce its input"]
            if template == "autoencoder"
            else []
        ),
        "  epochs: 100",
        "  batch_size: 32",
        "  validation: 0.1  # of the training split, to watch for overfitting",
        "  early_stopping: {monitor: val_loss, patience: 10, restore_best_weights: true}",
    ]
    if template == "autoencoder":
        text += [
            "",
            "export:",
            "  encoder: code  # nnctl export also writes the encoder and decoder",
        ]
    return "\n".join(text) + "\n"


def spec_name(path: Path) -> str:
    """A spec name (letters, digits, ``_.-``) from the spec file's name."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("_.-")[:80]
    return name if name and name[0].isalnum() else f"spec_{name}".strip("_")


def write(path: Path, text: str) -> None:
    """Create ``path`` with ``text``; an existing file is refused, never overwritten."""
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give the spec file's path, e.g. {path}/spec.yaml")
    if not path.parent.is_dir():
        raise UserError(f"{path}: the folder {path.parent} does not exist")
    try:
        with path.open("x") as file:
            file.write(text)
    except FileExistsError:
        raise UserError(
            f"{path}: exists; init never overwrites a file (choose another path)"
        ) from None
