"""``nnctl predict``: NPY, CSV and image folders in; labels, probabilities or outputs out."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from conftest import DIGITS_TRAINING

REGRESSOR = """
name: line
seed: 11
data: {source: make_regression, n_samples: 200, n_features: 3, noise: 1.0}
model:
  layers:
    - Dense: 1
loss: mse
train: {epochs: 1, batch_size: 64}
"""


def _train(root, name, text):
    from nnctl.cli import main

    (root / f"{name}.yaml").write_text(text)
    assert main(["train", str(root / f"{name}.yaml"), "--out", str(root / name), "-q"]) == 0
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    return {
        "classifier": _train(root, "c", DIGITS_TRAINING),
        "regressor": _train(root, "r", REGRESSOR),
    }


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().images[:70].astype("float32")  # raw 0..16 pixels, (70, 8, 8): reshaped


def expected(run, x):
    from nnctl.keras_env import import_keras

    return import_keras().saving.load_model(run / "model.keras").predict(x, verbose=0)


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.slow
def test_npy_in_csv_out_with_labels_and_probabilities(runs, digits, tmp_path, cli):
    np.save(tmp_path / "x.npy", digits)
    code, out, err = cli(
        "predict", runs["classifier"], "--input", tmp_path / "x.npy", "--batch-size", "32"
    )
    assert code == 0, err
    table = rows(out)
    assert table[0] == ["sample", "label"] + [f"p_{i}" for i in range(10)]
    assert len(table) == 1 + 70
    assert "predicted 70 samples" in err
    probabilities = np.array([[float(v) for v in row[2:]] for row in table[1:]])
    reference = expected(runs["classifier"], digits.reshape(70, 64))
    np.testing.assert_allclose(probabilities, reference, atol=1e-6)
    assert [row[1] for row in table[1:]] == [str(i) for i in reference.argmax(-1)]


@pytest.mark.slow
def test_csv_rows_with_or_without_header_are_reshaped(runs, digits, tmp_path, cli):
    flat = digits[:5].reshape(5, 64)
    header = ",".join(f"pixel{i}" for i in range(64))
    np.savetxt(tmp_path / "h.csv", flat, delimiter=",", header=header, comments="")
    np.savetxt(tmp_path / "n.csv", flat, delimiter=",")
    outputs = []
    for name in ("h.csv", "n.csv"):
        code, out, err = cli("predict", runs["classifier"], "--input", tmp_path / name)
        assert code == 0, err
        outputs.append(rows(out))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 1 + 5


@pytest.mark.slow
def test_image_folder(runs, digits, tmp_path, cli):
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(digits[i].astype("uint8")).save(folder / f"digit{i}.png")
    (folder / "notes.txt").write_text("not an image")
    code, _out, err = cli(
        "predict", runs["classifier"], "--input", folder, "--out", tmp_path / "p.json"
    )
    assert code == 0, err
    result = json.loads((tmp_path / "p.json").read_text())
    assert [r["sample"] for r in result] == ["digit0.png", "digit1.png", "digit2.png"]
    reference = expected(runs["classifier"], digits[:3].reshape(3, 64))
    assert [r["label"] for r in result] == [str(i) for i in reference.argmax(-1)]


@pytest.mark.slow
def test_regression_outputs_and_npy_out(runs, tmp_path, cli):
    x = np.random.default_rng(1).normal(size=(9, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    code, out, _ = cli("predict", runs["regressor"], "--input", tmp_path / "x.npy")
    assert code == 0
    assert rows(out)[0] == ["sample", "prediction"]
    code, out, _ = cli(
        "predict", runs["regressor"], "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy"
    )
    assert code == 0
    assert out.strip() == str(tmp_path / "y.npy")
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), expected(runs["regressor"], x), atol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["saved_model", "keras", "tflite"])
def test_exports_predict_like_the_run(runs, digits, tmp_path, cli, fmt):
    suffix = {"saved_model": "", "keras": ".keras", "tflite": ".tflite"}[fmt]
    target = tmp_path / f"export{suffix}"
    assert cli("export", runs["classifier"], "--format", fmt, "--out", target)[0] == 0
    np.save(tmp_path / "x.npy", digits[:10])
    code, out, err = cli("predict", target, "--input", tmp_path / "x.npy")
    assert code == 0, err
    table = rows(out)
    scores = np.array([[float(v) for v in row[-10:]] for row in table[1:]])
    np.testing.assert_allclose(
        scores, expected(runs["classifier"], digits[:10].reshape(10, 64)), atol=1e-4
    )
    if fmt == "saved_model":  # carries the run's class names
        assert table[0][:3] == ["sample", "label", "p_0"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (np.zeros((4, 7), dtype="float32"), "samples of shape (7,), but the model takes (64,)"),
        ("1,2,x\n", "data row 1 is not all numbers"),
    ],
)
def test_unusable_input_is_explained(runs, tmp_path, cli, content, fragment):
    if isinstance(content, str):
        path = tmp_path / "bad.csv"
        path.write_text("a,b,c\n" + content)
    else:
        path = tmp_path / "bad.npy"
        np.save(path, content)
    code, _, err = cli("predict", runs["classifier"], "--input", path)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


def test_not_a_model_is_explained(tmp_path, cli):
    np.save(tmp_path / "x.npy", np.zeros((1, 2)))
    code, _, err = cli("predict", tmp_path, "--input", tmp_path / "x.npy")
    assert code == 2
    assert "not a run directory, a SavedModel directory" in err
