"""Class labels given as words: a CSV's species names or "pos"/"neg", an array of str. They become
classes in sorted order, named by the words in training's output, run.json, evaluate, predict and
the export; numeric labels keep the classes and fingerprints they always had."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
from sklearn.datasets import load_iris
from text_data import reviews

from nnctl.cli import main
from nnctl.data import load_dataset
from nnctl.errors import UserError
from nnctl.export import METADATA
from nnctl.spec.schema import Spec

SPECIES = ["setosa", "versicolor", "virginica"]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS = """
name: iris_words
seed: 5
data: {source: csv, path: iris.csv, target: species, preprocess: {standardize: true}}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 3, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {learning_rate: 0.02}
metrics: [accuracy]
train: {epochs: 40, batch_size: 16}
"""
REVIEWS = """
name: reviews_words
seed: 5
data: {source: csv, path: reviews.csv, target: label, text: true}
model:
  layers:
    - TextVectorization: {max_tokens: 200, output_sequence_length: 16}
    - Embedding: {input_dim: 200, output_dim: 8}
    - GlobalAveragePooling1D: {}
    - Dense: {units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
train: {epochs: 2, batch_size: 32, validation: 0}
"""


def write_iris(path, label=lambda name: f" {name}"):
    """scikit-learn's iris as a CSV whose last column names the species (padded by a space, as
    hand-written CSVs often are)."""
    iris = load_iris()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*FEATURES, "species"])
        for x, y in zip(iris.data, iris.target, strict=True):
            writer.writerow([*x, label(SPECIES[y])])
    return path


def load(data: dict, tmp_path, validation=0.0):
    spec = Spec.model_validate({"name": "t", "data": data})
    return load_dataset(spec.data, validation, 0, tmp_path)


def train(root, spec_text: str) -> tuple[int, str]:
    """``nnctl train`` in-process into ``root/run``; the exit code and what it printed on stderr."""
    (root / "spec.yaml").write_text(spec_text)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(root / "spec.yaml"), "--out", str(root / "run"), "-q"])
    return code, stderr.getvalue()


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """A small MLP trained on iris with species names as labels: (run directory, stderr)."""
    root = tmp_path_factory.mktemp("iris_words")
    write_iris(root / "iris.csv")
    code, err = train(root, IRIS)
    assert code == 0, err
    return root / "run", err


# ------------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_training_names_the_classes_it_read(iris_run):
    run, err = iris_run
    assert "data: column 'species' of iris.csv holds words: 3 classes: " in err
    assert "setosa, versicolor, virginica" in err
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "classification"
    assert info["class_names"] == SPECIES


@pytest.mark.slow
def test_evaluate_reports_accuracy_and_classes_by_name(iris_run, cli):
    run, _ = iris_run
    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["accuracy"] >= 0.9  # 27 of 30 test flowers (measured 29)
    assert list(report["classes"]) == SPECIES
    assert sum(c["samples"] for c in report["classes"].values()) == 30  # stratified: 10 each
    assert all(c["samples"] == 10 for c in report["classes"].values())
    code, out, err = cli("evaluate", run)
    assert code == 0, err
    assert all(name in out for name in SPECIES)
    assert "confusion matrix" in out


@pytest.mark.slow
def test_predict_and_export_label_samples_with_species(iris_run, tmp_path, cli):
    run, _ = iris_run
    iris = load_iris()
    rows = np.concatenate([iris.data[:5], iris.data[50:55], iris.data[100:105]])
    truth = [SPECIES[i] for i in (0, 1, 2) for _ in range(5)]
    np.savetxt(tmp_path / "x.csv", rows, delimiter=",", header=",".join(FEATURES), comments="")
    code, _, err = cli("export", run, "--out", tmp_path / "sm")
    assert code == 0, err
    metadata = json.loads((tmp_path / "sm" / METADATA).read_text())
    assert metadata["class_names"] == SPECIES
    assert metadata["task"] == "classification"
    for model in (run, tmp_path / "sm"):
        code, out, err = cli("predict", model, "--input", tmp_path / "x.csv")
        assert code == 0, err
        table = list(csv.reader(io.StringIO(out)))
        assert table[0] == ["sample", "label", *(f"p_{name}" for name in SPECIES)]
        labels = [row[1] for row in table[1:]]
        assert set(labels) <= set(SPECIES)
        assert np.mean([a == b for a, b in zip(labels, truth, strict=True)]) > 0.85


@pytest.mark.slow
def test_text_csv_with_pos_neg_labels_trains(tmp_path, cli):
    with (tmp_path / "reviews.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "label"])
        writer.writerows((text, "pos" if label else "neg") for text, label in reviews(200, 2))
    code, err = train(tmp_path, REVIEWS)
    assert code == 0, err
    assert "holds words: 2 classes: neg, pos" in err
    assert json.loads((tmp_path / "run" / "run.json").read_text())["class_names"] == ["neg", "pos"]
    (tmp_path / "two.txt").write_text("the film was really great\nthe plot was dull\n")
    code, out, err = cli("predict", tmp_path / "run", "--input", tmp_path / "two.txt")
    assert code == 0, err
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header == ["sample", "label", "p_neg", "p_pos"]
    assert len(rows) == 2
    assert {row[1] for row in rows} <= {"neg", "pos"}


# ------------------------------------------------------------------------------------ data
def test_words_are_sorted_classes_and_stratified(tmp_path):
    write_iris(tmp_path / "iris.csv")
    data = load({"source": "csv", "path": "iris.csv", "target": "species"}, tmp_path, 0.2)
    assert data.task == "classification"
    assert data.class_names == SPECIES
    assert data.train.y.dtype == np.int64
    assert data.train.x.dtype == np.float32
    assert np.bincount(data.test.y).tolist() == [10, 10, 10]
    iris = load_iris()  # its targets: 0 setosa, 1 versicolor, 2 virginica
    table = iris.data.astype(np.float32)
    for x, y in zip(data.test.x, data.test.y, strict=True):
        assert set(iris.target[(table == x).all(axis=1)]) == {y}


def test_renamed_classes_change_the_fingerprint(tmp_path):
    write_iris(tmp_path / "a.csv")
    write_iris(tmp_path / "b.csv", label=lambda name: name.upper())  # same order, new names
    a = load({"source": "csv", "path": "a.csv", "target": "species"}, tmp_path)
    b = load({"source": "csv", "path": "b.csv", "target": "species"}, tmp_path)
    assert np.array_equal(a.train.y, b.train.y)
    assert a.fingerprint != b.fingerprint


def test_numeric_labels_keep_their_classes_and_fingerprint(tmp_path):
    """The same CSV gave these classes and this fingerprint before labels could be words."""
    lines = ["a,b,label"] + [f"{i % 7 * 0.5},{(i * 3) % 11},{i % 3}" for i in range(30)]
    (tmp_path / "num.csv").write_text("\n".join(lines) + "\n")
    data = load({"source": "csv", "path": "num.csv", "target": "label"}, tmp_path, 0.25)
    assert data.class_names == ["0", "1", "2"]
    assert data.word_labels is None
    assert data.train.y[:8].tolist() == [1, 1, 2, 2, 1, 2, 0, 1]
    assert data.fingerprint == "c7aa0ef7ec31af089b79a6f5e6e5edd1b852bef6c6e93c02050f1d62e3606152"


def test_a_word_among_numbers_makes_every_value_a_label(tmp_path):
    (tmp_path / "m.csv").write_text("x,y\n1,0\n2,1\n3,NA\n4,1\n")
    data = load({"source": "csv", "path": "m.csv", "target": "y"}, tmp_path)
    assert data.class_names == ["0", "1", "NA"]
    assert data.word_labels == "column 'y' of m.csv holds words ('NA', line 4) among numbers"


def test_npz_string_labels(tmp_path):
    x = np.arange(12.0).reshape(6, 2)
    y = np.array(["cat", "dog", "cat", "bird", "dog", "cat"])
    np.savez(tmp_path / "d.npz", x=x, y=y, xt=x[:2], yt=np.array(["dog", "bird"]))
    data = load({"source": "npz", "path": "d.npz", "x_test": "xt", "y_test": "yt"}, tmp_path)
    assert data.class_names == ["bird", "cat", "dog"]
    assert data.train.y.tolist() == [1, 2, 1, 0, 2, 1]
    assert data.test.y.tolist() == [2, 0]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"y": np.array([["a", "b"]] * 4)}, r"targets of strings are class labels, one per"),
        ({"yt": np.arange(4)}, r"both be numbers or both be words"),
    ],
)
def test_npz_string_labels_mistakes(tmp_path, arrays, message):
    x, y = np.zeros((4, 2)), np.array(["a", "b", "a", "b"])
    np.savez(tmp_path / "d.npz", **({"x": x, "y": y, "xt": x, "yt": y} | arrays))
    with pytest.raises(UserError, match=message):
        load({"source": "npz", "path": "d.npz", "x_test": "xt", "y_test": "yt"}, tmp_path)


def test_validation_labels_unseen_in_training_are_named(tmp_path):
    write_iris(tmp_path / "iris.csv")
    (tmp_path / "val.csv").write_text(
        ",".join([*FEATURES, "species"]) + "\n5.1,3.5,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginca\n"
    )
    spec = Spec.model_validate(
        {
            "name": "t",
            "data": {"source": "csv", "path": "iris.csv", "target": "species"},
            "train": {"validation": {"source": "csv", "path": "val.csv", "target": "species"}},
        }
    )
    with pytest.raises(UserError) as error:
        load_dataset(spec.data, spec.train.validation, 0, tmp_path)
    assert str(error.value) == (
        "train.validation: labels 'virginca' are not among the training data's classes "
        "('setosa', 'versicolor', 'virginica'); give data with the same class labels"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,label\n1,pos\nx,neg\n", r"m\.csv, line 3, column 'a': 'x' is not a number"),
        ("a,label\n1,pos\n2, \n", r"m\.csv, line 3, column 'label': the target is empty"),
    ],
)
def test_features_stay_numbers_and_targets_need_values(tmp_path, text, message):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(UserError, match=message):
        load({"source": "csv", "path": "m.csv", "target": "label"}, tmp_path)


# ---------------------------------------------------------------------------------- losses
@pytest.mark.slow
@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ("mse", "loss: mse does not learn from class labels: column 'species' of iris.csv "
         "holds words, so they are 3 classes: setosa, versicolor, virginica; use "
         "sparse_categorical_crossentropy, or, for regression, make every target a number"),
        ("categorical_crossentropy", "loss: categorical_crossentropy needs one-hot labels"),
        ("{name: huber, delta: 2.0}", "loss.name: huber does not learn from class labels"),
    ],
)  # fmt: skip
def test_a_loss_that_cannot_take_word_labels_is_located(tmp_path, loss, message):
    write_iris(tmp_path / "iris.csv")
    spec = IRIS.replace("loss: sparse_categorical_crossentropy", f"loss: {loss}")
    code, err = train(tmp_path, spec)
    assert code == 2, err
    assert message in err, err
    assert "spec.yaml:9:" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------- class weights
def weights_for(tmp_path, class_weight) -> dict[int, float] | None:
    """The class weights training would use for iris (species names) with ``class_weight``."""
    from nnctl.training.supervised import class_weights

    write_iris(tmp_path / "iris.csv")
    spec = Spec.model_validate(
        {
            "name": "t",
            "data": {"source": "csv", "path": "iris.csv", "target": "species"},
            "train": {"class_weight": class_weight},
        }
    )
    dataset = load_dataset(spec.data, 0.0, 0, tmp_path)
    return class_weights(spec, dataset)


@pytest.mark.slow
def test_class_weights_by_name_or_index(tmp_path):
    assert weights_for(tmp_path, {"virginica": 3.0, 0: 0.5}) == {2: 3.0, 0: 0.5}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (
            {"virginca": 2.0},
            "no class 'virginca': the data has 3 classes (0-2: setosa, "
            "versicolor, virginica); did you mean 'virginica'?",
        ),
        ({3: 2.0}, "no class index 3: the data has 3 classes"),
    ],
)
def test_a_class_weight_for_a_missing_class_is_located(tmp_path, weights, message):
    key = next(iter(weights))
    spec_text = IRIS.replace("train: {", f"train: {{class_weight: {{{key}: 2.0}}, ")
    write_iris(tmp_path / "iris.csv")
    code, err = train(tmp_path, spec_text)
    assert code == 2
    assert "Traceback" not in err
    path = f"[{key}]" if isinstance(key, int) else f".{key}"
    assert f": error: train.class_weight{path}: {message}" in err, err
    assert "spec.yaml:12:" in err, err


@pytest.mark.slow
def test_class_weights_need_classes(write_spec, cli, tmp_path):
    text = """
    name: r
    data: {source: make_regression, n_samples: 40}
    model: {layers: [Dense: 1]}
    loss: mse
    train: {class_weight: balanced}
    """
    code, _, err = cli("train", write_spec(text), "--out", tmp_path / "run")
    assert code == 2
    assert "train.class_weight: class weights need class labels, but the targets are not" in err
