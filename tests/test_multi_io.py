"""Graph models with several inputs and outputs: named arrays in, a loss and weight per output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import train_once

# Two inputs (a measurement vector and a 1-D signal); two outputs: which of 3 kinds the sample
# is (from the vector) and a real number (the signal's mean, scaled).
SPEC = """
name: two_heads
seed: 3
data: {source: npz, path: ../two.npz, x: {vector: v, signal: s}, y: {kind: k, size: z}}
model:
  inputs: {vector: {shape: [6]}, signal: {shape: [10, 1]}}
  nodes:
    - {name: v_hidden, inputs: [vector], Dense: {units: 32, activation: relu}}
    - {name: s_summary, inputs: [signal], GlobalAveragePooling1D: {}}
    - {name: joined, inputs: [v_hidden, s_summary], Concatenate: {}}
    - {name: kind, inputs: [joined], Dense: {units: 3, activation: softmax}}
    - {name: size, inputs: [joined], Dense: {units: 1}}
  outputs: [kind, size]
loss: {kind: sparse_categorical_crossentropy, size: mse}
loss_weights: {kind: 1.0, size: 0.5}
metrics: {kind: [accuracy]}
optimizer: {name: adam, learning_rate: 0.01}
train: {epochs: 40, batch_size: 32, validation: 0.1,
        early_stopping: {monitor: val_size_loss, patience: 40}}
"""


def _data(path):
    rng = np.random.default_rng(0)
    v = rng.normal(size=(600, 6)).astype("float32")
    k = np.argmax(v[:, :3], axis=1)
    s = rng.normal(size=(600, 10, 1)).astype("float32") + rng.normal(size=(600, 1, 1))
    np.savez(path, v=v, s=s, k=k, z=(3 * s.mean(axis=(1, 2))).astype("float32"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    _data(tmp_path_factory.getbasetemp() / "two.npz")
    return train_once(tmp_path_factory, "multi", SPEC)


@pytest.mark.slow
def test_each_output_learns_with_its_own_loss(run):
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert set(test) == {"loss", "kind_loss", "size_loss", "kind_accuracy"}
    assert test["kind_accuracy"] > 0.85  # chance is 1/3
    assert test["size_loss"] < 0.3  # predicting 0 scores about 3**2 / 10 + 9 ≈ 9.9
    assert test["loss"] == pytest.approx(test["kind_loss"] + 0.5 * test["size_loss"], rel=0.05)


@pytest.mark.slow
def test_evaluate_and_export_take_named_inputs(run, cli):
    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    assert json.loads(out)["kind_accuracy"] > 0.85
    code, _, err = cli("export", run)
    assert code == 0, err


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("size: 0.5}", "size: 0.5, sise: 1}", "loss_weights.sise: no output named 'sise'"),
        ("size: mse}", "sise: mse}", "no loss for output 'size'"),
        (
            "loss: {kind: sparse_categorical_crossentropy, size: mse}",
            "loss: mse",
            "a loss for each",
        ),
        pytest.param(  # found when the model is built: imports TensorFlow
            "shape: [6]",
            "shape: [7]",
            "the data's 'vector' samples have shape (6,), not (7,)",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_mismatched_names_and_shapes_are_located(old, new, message, tmp_path, write_spec, cli):
    _data(tmp_path / "two.npz")
    spec = write_spec(SPEC.replace("../two.npz", "two.npz").replace(old, new))
    code, _, err = cli("validate", spec, "--build")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if new in text)
    assert f"spec.yaml:{line}:" in err
