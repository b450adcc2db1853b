"""train.mode: autoencoder — the target is the preprocessed input; export splits at the code."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains

SPEC = """
name: ae
seed: 3
data: {source: digits, preprocess: {scale: 1/16}}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dense: {units: 8, activation: relu, name: code}
    - Dense: {units: 64, activation: sigmoid}
loss: mse
optimizer: {name: adam, learning_rate: 0.003}
train: {mode: autoencoder, epochs: 30, batch_size: 32}
export: {encoder: code}
"""


def test_autoencoder_beats_the_mean_image_and_exports_its_halves(write_spec, cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("train", write_spec(SPEC), "--out", run, "--quiet")
    assert code == 0, err
    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["loss"] < 0.5 * report["baseline_mean_image_mse"]

    code, out, err = cli("export", run)
    assert code == 0, err
    import tensorflow as tf

    full, encoder, decoder = (tf.saved_model.load(line) for line in out.split())
    x = tf.constant(np.random.default_rng(0).uniform(0, 16, (8, 64)).astype("float32"))
    whole = next(iter(full.signatures["serving_default"](features=x).values()))
    codes = next(iter(encoder.signatures["serving_default"](features=x).values()))
    assert codes.shape == (8, 8)
    (name,) = decoder.signatures["serving_default"].structured_input_signature[1]
    rebuilt = next(iter(decoder.signatures["serving_default"](**{name: codes}).values()))
    np.testing.assert_allclose(rebuilt.numpy(), whole.numpy(), atol=1e-5)
