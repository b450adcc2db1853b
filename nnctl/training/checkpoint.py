"""Checkpoints in ``RUN/checkpoints``: one directory each, written atomically and verifiable.

A checkpoint ``ckpt-e0003-s000010`` holds the state after 3 epochs and 10 steps of the 4th:
``arrays.npz`` (variables, best weights, random state), ``state.json`` (counters, history,
callback state, the spec and data fingerprint it belongs to) and ``manifest.json`` (their sha256),
written last into a temporary directory that is then renamed into place. A directory whose files
do not match its manifest is damaged: it is set aside and the previous one is used.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.errors import UserError
from nnctl.rundir import atomic_path, sha256
from nnctl.testhooks import pause_point

ARRAYS, STATE, MANIFEST = "arrays.npz", "state.json", "manifest.json"
NAME = re.compile(r"^ckpt-e(\d+)-s(\d+)$")
DAMAGED = ".damaged"


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    epoch: int  # epochs completed
    step: int  # steps of the next epoch completed

    @property
    def name(self) -> str:
        return self.path.name


def write(directory: Path, epoch: int, step: int, arrays: dict, state: dict) -> Checkpoint:
    """Commit one checkpoint: files into a temporary directory, manifest last, then rename."""
    target = directory / f"ckpt-e{epoch:04d}-s{step:06d}"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        with open(tmp / ARRAYS, "wb") as file:
            np.savez(file, **arrays)
        (tmp / STATE).write_text(json.dumps(state))
        pause_point("checkpoint-write")
        hashes = {name: sha256(tmp / name) for name in (ARRAYS, STATE)}
        (tmp / MANIFEST).write_text(json.dumps({"format": 1, "sha256": hashes}))
    return Checkpoint(target, epoch, step)


def committed(directory: Path) -> list[Checkpoint]:
    """The checkpoints in ``directory``, newest first."""
    found = []
    for path in directory.glob("ckpt-*") if directory.is_dir() else []:
        if match := NAME.match(path.name):
            found.append(Checkpoint(path, int(match[1]), int(match[2])))
    return sorted(found, key=lambda c: (c.epoch, c.step), reverse=True)


def damage(checkpoint: Checkpoint) -> str | None:
    """What is wrong with a checkpoint's files (``FILE: why``), or None if they verify."""
    manifest = checkpoint.path / MANIFEST
    try:
        hashes = json.loads(manifest.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{manifest}: missing or unreadable"
    for name in (ARRAYS, STATE):
        path = checkpoint.path / name
        if name not in hashes or not path.is_file():
            return f"{path}: missing"
        if sha256(path) != hashes[name]:
            return f"{path}: truncated or corrupt (sha256 differs from its manifest)"
    return None


def intact(directory: Path) -> Checkpoint | None:
    """The newest checkpoint whose files verify, or None (nothing is set aside)."""
    return next((c for c in committed(directory) if damage(c) is None), None)


def latest(directory: Path) -> Checkpoint:
    """The newest intact checkpoint; damaged newer ones are set aside, each with a warning."""
    candidates = committed(directory)
    bad: list[tuple[Checkpoint, str]] = []
    for checkpoint in candidates:
        problem = damage(checkpoint)
        if problem is None:
            for damaged, why in bad:
                _warn(f"checkpoint {damaged.name} is damaged: {why}; using {checkpoint.name}")
                _set_aside(damaged)
            return checkpoint
        bad.append((checkpoint, problem))
    if bad:
        details = "; ".join(why for _, why in bad)
        raise UserError(f"{directory}: no intact checkpoint to resume from ({details})")
    raise UserError(f"{directory}: no checkpoint to resume from")


def read(checkpoint: Checkpoint) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and state of a verified checkpoint."""
    with np.load(checkpoint.path / ARRAYS, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return arrays, json.loads((checkpoint.path / STATE).read_text())


def retain(directory: Path, keep: int, pinned: Checkpoint | None = None) -> None:
    """Delete all but the newest ``keep`` checkpoints, never ``pinned`` (the one resumed from)."""
    for checkpoint in committed(directory)[keep:]:
        if pinned is None or checkpoint.path != pinned.path:
            doomed = checkpoint.path.with_name(f".{checkpoint.name}.deleting")
            checkpoint.path.rename(doomed)  # a half-deleted directory never looks like a checkpoint
            shutil.rmtree(doomed)


def clean(directory: Path) -> None:
    """Remove what killed processes left: temporaries and half-deleted checkpoints (the caller
    holds the run's lock, so no other process is writing here)."""
    for path in directory.glob(".*") if directory.is_dir() else []:
        shutil.rmtree(path, ignore_errors=True)


def _set_aside(checkpoint: Checkpoint) -> None:
    aside = checkpoint.path.with_name(checkpoint.name + DAMAGED)
    shutil.rmtree(aside, ignore_errors=True)
    checkpoint.path.rename(aside)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def to_bytes(found: tuple[str, dict, dict, bool] | None) -> bytes:
    """A checkpoint as read, ``(name, arrays, state, finished)``, as bytes to send to a
    cluster's other workers (none: empty)."""
    if found is None:
        return b""
    name, arrays, state, finished = found
    header = json.dumps({"name": name, "state": state, "finished": finished}).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return len(header).to_bytes(8, "little") + header + buffer.getvalue()


def from_bytes(blob: bytes) -> tuple[str, dict, dict, bool] | None:
    """What ``to_bytes`` sent."""
    if not blob:
        return None
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    with np.load(io.BytesIO(blob[8 + size :]), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    return header["name"], arrays, header["state"], header["finished"]
