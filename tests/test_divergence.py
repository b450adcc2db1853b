"""The divergence guard: a non-finite loss, metric or weight stops training at once, names the
step, keeps the last good checkpoint and writes no model; on every CPU.

Some CPUs' oneDNN kernels (AVX-512 ones) fuse MatMul + bias + ReLU and turn NaN into 0, so a
NaN batch may give a finite loss while the weights become NaN: the tests assert what holds on
both kinds, and also inject a NaN weight directly (``weights:`` in ``NNCTL_TEST_NAN_AT``).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from test_actor_critic import TINY as TINY_AGENT
from test_gan import SPEC as TINY_GAN
from test_resume import SPEC as CLASSIFIER  # digits, Dense 16 relu -> Dense 10, 4 epochs

from nnctl.errors import UserError
from nnctl.training import checkpoint

pytestmark = pytest.mark.slow  # every test trains (or builds) a model

REGRESSION = """
name: diverging_regression
seed: 3
data: {source: make_regression, n_samples: 400, n_features: 8, noise: 1.0}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: 1
loss: mse
train:
  epochs: 6
  batch_size: 64
  validation: 0.2
  early_stopping: {patience: 3}
"""

# the first Dense layer's kernel (Keras numbers layer names per process: dense, dense_2, ...)
FIRST_KERNEL = re.compile(r"weights became NaN or infinite \(dense(_\d+)?/kernel")


PER_CALL = 16  # steps_per_call: auto, with no every_steps


def _assert_names_batch(err: str, epoch: int, batch: int) -> None:
    """The message names ``batch``, or a batch of the compiled call that holds it: weights are
    checked once a call (a range of batches is named), and the test hook poisons them before
    the call (the call's first batch is where they turned NaN)."""
    found = re.search(
        rf"at epoch {epoch}, batch (\d+)(?: \(or a later one up to batch (\d+): one check per "
        r"call\))?",
        err,
    )
    assert found, err
    first, last = int(found[1]), int(found[2] or found[1])
    assert 0 <= batch - first < PER_CALL, found[0]
    assert last <= first + PER_CALL - 1, found[0]


def _train(cli, write_spec, text: str, run, monkeypatch, nan_at: str):
    monkeypatch.setenv("NNCTL_TEST_NAN_AT", nan_at)
    return cli("train", write_spec(text), "--out", run, "-q")


def _assert_stopped_keeping(run, err: str, checkpoint_name: str) -> None:
    """The last good checkpoint is the one named, intact and named in the message; no model."""
    newest = checkpoint.committed(run / "checkpoints")[0]
    assert newest.name == checkpoint_name
    assert checkpoint.damage(newest) is None
    assert f"the last good checkpoint, {newest.path}, is intact" in err
    assert not (run / "model.keras").exists()
    assert not (run / "manifest.json").exists()
    arrays, _ = checkpoint.read(newest)
    assert all(np.isfinite(a).all() for a in arrays.values() if a.dtype.kind == "f")


@pytest.mark.parametrize("nan_at", ["train:2:3", "weights:2:3"])
def test_a_nan_batch_or_weight_stops_at_that_batch(tmp_path, write_spec, cli, monkeypatch, nan_at):
    """A NaN batch's loss is NaN on some CPUs and finite on others; its weights are NaN on all."""
    run = tmp_path / "run"
    code, _, err = _train(cli, write_spec, CLASSIFIER, run, monkeypatch, nan_at)
    assert code == 2, err
    assert "training diverged: " in err
    _assert_names_batch(err, 2, 3)
    assert FIRST_KERNEL.search(err), err
    assert "Lower optimizer.learning_rate" in err
    _assert_stopped_keeping(run, err, "ckpt-e0001-s000000")
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 1


def test_a_non_finite_validation_metric_is_never_the_best_epoch(
    tmp_path, write_spec, cli, monkeypatch
):
    run = tmp_path / "run"
    code, _, err = _train(cli, write_spec, REGRESSION, run, monkeypatch, "validation:3")
    assert code == 2, err
    assert "val_loss became nan at epoch 3 (validation)" in err
    _, state = checkpoint.read(checkpoint.committed(run / "checkpoints")[0])
    stopping = state["callbacks"]["early_stopping"]
    assert state["epoch"] == 2
    assert stopping["best_epoch"] == 1
    assert np.isfinite(stopping["best"])


def test_a_gan_whose_weights_turn_nan_stops(tmp_path, write_spec, cli, monkeypatch):
    text = TINY_GAN.replace("    epochs: 20\n", "    epochs: 2\n")
    run = tmp_path / "run"
    code, _, err = _train(cli, write_spec, text, run, monkeypatch, "weights:1:2")
    assert code == 2, err
    assert "weights became NaN or infinite (" in err
    _assert_names_batch(err, 1, 2)
    assert "Lower gan.generator_optimizer.learning_rate" in err
    _assert_stopped_keeping(run, err, "ckpt-e0000-s000000")


def test_an_agent_whose_weights_turn_nan_stops_in_that_episode(
    tmp_path, write_spec, cli, monkeypatch
):
    run = tmp_path / "run"
    code, _, err = _train(cli, write_spec, TINY_AGENT, run, monkeypatch, "weights:3")
    assert code == 2, err
    assert "weights became NaN or infinite (" in err
    assert "in episode 3" in err
    assert "set agent.normalize_advantages" in err
    _assert_stopped_keeping(run, err, "ckpt-e0002-s000000")


def test_no_checkpoint_is_written_with_non_finite_weights(tmp_path):
    import keras

    from nnctl.training.state import Checkpointer, TrainState, named_variables

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    checkpointer = Checkpointer(tmp_path, model, {}, keep=2, extra={})
    good = checkpointer.save(TrainState())
    model.layers[0].bias.assign([np.inf, 0.0])
    with pytest.raises(UserError) as error:
        checkpointer.save(TrainState(epoch=1))
    bias = next(path for path, v in named_variables(model).items() if v is model.layers[0].bias)
    assert bias == "dense/bias"  # the checkpoint's path, without Keras's per-process count
    assert str(error.value) == (
        f"training diverged: {bias} became NaN or infinite, so the checkpoint at the end of "
        f"epoch 1 was not written; the last good checkpoint, {good.path}, is intact"
    )
    assert [c.name for c in checkpoint.committed(tmp_path)] == [good.name]


def test_run_json_records_the_cpu_flags_that_pick_kernels(tmp_path, write_spec, cli):
    text = CLASSIFIER.replace("epochs: 4", "epochs: 1")
    assert cli("train", write_spec(text), "--out", tmp_path / "run", "-q")[0] == 0
    environment = json.loads((tmp_path / "run" / "run.json").read_text())["environment"]
    flags = environment["cpu_flags"]
    assert flags == sorted(flags)
    assert all(" " not in flag for flag in flags)
    if environment["machine"] in ("x86_64", "AMD64"):
        assert "sse2" in flags


def test_nan_weights_behind_a_finite_loss_still_stop(tmp_path, write_spec, cli, monkeypatch):
    """What AVX-512 CPUs show: the loss stays finite while a weight is NaN. A BatchNormalization
    moving mean is off the training forward pass, so a NaN there leaves the loss finite on
    every CPU; the guard must still stop at that batch."""
    import nnctl.training.loop

    def poison_moving_mean(model, epoch, batch):
        if (epoch, batch) == (1, 2):
            mean = next(v for v in model.variables if v.path.endswith("moving_mean"))
            mean.assign(np.full(mean.shape, np.nan, dtype="float32"))

    monkeypatch.setattr(nnctl.training.loop, "poison_weights", poison_moving_mean)
    text = CLASSIFIER.replace(
        "    - Dense: {units: 10", "    - BatchNormalization\n    - Dense: {units: 10"
    )
    run = tmp_path / "run"
    code, _, err = cli("train", write_spec(text), "--out", run, "-q")
    assert code == 2, err
    assert "loss became" not in err
    assert "accuracy became" not in err
    assert re.search(r"weights became NaN or infinite \([a-z_0-9]+/moving_mean\) at epoch 2", err)
    _assert_names_batch(err, 2, 3)
    _assert_stopped_keeping(run, err, "ckpt-e0001-s000000")
