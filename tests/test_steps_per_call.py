"""train.steps_per_call: several steps per compiled call train exactly as one step per call, and
everything that acts between calls (checkpoints, signals, the divergence guard) still does."""

from __future__ import annotations

import re
import signal

import numpy as np
import pytest
from conftest import finish, interrupted, spawn
from test_faults import SPEC as FAULTS  # Dropout, reduce-on-plateau, early stopping; 21 steps
from test_faults import assert_same_run
from test_resume import SPEC as CLASSIFIER  # digits, Dense 16 -> Dense 10, batch 128

from nnctl.spec.validate import load_spec

pytestmark = pytest.mark.slow  # trains, or imports the training loop (Keras)

TANH = CLASSIFIER.replace("activation: relu", "activation: tanh").replace(
    "epochs: 4", "epochs: 3, steps_per_call: 4"
)  # no ReLU: a NaN batch makes the loss NaN on every CPU (no fused ReLU to hide it)


def with_train(spec: str, **keys) -> str:
    return spec + "".join(f"  {key}: {value}\n" for key, value in keys.items())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The faults spec at 1 and 4 steps per call, and at 4 killed mid-epoch then resumed."""
    root = tmp_path_factory.mktemp("per_call")
    specs = {}
    for name, k in (("one", 1), ("four", 4), ("killed", 4)):
        specs[name] = root / f"{name}.yaml"
        specs[name].write_text(with_train(FAULTS, steps_per_call=k, checkpoint="{every_steps: 8}"))
    processes = {name: spawn("train", specs[name], "--out", root / name, "-q") for name in specs}
    processes.pop("killed").kill()  # the killed run is played below, with its pause point
    results = {name: finish(p) for name, p in processes.items()}
    # 21 steps an epoch: calls end at global steps 4, 8, ..., 20, 21 | 24 (epoch 2, batch 3),
    # 28, 32 (batch 11, the call of the 30th step: killed before its checkpoint); every_steps 8
    # saved batch 3 (global step 24)
    results["killed"] = interrupted(
        ["train", specs["killed"], "--out", root / "killed", "-q"], "step:30", signal.SIGKILL,
        root / "killed.ready",
    )  # fmt: skip
    results["resumed"] = finish(spawn("resume", root / "killed", "-q"))
    return root, results


def test_several_steps_per_call_train_bitwise_as_one(runs):
    """Measured: the same kernels run in the same order, so 4 steps per call give bitwise the
    history, metrics and weights of 1 (on this CPU; the test would catch it otherwise)."""
    root, results = runs
    assert results["one"]["rc"] == 0, results["four"]["err"]
    assert results["four"]["rc"] == 0, results["four"]["err"]
    assert_same_run(root / "four", root / "one")


def test_killed_mid_epoch_with_several_steps_per_call_resumes_bitwise(runs):
    root, results = runs
    assert results["killed"]["rc"] == -signal.SIGKILL
    resumed = results["resumed"]
    assert resumed["rc"] == 0, resumed["err"][-2000:]
    assert "from ckpt-e0001-s000003 (epoch 2 of 6, after batch 3)" in resumed["err"]
    assert_same_run(root / "killed", root / "four")


def test_sigterm_finishes_the_call_and_commits_its_end(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(with_train(FAULTS, steps_per_call=4))
    run = tmp_path / "run"
    result = interrupted(["train", spec, "--out", run, "-q"], "step:2", signal.SIGTERM,
                         tmp_path / "ready")  # fmt: skip
    assert result["rc"] == 143, result["err"][-2000:]
    assert "SIGTERM received: stopped at epoch 1, batch 4 " in result["err"]
    assert (run / "checkpoints" / "ckpt-e0000-s000004").is_dir()


def test_a_signal_after_an_epochs_last_call_resumes_into_the_next_epoch(tmp_path):
    """Stopped after batch 21 of 21 (the epoch's last call, before its end): the resumed run has
    no call left in that epoch, ends it and goes on."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(FAULTS.replace("epochs: 6", "epochs: 2"))
    run = tmp_path / "run"
    result = interrupted(["train", spec, "--out", run, "-q"], "step:21", signal.SIGTERM,
                         tmp_path / "ready")  # fmt: skip
    assert result["rc"] == 143, result["err"][-2000:]
    assert "SIGTERM received: stopped at epoch 1, batch 21 " in result["err"]
    resumed = finish(spawn("resume", run, "-q"))
    assert resumed["rc"] == 0, resumed["err"][-2000:]
    assert "(epoch 1 of 2, after batch 21)" in resumed["err"]
    assert (run / "model.keras").is_file()


@pytest.mark.parametrize(
    ("nan_at", "named"),
    [
        ("train:2:3", "at epoch 2, batch 3"),  # the loss, inside the call of batches 2-5
        ("weights:2:3", "at epoch 2, batch 2"),  # NaN weights before the call: its first loss
    ],
)
def test_the_guard_names_the_batch_or_the_call(
    tmp_path, write_spec, cli, monkeypatch, nan_at, named
):
    """11 steps an epoch at 4 per call: epoch 2's calls are batches 1, 2-5, 6-9, 10, 11."""
    monkeypatch.setenv("NNCTL_TEST_NAN_AT", nan_at)
    code, _, err = cli("train", write_spec(TANH), "--out", tmp_path / "run", "-q")
    assert code == 2, err
    assert "training diverged: " in err, err
    assert f"{named};" in err, err
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_gan_trains_with_several_steps_per_call_bitwise_as_with_one(tmp_path, cli):
    from test_gan import SPEC as GAN

    from nnctl.keras_env import import_keras

    weights = {}
    for k in (1, 4):
        text = GAN.replace("  epochs: 3\n", f"  epochs: 2\n  steps_per_call: {k}\n")
        text = text.replace("    epochs: 20\n", "    epochs: 2\n")  # the scorer's
        (tmp_path / f"{k}.yaml").write_text(text)
        code, _, err = cli("train", tmp_path / f"{k}.yaml", "--out", tmp_path / str(k), "-q")
        assert code == 0, err
        model = import_keras().saving.load_model(tmp_path / str(k) / "model.keras")
        weights[k] = model.get_weights()
    history = [(tmp_path / str(k) / "history.csv").read_text() for k in (1, 4)]
    assert history[0] == history[1]
    assert all(np.array_equal(a, b) for a, b in zip(weights[1], weights[4], strict=True))


def test_every_steps_must_be_a_multiple_of_steps_per_call(write_spec, cli):
    text = with_train(FAULTS, steps_per_call=4, checkpoint="{every_steps: 10}")
    code, _, err = cli("validate", write_spec(text))
    assert code == 2
    assert re.search(r"spec\.yaml:\d+:\d+: error: train\.checkpoint\.every_steps: ", err), err
    assert "multiple of train.steps_per_call (4)" in err
    assert "use 8 or 12" in err


@pytest.mark.parametrize(
    ("keys", "expected"),
    [({}, 16), ({"checkpoint": "{every_steps: 12}"}, 4), ({"steps_per_call": 1}, 1),
     ({"steps_per_call": 3}, 3), ({"steps_per_call": "auto", "checkpoint": "{every_steps: 7}"}, 1)],
)  # fmt: skip
def test_auto_divides_every_steps_and_is_the_default(write_spec, keys, expected):
    from nnctl.training.supervised import steps_per_call

    spec, _ = load_spec(write_spec(with_train(FAULTS, **keys)))
    assert steps_per_call(spec) == expected


@pytest.mark.parametrize(
    ("samples", "per_call", "calls"),
    [
        (1293, 4, [4, 4, 4, 4, 4, 1, 3, 4, 4, 4, 4, 1, 1]),  # 20 full batches of 64, then 13
        (1280, 4, [4] * 10),
        (1293, 1, [1] * 42),
    ],
)
def test_calls_end_at_multiples_of_steps_per_call_across_epochs(samples, per_call, calls):
    from nnctl.training.loop import Batches

    batches = Batches(np.zeros((samples, 1)), np.zeros(samples), None, 64, 0, True)
    made, global_step = [], 0
    for _ in range(2):
        step = 0
        while step < batches.steps:
            n = batches.call_length(step, global_step, per_call)
            made.append(n)
            step, global_step = step + n, global_step + n
    assert made == calls
