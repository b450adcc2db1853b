"""The run directory: its layout, and atomic writes so no artifact is ever half-written."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

import nnctl
from nnctl.errors import UserError

SPEC = "spec.yaml"
MODEL = "model.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
RUN_INFO = "run.json"
CURVES = "curves.png"
LOGS = "logs"
EXPORT = "export"


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto ``target`` (file or directory)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)) / target.name
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")


def default_run_dir(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{name}-{stamp}"


@dataclass(frozen=True)
class RunDir:
    path: Path

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, path: Path, *, force: bool = False) -> RunDir:
        """A new run directory; an existing non-empty one is refused unless ``force``."""
        if path.exists() and not path.is_dir():
            raise UserError(f"{path}: exists and is not a directory")
        if path.is_dir() and any(path.iterdir()) and not force:
            raise UserError(
                f"{path}: run directory exists and is not empty (use --force to reuse it)"
            )
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing, complete run directory (one that holds a spec and a trained model)."""
        if not path.is_dir():
            raise UserError(f"{path}: no such run directory")
        for name in (SPEC, MODEL):
            if not (path / name).is_file():
                raise UserError(f"{path}: not a finished run directory (no {name})")
        return cls(path)

    def write_spec(self, resolved: dict[str, Any], origin: str) -> None:
        header = (
            f"# Resolved from {origin} by nnctl {nnctl.__version__}: every default filled in.\n"
        )
        body = yaml.safe_dump(resolved, sort_keys=False, width=100)
        write_text(self.file(SPEC), header + body)


def environment() -> dict[str, Any]:
    """Versions and hardware a run's results depend on."""
    import keras
    import tensorflow as tf

    return {
        "nnctl": nnctl.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
    }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
