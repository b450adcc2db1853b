"""Shared helpers: write specs to tmp_path, run the CLI in-process; the `slow` marker's upkeep."""

from __future__ import annotations

import json
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

# A small digits MLP for the streamed sources' tests; DATA stands for the data section (a mapping).
STREAMED = """
name: streamed
seed: 3
data: DATA
model:
  layers:
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.01}
metrics: [accuracy]
train: {epochs: 3, batch_size: 64, validation: 0.1}
"""


# `slow` marks every test that trains a model or imports TensorFlow, so `pytest -m "not slow"` is
# the quick loop: it never imports TensorFlow. Mark a test in place (`@pytest.mark.slow`, or
# `pytestmark` for a whole module); the teardown hook below fails a test that imports TensorFlow
# without the mark.
TENSORFLOW_FREE = pytest.StashKey[bool]()  # on a test: TensorFlow was not imported before it ran
COLLECTED_WITH_TENSORFLOW = pytest.StashKey[bool]()


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


def assert_memory_flat(tmp_path: Path, spec: str, write, share: float = 0.5) -> None:
    """Train ``spec`` (a 10-class MLP spec at batch 64, made one epoch of batch 256 on two
    classes) on a file of 20,000 rows of 1,000 features and on one of 100,000 rows, each in a
    process of its own; ``write(directory, rows, features)`` writes the data and returns the
    file's size. The larger file's peak resident memory (run.json) must grow by less than
    ``share`` of the difference in size (loading a file takes it and a copy as a tensor: twice
    the difference), and its model must learn the data's rule (the sign of the features' sum)."""
    spec = (
        spec.replace("units: 10", "units: 2")
        .replace("epochs: 3, batch_size: 64", "epochs: 1, batch_size: 256")
        .replace("validation: 0.1", "validation: 0.05")
    )
    peaks, sizes = {}, {}
    for rows in (20_000, 100_000):
        directory = tmp_path / str(rows)
        directory.mkdir()
        sizes[rows] = write(directory, rows, 1_000)
        (directory / "spec.yaml").write_text(spec)
        result = finish(spawn("train", directory / "spec.yaml", "--out", directory / "run", "-q"))
        assert result["rc"] == 0, result["err"][-2000:]
        info = json.loads((directory / "run" / "run.json").read_text())
        peaks[rows] = info["peak_memory_mib"] * 2**20
        metrics = json.loads((directory / "run" / "metrics.json").read_text())
    assert sizes[100_000] > 400e6
    growth = peaks[100_000] - peaks[20_000]
    assert growth < (sizes[100_000] - sizes[20_000]) * share, (peaks, sizes)
    assert metrics["test"]["accuracy"] > 0.9  # the big file's model learned the rule
