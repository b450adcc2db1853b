"""The machine's own failures (a full disk, a read-only or misplaced folder) are the user's to
fix, not nnctl bugs: exit 2, saying what happened, where, and how to continue."""

from __future__ import annotations

import errno

import pytest

from nnctl.training import checkpoint

pytestmark = pytest.mark.slow  # every test trains a model

TINY = """
name: tiny
seed: 7
data: {source: digits, preprocess: {scale: 1/16}, max_samples: 300}
model:
  layers:
    - Dense: {units: 8, activation: relu}
    - Dense: {units: 10, activation: softmax}
loss: sparse_categorical_crossentropy
train: {epochs: 3, batch_size: 64}
"""


def _disk_full_after(monkeypatch, writes: int) -> None:
    """Checkpoint writes succeed ``writes`` times, then the disk is full."""
    real, calls = checkpoint.write, []

    def write(directory, *args):
        calls.append(directory)
        if len(calls) > writes:
            target = directory / "ckpt-next" / checkpoint.ARRAYS
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        return real(directory, *args)

    monkeypatch.setattr(checkpoint, "write", write)


def test_a_full_disk_names_the_intact_checkpoint_and_the_command_that_continues(
    cli, write_spec, tmp_path, monkeypatch
):
    _disk_full_after(monkeypatch, writes=2)
    run = tmp_path / "run"
    code, out, err = cli("train", write_spec(TINY), "--out", run, "-q")
    assert (code, out) == (2, "")
    assert "internal error" not in err
    assert "bug" not in err
    newest = checkpoint.intact(run / "checkpoints")
    assert (
        f"ckpt-next/arrays.npz: the disk is full; the last good checkpoint, {newest.path}, " in err
    )
    assert f"is intact: free space, then continue: nnctl resume {run}" in err
    monkeypatch.undo()
    assert cli("resume", run, "-q")[0] == 0


def test_a_full_disk_before_any_checkpoint_says_how_to_start_again(
    cli, write_spec, tmp_path, monkeypatch
):
    _disk_full_after(monkeypatch, writes=0)
    spec, run = write_spec(TINY), tmp_path / "run"
    code, _, err = cli("train", spec, "--out", run, "-q")
    assert code == 2
    assert (
        f"no checkpoint was written yet: free space, then start again: nnctl train {spec} " in err
    )


@pytest.mark.parametrize("command", ["train", "export"])
def test_an_out_folder_under_a_file_is_the_users_to_fix(cli, write_spec, tmp_path, command):
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "out"
    if command == "train":
        code, _, err = cli("train", write_spec(TINY), "--out", out, "-q")
    else:
        run = tmp_path / "run"
        assert cli("train", write_spec(TINY), "--out", run, "-q")[0] == 0
        code, _, err = cli("export", run, "--out", out)
    assert code == 2, err
    assert "internal error" not in err
    assert "a folder on the path is a file" in err or "where a folder is needed" in err


def test_a_read_only_folder_is_the_users_to_fix(cli, write_spec, tmp_path, monkeypatch):
    from pathlib import Path

    def mkdir(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, out, err = cli("train", write_spec(TINY), "--out", tmp_path / "ro" / "run", "-q")
    assert (code, out) == (2, "")
    assert f"cannot write {tmp_path / 'ro' / 'run'}: the file system is read-only" in err
