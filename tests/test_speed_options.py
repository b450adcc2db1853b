"""``train.jit_compile``, ``train.mixed_precision`` and ``train.deterministic``: each takes effect,
run.json records them, and the modes whose training step they cannot reach refuse them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS_TRAINING, ROOT

from nnctl.errors import SpecError
from nnctl.spec.schema.train import TrainSpec
from nnctl.spec.validate import load_spec
from nnctl.training import checkpoint

# digits to 0.97 test accuracy in 5 epochs (0.97 in float32, float16 and bfloat16 alike)
ACCURATE = (
    DIGITS_TRAINING.replace("units: 16", "units: 64")
    .replace("epochs: 1, batch_size: 128", "epochs: 5, batch_size: 64")
    .replace("loss:", "optimizer: {name: adam, learning_rate: 0.01}\nloss:")
)


def test_defaults_are_float32_without_xla_and_deterministic():
    settings = TrainSpec()
    assert (settings.jit_compile, settings.mixed_precision, settings.deterministic) == (
        False,
        "none",
        True,
    )


@pytest.mark.parametrize(
    ("spec", "override", "path", "words"),
    [
        ("actor_critic_cartpole", "train.jit_compile=true", "train.jit_compile", "as written"),
        ("actor_critic_cartpole", "train.mixed_precision=mixed_float16", "train.mixed_precision",
         "does not apply to train.mode actor_critic"),
        ("gan_digits", "train.mixed_precision=mixed_bfloat16", "train.mixed_precision",
         "no loss scaling"),
        ("bilstm_text", "train.jit_compile=true", "model.layers[0].TextVectorization",
         "XLA compiles no string ops"),
        ("quickstart", "train.mixed_precision=float16", "train.mixed_precision", "mixed_float16"),
    ],
)  # fmt: skip
def test_an_option_that_cannot_apply_is_a_located_error(spec, override, path, words):
    with pytest.raises(SpecError) as caught:
        load_spec(ROOT / "specs" / f"{spec}.yaml", [override])
    found = [p for p in caught.value.problems if p.path == path and words in p.message]
    assert found, [p.render() for p in caught.value.problems]
    assert found[0].file in (f"--set {override}", str(ROOT / "specs" / f"{spec}.yaml"))


# ------------------------------------------------------------------------------------ training
def _train(cli, write_spec, run: Path, text: str, *overrides: str) -> dict:
    """Train ``text`` with ``overrides`` into ``run``; return run.json."""
    sets = [arg for override in overrides for arg in ("--set", override)]
    code, _, err = cli("train", write_spec(text), "--out", run, "-q", *sets)
    assert code == 0, err
    return json.loads((run / "run.json").read_text())


def _weights(run: Path) -> list[np.ndarray]:
    arrays, meta = checkpoint.read(checkpoint.committed(run / "checkpoints")[0])
    return [arrays[f"var_{i:04d}"] for i in range(len(meta["variables"]))]


@pytest.mark.slow
def test_jit_compile_reaches_the_compiled_steps_and_runs_stay_reproducible(
    tmp_path, write_spec, cli, monkeypatch
):
    import tensorflow as tf

    compiled = []
    function = tf.function

    def recording(fn=None, **kwargs):
        made = function(fn, **kwargs)
        compiled.append((fn.__name__, kwargs.get("jit_compile"), made))
        return made

    monkeypatch.setattr(tf, "function", recording)
    text = DIGITS_TRAINING.replace("batch_size: 128", "batch_size: 128, steps_per_call: 4")
    infos = [_train(cli, write_spec, tmp_path / run, text, "train.jit_compile=true")
             for run in ("a", "b")]  # fmt: skip
    loop_functions = {
        name: jit for name, jit, _ in compiled if name in ("run_steps", "_train_step")
    }
    # the call gathers its batches and loops over them; XLA compiles each step (as fit() does)
    assert loop_functions == {"run_steps": None, "_train_step": True}
    step = next(made for name, _, made in compiled if name == "_train_step")
    assert step.experimental_get_tracing_count() > 0  # the compiled step is the one that ran
    assert infos[0]["engine"] == {
        "deterministic": True,
        "jit_compile": True,
        "mixed_precision": "none",
    }
    for a, b in zip(_weights(tmp_path / "a"), _weights(tmp_path / "b"), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_a_gan_trains_under_xla(tmp_path, write_spec, cli):
    """A GAN's train step (two optimizers, fresh noise from a seed generator) compiles."""
    from test_gan import SPEC

    text = SPEC[: SPEC.index("  scorer:")] + SPEC[SPEC.index("train:") :]  # no scorer to fit
    text = text.replace("epochs: 3", "epochs: 1")
    info = _train(cli, write_spec, tmp_path / "run", text, "train.jit_compile=true")
    assert info["engine"]["jit_compile"] is True
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert all(np.isfinite(list(metrics["test"].values())))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("policy", "compute", "scaled"),
    [("mixed_float16", "float16", True), ("mixed_bfloat16", "bfloat16", False)],
)
def test_mixed_precision_computes_hidden_layers_in_16_bits_and_still_learns(
    tmp_path, write_spec, cli, policy, compute, scaled
):
    import keras

    from nnctl.modes import mode_of
    from nnctl.rundir import RunDir

    path = write_spec(ACCURATE)
    spec, _ = load_spec(path, [f"train.mixed_precision={policy}"])
    model = mode_of(spec).trainer(spec, tmp_path, RunDir(tmp_path / "unused")).model
    hidden, output = model.get_layer(index=2), model.layers[-1]
    assert (hidden.compute_dtype, hidden.variable_dtype) == (compute, "float32")
    assert output.compute_dtype == "float32"
    assert model.outputs[0].dtype == "float32"  # softmax and loss in float32
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) is scaled

    info = _train(cli, write_spec, tmp_path / "run", ACCURATE, f"train.mixed_precision={policy}")
    assert info["engine"]["mixed_precision"] == policy
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.95


@pytest.mark.slow
def test_deterministic_is_recorded_and_gives_the_same_weights(tmp_path, write_spec, cli):
    fast = _train(cli, write_spec, tmp_path / "fast", DIGITS_TRAINING, "train.deterministic=false")
    assert fast["engine"]["deterministic"] is False
    # the switch is process-wide: the next run turns it back on
    runs = [tmp_path / "a", tmp_path / "b"]
    assert all(_train(cli, write_spec, run, DIGITS_TRAINING)["engine"]["deterministic"]
               for run in runs)  # fmt: skip
    for a, b in zip(*map(_weights, runs), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.slow
def test_a_mixed_float16_run_resumes_to_the_same_weights(tmp_path, write_spec, cli):
    """The loss scale and its step counter are checkpointed with the inner optimizer's slots."""
    import shutil

    text = DIGITS_TRAINING.replace("epochs: 1", "epochs: 2")
    _train(cli, write_spec, tmp_path / "run", text, "train.mixed_precision=mixed_float16")
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    shutil.rmtree(tmp_path / "copy" / "checkpoints" / "ckpt-e0002-s000000")
    sets = ("--set", "train.mixed_precision=mixed_float16")
    code, _, err = cli("train", tmp_path / "spec.yaml", "--out", tmp_path / "copy", "--resume",
                       "-q", *sets)  # fmt: skip
    assert code == 0, err
    _, meta = checkpoint.read(checkpoint.committed(tmp_path / "copy" / "checkpoints")[0])
    assert {"optimizer/dynamic_scale", "optimizer/inner/iteration"} <= set(meta["variables"])
    for a, b in zip(_weights(tmp_path / "run"), _weights(tmp_path / "copy"), strict=True):
        assert np.array_equal(a, b)
