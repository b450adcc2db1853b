"""train.mode: gan — adversarial training through the checkpointed loop, sample grids, quality
measured by a scorer, the generator's export, exact resume, and located spec errors."""

from __future__ import annotations

import json
import math
import signal

import numpy as np
import pytest
from conftest import finish, interrupted, spawn, train_once

from nnctl.spec.schema import GAN_LOGS, GAN_QUALITY

# BatchNormalization in the generator, Dropout in the discriminator (random state), two
# discriminator updates per generator update: every kind of state a resume must restore.
SPEC = """
name: tiny_gan
seed: 5
data: {source: digits, preprocess: {scale: 1/16}}
gan:
  latent_dim: 8
  generator:
    layers:
      - Dense: 16
      - BatchNormalization
      - LeakyReLU: 0.2
      - Dense: {units: 64, activation: sigmoid}
  discriminator:
    layers:
      - Dense: 16
      - LeakyReLU: 0.2
      - Dropout: 0.3
      - Dense: 1
  generator_optimizer: {name: adam, learning_rate: 0.002, beta_1: 0.5}
  discriminator_steps: 2
  label_smoothing: 0.1
  samples: {rows: 2, columns: 3}
  scorer:
    layers:
      - Dense: {units: 32, activation: relu}
      - Dense: {units: 10, activation: softmax}
    epochs: 20
train:
  mode: gan
  epochs: 3
  batch_size: 128
  checkpoint: {every_steps: 4, keep_last: 20}
"""
STEPS = 11  # ceil(1293 training samples / 128)
FIGURES = set(GAN_LOGS + GAN_QUALITY)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_once(tmp_path_factory, "gan", SPEC)


@pytest.mark.slow
def test_run_logs_the_adversaries_and_sample_quality_every_epoch(trained):
    header = (trained / "history.csv").read_text().splitlines()[0].split(",")
    assert set(header) == {"epoch"} | FIGURES | {f"val_{name}" for name in FIGURES}
    assert len((trained / "history.csv").read_text().splitlines()) == 1 + 3
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation", "test"}
    assert all(set(figures) == FIGURES for figures in metrics.values())
    test = metrics["test"]
    assert 0 < test["real_score"] < 1
    assert 0 < test["fake_score"] < 1
    assert 0 < test["class_entropy"] <= math.log(10) + 1e-6
    assert 1 <= test["classifier_score"] <= 10
    info = json.loads((trained / "run.json").read_text())
    assert info["task"] == "generation"
    assert info["epochs"] == 3


@pytest.mark.slow
def test_each_epoch_saves_a_grid_of_samples_from_the_same_noise(trained):
    import matplotlib.image

    names = sorted(p.name for p in (trained / "samples").iterdir())
    assert names == ["epoch-0001.png", "epoch-0002.png", "epoch-0003.png"]
    grids = [matplotlib.image.imread(trained / "samples" / name) for name in names]
    # 2 x 3 samples of 8x8 with one-pixel borders (19 x 28), enlarged 512 // 28 = 18 times
    assert grids[0].shape[:2] == (19 * 18, 28 * 18)
    assert not np.array_equal(grids[0], grids[2]), "the generator changed between epochs"


@pytest.mark.slow
def test_checkpoints_hold_both_optimizers(trained):
    from nnctl.training import checkpoint

    arrays, meta = checkpoint.read(checkpoint.committed(trained / "checkpoints")[0])
    counts = sorted(
        int(arrays[f"var_{i:04d}"])
        for i, path in enumerate(meta["variables"])
        if path.endswith("/iteration")
    )
    assert counts == [3 * STEPS, 3 * STEPS * 2]  # generator; discriminator (2 steps each)


@pytest.mark.slow
def test_evaluate_sets_quality_against_real_data_and_the_untrained_generator(trained, cli):
    code, out, err = cli("evaluate", trained, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) >= FIGURES
    assert report["baseline_scorer_accuracy"] > 0.85
    assert report["baseline_real_class_entropy"] > 2.0  # ln 10 = 2.30: classes balanced
    assert report["baseline_real_confidence"] > 0.7
    assert (
        report["baseline_real_classifier_score"] > 2 * report["baseline_untrained_classifier_score"]
    )
    code, out, err = cli("evaluate", trained)
    assert code == 0, err
    assert "baseline: untrained classifier score" in out
    assert "classifier_score" in out


@pytest.mark.slow
def test_untrained_baseline_is_the_generator_training_started_from(trained):
    from nnctl.data import load_dataset
    from nnctl.keras_env import set_seed
    from nnctl.modes.gan import training as gan
    from nnctl.modes.gan.build import build_generator
    from nnctl.spec.validate import load_spec
    from nnctl.training import checkpoint
    from nnctl.training.state import restore

    spec, _ = load_spec(trained / "spec.yaml")
    set_seed(spec.seed)
    dataset = load_dataset(spec.data, spec.train.validation, spec.seed, trained)
    model = gan.prepare(spec, dataset, STEPS)
    (first,) = [c for c in checkpoint.committed(trained / "checkpoints") if c.epoch == c.step == 0]
    restore(model, {}, *checkpoint.read(first))
    set_seed(spec.seed)
    untrained = build_generator(spec, (64,))
    for mine, started in zip(untrained.get_weights(), model.generator.get_weights(), strict=True):
        assert np.array_equal(mine, started)


@pytest.mark.slow
def test_export_is_the_generator_noise_in_samples_out(trained, cli, tmp_path):
    import tensorflow as tf

    from nnctl.keras_env import import_keras

    code, out, err = cli("export", trained)
    assert code == 0, err
    loaded = tf.saved_model.load(out.strip())
    serve = loaded.signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["noise"]
    noise = np.random.default_rng(1).standard_normal((5, 8)).astype("float32")
    samples = next(iter(serve(noise=tf.constant(noise)).values())).numpy()
    model = import_keras().saving.load_model(trained / "model.keras", safe_mode=True)
    np.testing.assert_allclose(samples, model.generator(noise, training=False), atol=1e-5)
    assert samples.shape == (5, 64)
    assert samples.min() >= 0
    assert samples.max() <= 1
    metadata = json.loads((trained / "export" / "assets.extra" / "nnctl.json").read_text())
    assert metadata["task"] == "generation"
    np.save(tmp_path / "noise.npy", noise)
    code, _, err = cli("predict", trained, "--input", tmp_path / "noise.npy", "--out",
                       tmp_path / "samples.npy")  # fmt: skip
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "samples.npy"), samples, atol=1e-5)


@pytest.mark.slow
def test_model_file_round_trips_in_safe_mode(trained):
    from nnctl.keras_env import import_keras
    from nnctl.layers.gan import Gan

    model = import_keras().saving.load_model(trained / "model.keras", safe_mode=True)
    assert isinstance(model, Gan)
    assert model.discriminator_steps == 2
    assert model.latent_dim == 8
    assert model.from_logits
    assert model.label_smoothing == pytest.approx(0.1)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(0.002)
    assert model.generator_optimizer.beta_1 == 0.5
    assert float(model.discriminator_optimizer.learning_rate) == pytest.approx(2e-4)  # default


# ------------------------------------------------------------------------------------ resume
@pytest.mark.slow
def test_killed_gan_resumes_to_the_uninterrupted_result(trained, tmp_path):
    """Killed in epoch 2 after batch 6: resumed from the step-16 checkpoint, the run ends
    bitwise as the uninterrupted one (history, metrics, every weight)."""
    from nnctl.keras_env import import_keras

    spec, run, ready = tmp_path / "spec.yaml", tmp_path / "run", tmp_path / "ready"
    spec.write_text(SPEC)
    interrupted(["train", spec, "--out", run, "-q"], f"step:{STEPS + 6}", signal.SIGKILL, ready)
    resumed = finish(spawn("resume", run, "-q"), timeout=600)
    err = resumed["err"]
    assert resumed["rc"] == 0, err[-2000:]
    assert "from ckpt-e0001-s000005 (epoch 2 of 3, after batch 5)" in err
    assert (run / "history.csv").read_bytes() == (trained / "history.csv").read_bytes()
    assert (run / "metrics.json").read_bytes() == (trained / "metrics.json").read_bytes()
    keras = import_keras()
    mine = keras.saving.load_model(run / "model.keras").get_weights()
    reference = keras.saving.load_model(trained / "model.keras").get_weights()
    for a, b in zip(mine, reference, strict=True):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------------- figures
@pytest.mark.slow
def test_sample_quality_figures():
    from nnctl.layers.gan import SampleQuality

    def figures(probabilities):
        metric = SampleQuality(4)
        metric.update_state(np.asarray(probabilities, dtype="float32"))
        return {k: float(v) for k, v in metric.result().items()}

    every_class = figures(np.eye(4))  # sure of each sample, every class equally often
    assert every_class["confidence"] == pytest.approx(1)
    assert every_class["class_entropy"] == pytest.approx(math.log(4), abs=1e-5)
    assert every_class["classifier_score"] == pytest.approx(4, abs=1e-4)
    one_class = figures(np.eye(4)[[2, 2, 2]])  # mode collapse
    assert one_class["class_entropy"] == pytest.approx(0, abs=1e-5)
    assert one_class["classifier_score"] == pytest.approx(1)
    unsure = figures(np.full((3, 4), 0.25))  # looks like no class at all
    assert unsure["confidence"] == pytest.approx(0.25)
    assert unsure["classifier_score"] == pytest.approx(1, abs=1e-5)


@pytest.mark.slow
def test_grid_draws_samples_in_rows_black_to_white(tmp_path):
    import matplotlib.image

    from nnctl.modes.gan.training import save_grid

    samples = np.stack([np.zeros((2, 2)), np.ones((2, 2)), np.full((2, 2), 0.5)])
    save_grid(samples.reshape(3, 4), columns=2, shape=(2, 2), span=(0.0, 1.0),
              target=tmp_path / "grid.png")  # fmt: skip
    grid = matplotlib.image.imread(tmp_path / "grid.png")[..., 0]
    scale = 512 // 7  # 2 x 2 cells of 2x2 with borders: 7 x 7 pixels
    assert grid.shape == (7 * scale, 7 * scale)
    cell = lambda row, col: grid[(1 + 3 * row) * scale, (1 + 3 * col) * scale]  # noqa: E731
    assert cell(0, 0) == 0
    assert cell(0, 1) == 1
    assert abs(cell(1, 0) - 0.5) < 0.01
    assert abs(cell(1, 1) - 0.5) < 0.01  # no fourth sample: the border's grey


# ----------------------------------------------------------------------------------- errors
def _replace(old: str, new: str) -> str:
    assert old in SPEC
    return SPEC.replace(old, new)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            _replace("{units: 64, activation: sigmoid}", "{units: 63, activation: sigmoid}"),
            ":11:9: error: gan.generator.layers[3]",
            "the generator must output a sample of the data's shape after preprocessing, "
            "(64,), but it outputs shape (63,)",
        ),
        (
            _replace("      - Dense: 1\n", "      - Dense: 2\n"),
            ":17:9: error: gan.discriminator.layers[3]",
            "the discriminator must output one score (e.g. - Dense: 1), but it outputs shape (2,)",
        ),
        (
            _replace("{units: 10, activation: softmax}", "{units: 9, activation: softmax}"),
            ":25:9: error: gan.scorer.layers[1]",
            "the scorer outputs 9 values, but the data has 10 classes",
        ),
        (
            _replace("{units: 10, activation: softmax}", "10"),
            ":25:9: error: gan.scorer.layers[1]",
            "the scorer must output class probabilities (a softmax over the data's classes): "
            "end it with activation: softmax",
        ),
        (
            _replace("      - Dense: 16\n      - LeakyReLU", "      - Dens: 16\n      - LeakyReLU"),
            ":14:9: error: gan.discriminator.layers[0].Dens",
            "unknown layer 'Dens'; did you mean 'Dense'?",
        ),
        (
            _replace("beta_1: 0.5}", "beta_1: 0.5, lr: 0.1}"),
            ":18:72: error: gan.generator_optimizer.lr",
            "'lr' was renamed 'learning_rate' in Keras 3",
        ),
        (
            "optimizer: sgd\n" + SPEC,
            ":1:1: error: optimizer",
            "'optimizer' does not apply to train.mode gan: each adversary has its own",
        ),
        (
            _replace("  samples: {rows: 2, columns: 3}", "  samples: {image_shape: [4, 4]}"),
            ":21:26: error: gan.samples.image_shape",
            "cannot draw samples of shape (64,) (64 values) as images of shape (4, 4)",
        ),
        (
            _replace("source: digits,", "source: make_regression,"),
            ":22:3: error: gan.scorer",
            "the scorer is a classifier, but make_regression has no class labels",
        ),
        (
            _replace("discriminator_steps: 2", "discriminator_steps: 0"),
            ":19:24: error: gan.discriminator_steps",
            "expected a positive integer, got 0",
        ),
    ],
    ids=[
        "generator-shape",
        "discriminator-shape",
        "scorer-classes",
        "scorer-softmax",
        "layer-typo",
        "optimizer-argument",
        "top-level-optimizer",
        "image-shape",
        "scorer-without-labels",
        "discriminator-steps",
    ],
)
@pytest.mark.slow
def test_gan_mistakes_are_located(write_spec, cli, tmp_path, text, where, message):
    """Found before training starts (the scorer's classes once the data is loaded)."""
    spec = write_spec(text)
    code, _, err = cli("train", spec, "--out", tmp_path / "run")
    assert code == 2
    assert f"{spec}{where}: {message}" in err, err
    assert "Traceback" not in err


@pytest.mark.slow
def test_validate_build_finds_a_scorer_of_the_wrong_class_count(write_spec, cli):
    """digits has 10 classes, known without loading it: --build checks the scorer's width."""
    text = _replace("{units: 10, activation: softmax}", "{units: 9, activation: softmax}")
    code, _, err = cli("validate", "--build", write_spec(text))
    assert code == 2, err
    assert "the scorer outputs 9 values, but the data has 10 classes" in err, err


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("{}", {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5}),
        ("{learning_rate: 0.001}", {"name": "adam", "learning_rate": 0.001, "beta_1": 0.5}),
        ("adamw", {"name": "adamw", "learning_rate": 2e-4, "beta_1": 0.5}),
        ("{beta_1: 0.9}", {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.9}),
        ("{name: sgd, momentum: 0.9}", {"name": "sgd", "learning_rate": 2e-4, "momentum": 0.9}),
    ],
)
def test_gan_optimizers_default_to_dcgan_adam_key_by_key(write_spec, given, expected):
    """Giving one key keeps DCGAN's other defaults (learning rate 2e-4, Adam's beta_1 0.5)."""
    from nnctl.spec.validate import load_spec

    steps = "  discriminator_steps: 2\n"
    spec, _ = load_spec(write_spec(_replace(steps, f"  discriminator_optimizer: {given}\n{steps}")))
    optimizer = spec.gan.discriminator_optimizer
    got = {"name": optimizer.name, "learning_rate": optimizer.learning_rate, **optimizer.args}
    assert got == expected


def test_a_gan_network_takes_no_input_shape(write_spec, cli):
    text = _replace("  generator:\n", "  generator:\n    input_shape: [8]\n")
    code, _, err = cli("validate", write_spec(text))
    assert code == 2
    assert "gan.generator.input_shape: unknown key 'input_shape'; a GAN gives its networks" in err


@pytest.mark.slow
def test_a_diverging_gan_says_which_optimizers_to_tame(write_spec, cli, tmp_path, monkeypatch):
    """The advice names the GAN's own optimizers (a GAN has no top-level optimizer)."""
    monkeypatch.setenv("NNCTL_TEST_NAN_AT", "train:1:2")
    text = _replace("    epochs: 20\n", "    epochs: 1\n")
    code, _, err = cli("train", write_spec(text), "--out", tmp_path / "run", "-q")
    assert code == 2, err
    assert "training diverged:" in err, err
    assert "at epoch 1, batch 2" in err, err
    assert "Lower gan.generator_optimizer.learning_rate and gan.discriminator_optimizer" in err


@pytest.mark.slow
def test_sigmoid_discriminator_outputs_are_probabilities(write_spec):
    from nnctl.modes import placeholder
    from nnctl.spec.validate import load_spec

    logits, _ = load_spec(write_spec(SPEC))
    assert placeholder(logits, None).from_logits
    text = _replace("      - Dense: 1\n", "      - Dense: {units: 1, activation: sigmoid}\n")
    probabilities, _ = load_spec(write_spec(text))
    assert not placeholder(probabilities, None).from_logits


def test_early_stopping_watches_what_a_gan_logs(write_spec, cli):
    watched = SPEC.replace("  batch_size: 128\n", "  batch_size: 128\n  early_stopping: {monitor: "
                           "val_classifier_score, mode: max}\n")  # fmt: skip
    assert cli("validate", write_spec(watched))[0] == 0
    code, _, err = cli("validate", write_spec(watched.replace("val_classifier", "val_accuracy")))
    assert code == 2
    assert "'val_accuracy_score' is never computed; computed: d_loss, g_loss" in err
    assert "add" not in err  # a GAN's metrics are its own, not a list to add to
