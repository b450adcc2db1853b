"""Shared helpers: write specs to tmp_path, run the CLI in-process."""

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
