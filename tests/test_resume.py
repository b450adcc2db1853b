"""Checkpoints, resume and the run's seal, in-process: what is refused, what is kept, what is said.

Kill-and-resume parity with real processes and signals is in ``test_faults.py``.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from conftest import train_once

from nnctl.training import checkpoint

SPEC = """
name: resumable
seed: 3
data:
  source: digits
  preprocess: {scale: 1/16}
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
train: {epochs: 4, batch_size: 128}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One finished run; tests copy it before changing anything."""
    return train_once(tmp_path_factory, "resumable", SPEC)


@pytest.fixture
def copy(trained, tmp_path):
    """A private copy of the finished run, and its spec."""
    shutil.copytree(trained, tmp_path / "run")
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path / "run"


@pytest.mark.slow
def test_finished_run_is_sealed_with_checkpoints_and_environment(trained):
    names = [c.name for c in checkpoint.committed(trained / "checkpoints")]
    assert names == ["ckpt-e0004-s000000", "ckpt-e0003-s000000", "ckpt-e0002-s000000"]  # keep 3
    assert all(checkpoint.damage(c) is None for c in checkpoint.committed(trained / "checkpoints"))
    sealed = json.loads((trained / "manifest.json").read_text())["sha256"]
    assert set(sealed) == {"spec.yaml", "model.keras", "history.csv", "metrics.json", "run.json"}
    info = json.loads((trained / "run.json").read_text())
    assert {"cpu", "cpu_count", "machine", "numpy", "devices"} <= set(info["environment"])
    assert {"cpu_flags", "onednn"} <= set(info["environment"])
    assert info["task"] == "classification"
    assert info["class_names"][:2] == ["0", "1"]


@pytest.mark.slow
def test_resuming_a_finished_run_changes_nothing(copy, cli):
    before = (copy / "model.keras").read_bytes()
    code, out, err = cli("resume", copy)
    assert code == 0, err
    assert out.strip() == str(copy), err
    assert "already finished" in err
    assert (copy / "model.keras").read_bytes() == before


@pytest.mark.slow
def test_changed_spec_is_refused_with_the_changes_then_forced(copy, cli):
    spec = copy.parent / "spec.yaml"
    spec.write_text(SPEC.replace("epochs: 4", "epochs: 5"))
    code, _, err = cli("train", spec, "--out", copy, "--resume")
    assert code == 2
    assert "train.epochs: 4 -> 5" in err
    assert "--force" in err
    code, _, err = cli("train", spec, "--out", copy, "--resume", "--force", "-q")
    assert code == 0, err
    assert len((copy / "history.csv").read_text().splitlines()) == 1 + 5
    assert yaml.safe_load((copy / "spec.yaml").read_text())["train"]["epochs"] == 5
    resumed = json.loads((copy / "run.json").read_text())["resumed"]
    assert resumed[-1]["forced_changes"] == ["train.epochs: 4 -> 5"]


@pytest.mark.slow
def test_edited_run_spec_is_refused(copy, cli):
    text = (copy / "spec.yaml").read_text().replace("units: 16", "units: 17")
    (copy / "spec.yaml").write_text(text)
    code, _, err = cli("resume", copy)
    assert code == 2
    assert "model.layers[0].Dense.units: 16 -> 17" in err


@pytest.mark.slow
def test_changed_data_is_refused(tmp_path, write_spec, cli):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(size=(120, 3)), rng.integers(0, 2, 120)])
    np.savetxt(tmp_path / "d.csv", data, delimiter=",", header="a,b,c,y", comments="")
    digits = "source: digits\n  preprocess: {scale: 1/16}"
    csv_source = "source: csv\n  path: d.csv\n  target: y"
    spec = write_spec(SPEC.replace(digits, csv_source).replace("units: 10", "units: 2"))
    assert cli("train", spec, "--out", tmp_path / "run", "-q")[0] == 0
    data[0, 0] += 1
    np.savetxt(tmp_path / "d.csv", data, delimiter=",", header="a,b,c,y", comments="")
    code, _, err = cli("train", spec, "--out", tmp_path / "run", "--resume")
    assert code == 2
    assert "data fingerprint" in err
    assert "the data changed" in err


@pytest.mark.slow
def test_resume_without_a_checkpoint_is_refused(tmp_path, write_spec, cli):
    code, _, err = cli("train", write_spec(SPEC), "--out", tmp_path / "nothing", "--resume")
    assert code == 2
    assert "no such run directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli("train", write_spec(SPEC), "--out", tmp_path / "empty", "--resume")
    assert code == 2
    assert "no checkpoint to resume from" in err


@pytest.mark.slow
def test_no_intact_checkpoint_is_refused_never_a_fresh_start(copy, cli):
    (copy / "manifest.json").unlink()
    for ckpt in checkpoint.committed(copy / "checkpoints"):
        (ckpt.path / "state.json").write_text("{}")
    history = (copy / "history.csv").read_text()
    code, _, err = cli("resume", copy)
    assert code == 2
    assert "no intact checkpoint" in err
    assert "state.json" in err
    assert (copy / "history.csv").read_text() == history


@pytest.mark.slow
@pytest.mark.parametrize("command", ["evaluate", "export", "predict"])
def test_tampered_run_is_refused(copy, cli, command):
    extra = ["--input", copy / "x.npy"] if command == "predict" else []
    np.save(copy / "x.npy", np.zeros((2, 64), dtype="float32"))
    model = copy / "model.keras"
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    code, _, err = cli(command, copy, *extra)
    assert code == 2
    assert "model.keras: damaged or modified since training" in err
    (copy / "manifest.json").unlink()
    code, _, err = cli(command, copy, *extra)
    assert code == 2
    assert (
        f"training did not finish (no manifest.json); continue it with: nnctl resume {copy}" in err
    )


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        ("{name: sgd, clipnorm: -1.0}", "optimizer.clipnorm: expected a number > 0, got -1.0"),
        (
            "{name: adam, clipvalue: 0}",
            "optimizer.clipvalue: expected a number > 0, got 0",
        ),
        (
            "{name: adam, clipnorm: 1.0, global_clipnorm: 1.0}",
            "clipnorm and global_clipnorm both clip",
        ),
    ],
)
def test_gradient_clipping_is_validated(tmp_path, write_spec, cli, optimizer, message):
    spec = write_spec(
        SPEC.replace("metrics: [accuracy]", f"metrics: [accuracy]\noptimizer: {optimizer}")
    )
    code, _, err = cli("train", spec, "--out", tmp_path / "run")
    assert code == 2
    assert message in err


@pytest.mark.slow
def test_gradient_clipping_reaches_the_optimizer(tmp_path, write_spec, cli):
    from nnctl.keras_env import import_keras

    text = SPEC.replace(
        "metrics: [accuracy]", "metrics: [accuracy]\noptimizer: {name: sgd, global_clipnorm: 0.5}"
    )
    assert cli("train", write_spec(text), "--out", tmp_path / "run", "-q")[0] == 0
    model = import_keras().saving.load_model(tmp_path / "run" / "model.keras")
    assert model.optimizer.global_clipnorm == 0.5


@pytest.mark.slow
def test_a_second_training_process_on_the_run_is_refused(copy, cli):
    from nnctl.rundir import RunDir

    with RunDir(copy).lock():
        code, _, err = cli("train", copy.parent / "spec.yaml", "--out", copy, "--resume", "--force")
    assert code == 2
    assert "another nnctl process is training here" in err


@pytest.mark.slow
def test_force_starts_over_without_old_checkpoints(copy, cli):
    (copy / "mine.txt").write_text("kept")
    code, _, err = cli("train", copy.parent / "spec.yaml", "--out", copy, "--force", "-q")
    assert code == 0, err
    assert (copy / "mine.txt").read_text() == "kept"
    assert len(checkpoint.committed(copy / "checkpoints")) == 3


@pytest.mark.slow
def test_checkpoint_every_steps_and_keep_last(tmp_path, write_spec, cli):
    text = SPEC.replace(
        "batch_size: 128}", "batch_size: 128, checkpoint: {every_steps: 4, keep_last: 10}}"
    )
    run = tmp_path / "run"
    assert cli("train", write_spec(text), "--out", run, "-q")[0] == 0
    names = [c.name for c in checkpoint.committed(run / "checkpoints")]
    # 11 steps per epoch: global steps 4, 8, 12, 16, ... -> e0 s4, e0 s8, e1 s1, e1 s5, ...
    assert names[-3:] == ["ckpt-e0002-s000000", "ckpt-e0001-s000009", "ckpt-e0001-s000005"]
    assert len(names) == 10  # 15 written, with the epoch-end and initial ones


# ----------------------------------------------------------------------------- checkpoint.py
def _write(directory, epoch, step=0):
    return checkpoint.write(directory, epoch, step, {"w": np.arange(3.0)}, {"epoch": epoch})


def test_checkpoint_round_trip_and_damage_detection(tmp_path):
    ckpt = _write(tmp_path, 2, 5)
    assert ckpt.name == "ckpt-e0002-s000005"
    assert checkpoint.damage(ckpt) is None
    arrays, state = checkpoint.read(ckpt)
    assert np.array_equal(arrays["w"], np.arange(3.0))
    assert state == {"epoch": 2}
    data = ckpt.path / "arrays.npz"
    data.write_bytes(data.read_bytes()[:-1])
    assert (
        checkpoint.damage(ckpt)
        == f"{data}: truncated or corrupt (sha256 differs from its manifest)"
    )
    (ckpt.path / "manifest.json").unlink()
    assert "manifest.json: missing or unreadable" in checkpoint.damage(ckpt)


def test_latest_sets_damaged_checkpoints_aside_and_warns(tmp_path, capsys):
    _write(tmp_path, 1)
    bad = _write(tmp_path, 2)
    (bad.path / "state.json").write_text("{}")
    assert checkpoint.latest(tmp_path).name == "ckpt-e0001-s000000"
    err = capsys.readouterr().err
    assert f"warning: checkpoint ckpt-e0002-s000000 is damaged: {bad.path}/state.json" in err
    assert not bad.path.exists()
    assert (tmp_path / "ckpt-e0002-s000000.damaged").is_dir()


def test_retention_keeps_the_newest_and_the_pinned(tmp_path):
    pinned = _write(tmp_path, 1)
    for epoch in range(2, 6):
        _write(tmp_path, epoch)
    checkpoint.retain(tmp_path, 2, pinned)
    assert [c.epoch for c in checkpoint.committed(tmp_path)] == [5, 4, 1]
    checkpoint.retain(tmp_path, 2)
    assert [c.epoch for c in checkpoint.committed(tmp_path)] == [5, 4]


def test_failed_checkpoint_write_leaves_nothing(tmp_path, monkeypatch):
    def broken(file, **arrays):
        file.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, 1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_keys_a_newer_nnctl_adds_with_defaults_are_not_changes(trained):
    from nnctl.training.run import _as_today, spec_changes

    current = yaml.safe_load((trained / "spec.yaml").read_text())
    older = json.loads(json.dumps(current))
    del older["train"]["shuffle"]  # as if written before `shuffle` existed (default: true)
    assert spec_changes(older, current) == ["train.shuffle: '<absent>' -> True"]
    assert spec_changes(_as_today(older), current) == []
    older["train"]["shuffle"] = False
    assert spec_changes(_as_today(older), current) == ["train.shuffle: False -> True"]
