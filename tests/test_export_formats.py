"""``nnctl export --format tflite|onnx``, each with its own parity check, and atomic exports."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import train_once

pytestmark = pytest.mark.slow  # every test exports a trained model

SPEC = """
name: exportable
seed: 5
data:
  source: digits
  preprocess: {scale: 1/16}
model:
  layers:
    - Reshape: [8, 8, 1]
    - Conv2D: {filters: 4, kernel_size: 3, activation: relu}
    - Flatten
    - Dropout: 0.1
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
train: {epochs: 1, batch_size: 128}
"""
TOLERANCE = 1e-4  # what README promises for converted formats


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_once(tmp_path_factory, "exportable", SPEC)


@pytest.fixture(scope="module")
def reference(trained):
    """Raw pixels and the Keras model's outputs on them."""
    from nnctl.keras_env import import_keras

    x = np.random.default_rng(0).uniform(0, 16, size=(37, 64)).astype("float32")
    model = import_keras().saving.load_model(trained / "model.keras")
    return x, model.predict(x, verbose=0)


def test_tflite_export_reproduces_the_model(trained, reference, tmp_path, cli):
    import tensorflow as tf

    code, out, err = cli("export", trained, "--format", "tflite", "--out", tmp_path / "m.tflite")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "m.tflite")
    assert "tflite: |export - model| <= " in err
    x, expected = reference
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "m.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    actual = next(iter(runner(features=x).values()))
    np.testing.assert_allclose(actual, expected, atol=TOLERANCE)


def test_onnx_export_reproduces_the_model(trained, reference, tmp_path, cli):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    code, _out, err = cli("export", trained, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    x, expected = reference
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    actual = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(actual, expected, atol=TOLERANCE)


def test_onnx_without_its_packages_says_why(trained, tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # makes `import tf2onnx` fail
    code, _, err = cli("export", trained, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 2
    assert "--format onnx is not available: tf2onnx is not installed" in err
    assert "pip install 'nnctl[onnx]'" in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize(("fmt", "name"), [("tflite", "m.lite"), ("onnx", "m.bin")])
def test_export_file_needs_its_suffix(trained, tmp_path, cli, fmt, name):
    code, _, err = cli("export", trained, "--format", fmt, "--out", tmp_path / name)
    assert code == 2
    assert f"must end in .{fmt}" in err


def test_default_targets_sit_in_the_run_directory(trained, cli):
    code, out, _ = cli("export", trained, "--format", "tflite")
    assert code == 0
    assert out.strip() == str(trained / "export.tflite")


def test_saved_model_carries_class_names_for_predict(trained, tmp_path, cli):
    assert cli("export", trained, "--out", tmp_path / "sm")[0] == 0
    metadata = json.loads((tmp_path / "sm" / "assets.extra" / "nnctl.json").read_text())
    assert metadata["task"] == "classification"
    assert metadata["class_names"] == [str(i) for i in range(10)]


@pytest.mark.parametrize("fmt", ["saved_model", "tflite"])
def test_failed_check_leaves_nothing_at_the_target(trained, tmp_path, cli, monkeypatch, fmt):
    import nnctl.export
    import nnctl.predictors

    real = nnctl.export.predictor

    def off_by_one(path, kind, *trust):
        loaded = real(path, kind, *trust)
        return nnctl.predictors.Predictor(lambda x: loaded(x) + 1, loaded.input_shape, loaded.dtype)

    monkeypatch.setattr(nnctl.export, "predictor", off_by_one)
    target = tmp_path / ("out" if fmt == "saved_model" else "out.tflite")
    code, _, err = cli("export", trained, "--format", fmt, "--out", target)
    assert code == 1
    assert "export check failed" in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


def test_failed_reexport_keeps_the_previous_export(trained, tmp_path, cli, monkeypatch):
    import nnctl.export
    import nnctl.predictors

    target = tmp_path / "sm"
    assert cli("export", trained, "--out", target)[0] == 0
    before = sorted(p.relative_to(target) for p in target.rglob("*"))

    def broken(model, path, run):
        path.mkdir()
        (path / "partial").write_text("x")
        raise KeyboardInterrupt

    monkeypatch.setitem(nnctl.export.WRITERS, "saved_model", broken)
    code, _, err = cli("export", trained, "--out", target)
    assert code == 130
    assert "interrupted" in err
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]
