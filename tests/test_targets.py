"""The model's output must fit the data's targets: a wrong class count or target shape is a
located spec error before training (Keras would stop inside its first step with a graph error,
or broadcast the loss silently), found by ``validate --build`` where the data's classes are known
without loading it, and by ``train`` always."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DIGITS

pytestmark = pytest.mark.slow  # every test builds its model (validate --build)

FIVE_OUTPUTS = DIGITS.replace("{units: 10, activation: softmax}", "{units: 5, activation: softmax}")


@pytest.mark.parametrize("command", ["validate", "train"])
def test_a_classifier_with_too_few_outputs_is_located(write_spec, cli, tmp_path, command):
    spec = write_spec(FIVE_OUTPUTS)
    args = ("--build",) if command == "validate" else ("--out", tmp_path / "run")
    code, _, err = cli(command, spec, *args)
    assert code == 2
    assert "Traceback" not in err
    assert (
        f"{spec}:6:7: error: model.layers[1]: the model outputs 5 values per sample, but the "
        "data has 10 classes: give the last layer units: 10" in err
    ), err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_one_hot_labels_are_checked_the_same_way(write_spec, cli):
    text = FIVE_OUTPUTS.replace("{source: digits}", "{source: digits, preprocess: {one_hot: true}}")
    text = text.replace("sparse_categorical", "categorical")
    code, _, err = cli("validate", "--build", write_spec(text))
    assert code == 2
    assert "the data has 10 classes" in err


def test_a_binary_loss_on_many_classes_points_at_the_loss(write_spec, cli):
    text = FIVE_OUTPUTS.replace(
        "{units: 5, activation: softmax}", "{units: 1, activation: sigmoid}"
    )
    code, _, err = cli(
        "validate", "--build", write_spec(text.replace("sparse_categorical", "binary"))
    )
    assert code == 2
    assert (
        ":7:7: error: loss: binary_crossentropy tells two classes apart, but the data has 10" in err
    )


def test_a_regression_output_wider_than_its_target_is_located(write_spec, cli, tmp_path):
    """make_regression has one target per sample; three outputs would broadcast against it."""
    text = """
    name: r
    data: {source: make_regression, n_samples: 64, n_features: 4}
    model:
      layers:
        - Dense: 3
    loss: mse
    train: {epochs: 1}
    """
    code, _, err = cli("train", write_spec(text), "--out", tmp_path / "run")
    assert code == 2
    assert (
        "model.layers[0]: the model outputs shape (3,) per sample, but each target has shape ()"
        in err
    )


def test_targets_read_from_files_are_checked_by_validate_build(write_spec, cli, tmp_path):
    """Only the file tells the targets' shape: --build reads it (two targets per sample here)."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(40, 3)), y=rng.normal(size=(40, 2)))
    text = """
    name: r
    data: {source: npz, path: data.npz}
    model:
      layers:
        - Dense: 1
    loss: mse
    """
    code, _, err = cli("validate", "--build", write_spec(text))
    assert code == 2
    assert "outputs shape (1,) per sample, but each target has shape (2,)" in err
    assert cli("validate", "--build", write_spec(text.replace("Dense: 1", "Dense: 2")))[0] == 0


def test_an_autoencoder_must_output_its_input_shape(write_spec, cli):
    text = """
    name: ae
    data: {source: digits, preprocess: {scale: 1/16}}
    model:
      layers:
        - Dense: 8
        - Dense: {units: 60, activation: sigmoid}
    loss: mse
    train: {mode: autoencoder}
    """
    code, _, err = cli("validate", "--build", write_spec(text))
    assert code == 2
    assert (
        ":6:7: error: model.layers[1]: the model outputs shape (60,) per sample, but each " in err
    )
    assert cli("validate", "--build", write_spec(text.replace("60", "64")))[0] == 0


def test_nnctl_losses_with_a_mask_channel_are_not_shape_checked(write_spec, cli, tmp_path):
    """The copy task's targets carry one more channel than the output (the answer mask)."""
    text = """
    name: c
    data: {source: copy_task, bits: 3, max_length: 2, n_samples: 64}
    model:
      input_shape: [null, 4]
      layers:
        - LSTM: {units: 4, return_sequences: true}
        - Dense: {units: 3, activation: sigmoid}
    loss: masked_binary_crossentropy
    train: {epochs: 1}
    """
    code, _, err = cli("train", write_spec(text), "--out", tmp_path / "run", "-q")
    assert code == 0, err
