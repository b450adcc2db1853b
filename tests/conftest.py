"""Shared helpers: write specs to tmp_path, run the CLI in-process; the `slow` marker's upkeep."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nnctl.cli import main

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 300  # seconds a child process may take to reach its pause point
SPECS = sorted((ROOT / "specs").glob("*.yaml"))

# The smallest valid spec, a digits classifier. Tests derive variants with str.replace and rely on
# its layout: line 1 is the name, line 5 the first layer, line 7 the loss.
DIGITS = """
name: demo
data: {source: digits}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
"""
# DIGITS made to train in a few seconds: seeded, scaled pixels, one epoch of large batches.
DIGITS_TRAINING = (
    DIGITS.replace("name: demo", "name: digits\nseed: 11")
    .replace("{source: digits}", "{source: digits, preprocess: {scale: 1/16}}")
    .replace("units: 8", "units: 16")
    + "train: {epochs: 1, batch_size: 128}\n"
)


# `slow` marks every test that trains a model or imports TensorFlow, so `pytest -m "not slow"` is
# the quick loop: it never imports TensorFlow. Mark a test in place (`@pytest.mark.slow`, or
# `pytestmark` for a whole module). These modules are being edited on other branches, so their
# tests are marked here, by name, until those edits land; then move the marks into the modules.
EVERY_TEST = "every test"
SLOW_ELSEWHERE = {
    "test_actor_critic.py": {
        "test_build_errors_point_at_the_node",
        "test_run_directory",
        "test_evaluate_plays_the_evaluation_episodes",
        "test_export_is_the_policy",
        "test_export_refuses_keras_format",
        "test_predict_gives_the_likeliest_action",
        "test_solved_at_stops_training",
        "test_resume_replays_the_same_episodes",
        "test_plain_progress_prints_every_tenth_episode_and_the_last",
        "test_resume_of_a_finished_run_changes_nothing",
        "test_resume_refuses_a_changed_spec",
        "test_shipped_spec_learns_to_balance",
    },
    "test_faults.py": EVERY_TEST,
    "test_gan.py": {
        "test_run_logs_the_adversaries_and_sample_quality_every_epoch",
        "test_each_epoch_saves_a_grid_of_samples_from_the_same_noise",
        "test_checkpoints_hold_both_optimizers",
        "test_evaluate_sets_quality_against_real_data_and_the_untrained_generator",
        "test_untrained_baseline_is_the_generator_training_started_from",
        "test_export_is_the_generator_noise_in_samples_out",
        "test_model_file_round_trips_in_safe_mode",
        "test_killed_gan_resumes_to_the_uninterrupted_result",
        "test_sample_quality_figures",
        "test_grid_draws_samples_in_rows_black_to_white",
        "test_gan_mistakes_are_located",
        "test_validate_build_finds_a_scorer_of_the_wrong_class_count",
        "test_a_diverging_gan_says_which_optimizers_to_tame",
        "test_sigmoid_discriminator_outputs_are_probabilities",
    },
    "test_resume.py": {
        "test_finished_run_is_sealed_with_checkpoints_and_environment",
        "test_resuming_a_finished_run_changes_nothing",
        "test_changed_spec_is_refused_with_the_changes_then_forced",
        "test_edited_run_spec_is_refused",
        "test_changed_data_is_refused",
        "test_resume_without_a_checkpoint_is_refused",
        "test_no_intact_checkpoint_is_refused_never_a_fresh_start",
        "test_tampered_run_is_refused",
        "test_non_finite_loss_stops_at_once_keeping_the_last_checkpoint",
        "test_non_finite_validation_metric_is_never_the_best_epoch",
        "test_gradient_clipping_reaches_the_optimizer",
        "test_a_second_training_process_on_the_run_is_refused",
        "test_force_starts_over_without_old_checkpoints",
        "test_checkpoint_every_steps_and_keep_last",
        "test_keys_a_newer_nnctl_adds_with_defaults_are_not_changes",
    },
}
TENSORFLOW_FREE = pytest.StashKey[bool]()  # on a test: TensorFlow was not imported before it ran
COLLECTED_WITH_TENSORFLOW = pytest.StashKey[bool]()


def pytest_collection_modifyitems(items):
    for item in items:
        names = SLOW_ELSEWHERE.get(item.path.name, ())
        if names == EVERY_TEST or item.originalname in names:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    item.stash[TENSORFLOW_FREE] = "tensorflow" not in sys.modules
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """Fail a test not marked slow that imported TensorFlow: the quick loop must not."""
    result = yield
    imported = item.stash.get(TENSORFLOW_FREE, False) and "tensorflow" in sys.modules
    if imported and item.get_closest_marker("slow") is None:
        pytest.fail(f"{item.nodeid} imported TensorFlow: mark it @pytest.mark.slow", pytrace=False)
    return result


def pytest_collection_finish(session):
    if "tensorflow" in sys.modules:
        session.config.stash[COLLECTED_WITH_TENSORFLOW] = True


def pytest_terminal_summary(terminalreporter):
    if terminalreporter.config.stash.get(COLLECTED_WITH_TENSORFLOW, False):
        terminalreporter.write_line(
            "note: collecting the tests imported TensorFlow, so no test was checked for importing"
            " it unmarked; import it inside the tests that need it"
        )


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*.txt from nnctl's current messages (review the diff)",
    )


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write


@pytest.fixture
def digits_spec(write_spec) -> Path:
    """DIGITS written to tmp_path/spec.yaml."""
    return write_spec(DIGITS)


@pytest.fixture
def cli(capsys):
    """Run ``nnctl ARGS`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def train_once(tmp_path_factory, name: str, spec_text: str) -> Path:
    """Train ``spec_text`` into a fresh run directory (for module-scoped fixtures); return it."""
    root = tmp_path_factory.mktemp(name)
    (root / "spec.yaml").write_text(spec_text)
    assert main(["train", str(root / "spec.yaml"), "--out", str(root / "run"), "-q"]) == 0
    return root / "run"


def spawn(*args, env: dict | None = None) -> subprocess.Popen:
    """``nnctl ARGS`` in a child process (so it can be killed), from the repository root."""
    return subprocess.Popen(
        [sys.executable, "-m", "nnctl", *map(str, args)],
        cwd=ROOT,
        env=os.environ | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> dict:
    out, err = process.communicate(timeout=timeout)
    return {"rc": process.returncode, "out": out, "err": err}


def interrupted(args: list, pause: str, signum: int, ready: Path) -> dict:
    """Run ``nnctl ARGS`` until it parks at ``pause``, then send ``signum``; wait for its end."""
    process = spawn(*args, env={"NNCTL_TEST_PAUSE_AT": pause, "NNCTL_TEST_PAUSE_FILE": str(ready)})
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not ready.exists():
        process.kill()
        raise AssertionError(f"never reached {pause}: {finish(process)['err'][-2000:]}")
    process.send_signal(signum)
    return finish(process)
