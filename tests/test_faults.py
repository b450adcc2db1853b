"""Real processes, real signals: a run killed at any moment and resumed ends exactly as an
uninterrupted run with the same seed (bitwise on CPU: history.csv, metrics.json, every weight).

Each scenario starts ``python -m nnctl train``, which the test hook ``NNCTL_TEST_PAUSE_AT`` parks
at an exact moment (see ``nnctl/testhooks.py``), signals it there, then resumes the run. The
scenarios run two at a time (the whole set takes about two minutes on two cores).
"""

from __future__ import annotations

import json
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import finish, interrupted, spawn

pytestmark = pytest.mark.slow  # kills and resumes real training processes

# Dropout (random state), reduce-on-plateau (lr changes at epochs 3 and 4) and early stopping
# (stops after epoch 5 of 6, restores epoch 3's weights): every kind of state must survive.
SPEC = """
name: faults
seed: 7
data:
  source: digits
  preprocess: {scale: 1/16}
model:
  layers:
    - Dense: {units: 32, activation: relu}
    - Dropout: 0.2
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
optimizer:
  name: adam
  learning_rate: 0.01
  schedule: {type: reduce_on_plateau, monitor: val_loss, patience: 1, min_delta: 0.2}
train:
  epochs: 6
  batch_size: 64
  early_stopping: {monitor: val_accuracy, patience: 2, min_delta: 0.02}
"""
STEPS = 21  # ceil(1293 training samples / 64)


@dataclass
class Scenario:
    """Start training, park it at ``pause``, send ``signum``, then resume (unless ``resume`` is
    None). ``corrupt``: also resume a copy of the killed run, its newest checkpoint truncated."""

    id: str
    pause: str
    signum: int = signal.SIGKILL
    exit_code: int = -signal.SIGKILL
    resume: str | None = "resume"  # or "train": nnctl train SPEC --out RUN --resume
    corrupt: bool = False
    every_steps: int | None = None  # train.checkpoint.every_steps
    results: dict = field(default_factory=dict)


SCENARIOS = [
    Scenario("first-epoch", "step:5"),  # resumes from the checkpoint written before step 1
    # steps_per_call auto (16): calls end at global steps 16, 21 | 32, 42 | 48, ...; a pause at
    # step N comes after the call that runs it, so step:30 is epoch 2, batch 11 (global step 32)
    Scenario("mid-epoch", "step:30"),  # epoch 2, batch 11: resumes from epoch 1's checkpoint
    Scenario("between-epochs", "epoch:3", corrupt=True),
    Scenario("checkpoint-write", "checkpoint-write:3"),  # epoch 2's checkpoint, half-written
    Scenario("after-training", "finalize"),  # trained, model not yet written
    Scenario("sigterm", "step:30", signal.SIGTERM, 143, resume="train"),
    Scenario("sigint", "step:45", signal.SIGINT, 130, resume=None),  # epoch 3, batch 6
    Scenario("step-checkpoint", "step:30", every_steps=8),  # resumes from batch 3's checkpoint
]
RESUMED = [s for s in SCENARIOS if s.resume] + [Scenario("corrupt-latest", "")]


def play(scenario: Scenario, spec: Path, root: Path) -> dict:
    """Kill, then resume; return the results of a corrupted copy's resume, if any."""
    run = root / scenario.id
    if scenario.every_steps:
        spec = root / f"{scenario.id}.yaml"
        spec.write_text(SPEC + f"  checkpoint: {{every_steps: {scenario.every_steps}}}\n")
    first = interrupted(
        ["train", spec, "--out", run, "--quiet"], scenario.pause, scenario.signum,
        root / f"{scenario.id}.ready",
    )  # fmt: skip
    scenario.results["killed"] = first
    scenario.results["checkpoints"] = sorted(p.name for p in (run / "checkpoints").iterdir())
    if scenario.corrupt:
        shutil.copytree(run, root / "corrupt-latest")
    if scenario.resume == "train":
        scenario.results["resumed"] = finish(spawn("train", spec, "--out", run, "--resume", "-q"))
    elif scenario.resume:
        scenario.results["resumed"] = finish(spawn("resume", run, "--quiet"))
    if not scenario.corrupt:
        return {}
    newest = max((root / "corrupt-latest" / "checkpoints").glob("ckpt-*")) / "arrays.npz"
    newest.write_bytes(newest.read_bytes()[:100])
    return {"damaged": newest, "resumed": finish(spawn("resume", root / "corrupt-latest", "-q"))}


def export_killed(reference: Path, root: Path) -> dict:
    target = root / "exported"
    result = interrupted(
        ["export", reference, "--out", target], "export-write", signal.SIGKILL,
        root / "export.ready",
    )  # fmt: skip
    result["leftovers"] = sorted(p.name for p in root.glob(".exported.*"))
    return result


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """Every scenario played, two processes at a time, and one uninterrupted run."""
    root = tmp_path_factory.mktemp("faults")
    spec = root / "faults.yaml"
    spec.write_text(SPEC)
    with ThreadPoolExecutor(max_workers=2) as pool:
        reference = pool.submit(
            lambda: finish(spawn("train", spec, "--out", root / "reference", "-q"))
        )
        jobs = [pool.submit(play, scenario, spec, root) for scenario in SCENARIOS]
        reference = reference.result()
        exported = pool.submit(export_killed, root / "reference", root)
        corrupt = [r for job in jobs if (r := job.result())]
    RESUMED[-1].results.update(corrupt[0])
    return {"root": root, "reference": reference, "export": exported.result()}


def weights(run: Path) -> list[np.ndarray]:
    from nnctl.keras_env import import_keras

    return import_keras().saving.load_model(run / "model.keras").get_weights()


def assert_same_run(run: Path, reference: Path) -> None:
    """Bitwise: the history, the final metrics and every weight."""
    assert (run / "history.csv").read_bytes() == (reference / "history.csv").read_bytes()
    assert json.loads((run / "metrics.json").read_text()) == json.loads(
        (reference / "metrics.json").read_text()
    )
    for mine, theirs in zip(weights(run), weights(reference), strict=True):
        assert np.array_equal(mine, theirs)


def test_uninterrupted_run_succeeds(played):
    assert played["reference"]["rc"] == 0, played["reference"]["err"][-2000:]
    history = (played["root"] / "reference" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 5, "early stopping should end the reference run after epoch 5"


def test_same_seed_runs_are_identical(played):
    """``after-training`` trained all its epochs in one process, uninterrupted (the resume only
    wrote the model from the final checkpoint): a second run with the same seed."""
    assert_same_run(played["root"] / "after-training", played["root"] / "reference")
    assert "learning_rate" in (played["root"] / "reference" / "history.csv").read_text()


@pytest.mark.parametrize("scenario", RESUMED, ids=lambda s: s.id)
def test_killed_run_resumes_to_the_uninterrupted_result(played, scenario):
    resumed = scenario.results["resumed"]
    if "killed" in scenario.results:
        killed = scenario.results["killed"]
        assert killed["rc"] == scenario.exit_code, killed["err"][-2000:]
        assert "Traceback" not in killed["err"]
    assert resumed["rc"] == 0, resumed["err"][-2000:]
    assert "Traceback" not in resumed["err"]
    assert_same_run(played["root"] / scenario.id, played["root"] / "reference")


def test_kill_during_checkpoint_write_leaves_only_committed_checkpoints(played):
    (scenario,) = [s for s in SCENARIOS if s.id == "checkpoint-write"]
    # writes: initial, epoch 1, then the 3rd (epoch 2) is killed half-written
    assert scenario.results["checkpoints"][-2:] == ["ckpt-e0000-s000000", "ckpt-e0001-s000000"]
    assert any(name.startswith(".ckpt-e0002") for name in scenario.results["checkpoints"])
    assert "from ckpt-e0001-s000000" in scenario.results["resumed"]["err"]


def test_kill_resumes_from_a_mid_epoch_step_checkpoint(played):
    (scenario,) = [s for s in SCENARIOS if s.id == "step-checkpoint"]
    assert "ckpt-e0001-s000003" in scenario.results["checkpoints"]
    assert (
        "from ckpt-e0001-s000003 (epoch 2 of 6, after batch 3)"
        in scenario.results["resumed"]["err"]
    )


def test_corrupt_latest_checkpoint_falls_back_with_a_warning(played):
    results = RESUMED[-1].results
    err = results["resumed"]["err"]
    assert f"warning: checkpoint ckpt-e0003-s000000 is damaged: {results['damaged']}" in err
    assert "using ckpt-e0002-s000000" in err


@pytest.mark.parametrize(
    ("id", "name", "batch"), [("sigterm", "SIGTERM", 11), ("sigint", "SIGINT", 6)]
)
def test_signal_finishes_the_step_commits_and_says_how_to_resume(played, id, name, batch):
    from nnctl.training.checkpoint import Checkpoint, damage

    (scenario,) = [s for s in SCENARIOS if s.id == id]
    run = played["root"] / id
    epoch = int(scenario.pause.split(":")[1]) // STEPS
    killed = scenario.results["killed"]
    assert killed["rc"] == scenario.exit_code
    assert f"{name} received: stopped at epoch {epoch + 1}, batch {batch}" in killed["err"]
    assert f"nnctl resume {run}" in killed["err"]
    committed = f"ckpt-e{epoch:04d}-s{batch:06d}"
    assert committed in scenario.results["checkpoints"]
    assert damage(Checkpoint(run / "checkpoints" / committed, epoch, batch)) is None
    if scenario.resume:
        assert f"resuming {run} from {committed}" in scenario.results["resumed"]["err"]


def test_killed_export_leaves_nothing_at_the_target(played, cli):
    root = played["root"]
    assert played["export"]["rc"] == -signal.SIGKILL
    assert not (root / "exported").exists()
    assert played["export"]["leftovers"], "the killed export's temporary directory"
    code, _, err = cli("export", root / "reference", "--out", root / "exported")
    assert code == 0, err
    assert (root / "exported" / "saved_model.pb").is_file()
    assert not list(root.glob(".exported.*")), "a later export removes a dead one's leftovers"
