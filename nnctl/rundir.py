"""The run directory: its layout, atomic writes, and the manifest of hashes that seals a run."""

from __future__ import annotations

import fcntl
import hashlib
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
CHECKPOINTS = "checkpoints"
VOCABULARIES = "vocabularies.json"  # seq2seq: the token ids the model was trained on
SAMPLES = "samples"  # gan: a grid of generated samples per epoch, samples/epoch-NNNN.png
REPORT = "report.html"  # nnctl report's page, unless --out puts it elsewhere
MANIFEST = "manifest.json"  # written last: a run is finished iff its manifest verifies
LOCK = ".lock"
OUTCOME = "outcome"  # run.json: how the training of an unsealed run ended, if it was noticed
FINISHED, RUNNING, INTERRUPTED, DIVERGED, FAILED = STATUSES = (
    "finished", "running", "interrupted", "diverged", "failed"
)  # fmt: skip
# the files the manifest vouches for (those present), and the artifacts of a fresh run
SEALED = (SPEC, MODEL, HISTORY, METRICS, RUN_INFO, VOCABULARIES)
ARTIFACTS = (
    MODEL, HISTORY, METRICS, CURVES, MANIFEST, LOGS, CHECKPOINTS, VOCABULARIES, SAMPLES, REPORT
)  # fmt: skip


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it onto ``target`` (file or directory).

    The temporary name carries this process's id, so leftovers of a killed process are removed
    by the next write to the same target.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    prefix = f".{target.name}.tmp-{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent)) / target.name
    try:
        yield tmp
        fsync_tree(tmp)
        if target.is_dir() and not target.is_symlink():
            old = target.with_name(f".{target.name}.tmp-{os.getpid()}-old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_tree(target.parent, recursive=False)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def _remove_stale(target: Path) -> None:
    """Delete temporaries that a dead process left beside ``target``."""
    for path in target.parent.glob(f".{target.name}.tmp-*"):
        pid = path.name.removeprefix(f".{target.name}.tmp-").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fsync_tree(path: Path, *, recursive: bool = True) -> None:
    """Flush a file, or a directory's entries (and with ``recursive`` its files), to disk."""
    if path.is_dir() and recursive:
        for child in path.rglob("*"):
            if child.is_file():
                fsync_tree(child)
    if not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def write_json(target: Path, data: Any) -> None:
    write_text(target, json.dumps(data, indent=2, sort_keys=False) + "\n")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
                f"{path}: run directory exists and is not empty (use --force to start over in "
                f"it, or --resume to continue its training)"
            )
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def clear(self) -> None:
        """Remove the artifacts of a run this directory held before; other files stay."""
        for name in ARTIFACTS:
            target = self.file(name)
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """A finished run directory whose files match its manifest; refuses anything else."""
        if not path.is_dir():
            raise UserError(f"{path}: no such run directory")
        run = cls(path)
        if not run.file(MANIFEST).is_file():
            if run.file(CHECKPOINTS).is_dir():
                raise UserError(
                    f"{path}: training did not finish (no {MANIFEST}); "
                    f"continue it with: nnctl resume {path}"
                )
            raise UserError(f"{path}: not a finished run directory (no {MANIFEST})")
        run.verify()
        return run

    def verify(self) -> None:
        """Check every sealed file against the manifest's sha256; raise naming the first bad one."""
        try:
            hashes = json.loads(self.file(MANIFEST).read_text())["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{self.file(MANIFEST)}: damaged (not a manifest)") from None
        for name, expected in hashes.items():
            path = self.file(name)
            if not path.is_file():
                raise UserError(f"{path}: missing; the run directory is incomplete")
            if sha256(path) != expected:
                raise UserError(
                    f"{path}: damaged or modified since training (its sha256 does not match "
                    f"{MANIFEST}); refusing to use this run"
                )

    def seal(self) -> None:
        """Write the manifest of the sealed files' hashes: the commit point of a finished run."""
        hashes = {name: sha256(self.file(name)) for name in SEALED if self.file(name).is_file()}
        write_json(self.file(MANIFEST), {"nnctl": nnctl.__version__, "sha256": hashes})

    def unseal(self) -> None:
        """Mark the run unfinished again (training is about to change its artifacts)."""
        self.file(MANIFEST).unlink(missing_ok=True)
        fsync_tree(self.path, recursive=False)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory for one training process; a second one is refused."""
        with open(self.file(LOCK), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"{self.path}: another nnctl process is training here") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_spec(self, resolved: dict[str, Any], origin: str) -> None:
        header = (
            f"# Resolved from {origin} by nnctl {nnctl.__version__}: every default filled in.\n"
        )
        body = yaml.safe_dump(resolved, sort_keys=False, width=100)
        write_text(self.file(SPEC), header + body)

    def read_info(self) -> dict[str, Any]:
        try:
            info = json.loads(self.file(RUN_INFO).read_text())
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def training(self) -> bool:
        """Whether a process holds the run's lock now (it is training or resuming here)."""
        try:
            handle = open(self.file(LOCK))  # noqa: SIM115 -- closed below, after the probe
        except OSError:
            return False
        with handle:
            try:  # a shared lock is refused while a trainer holds the exclusive one
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def status(self) -> str:
        """One of ``STATUSES``, read from the directory: a held lock is a run being trained, a
        manifest seals a finished one, and an unsealed run is the ``outcome`` run.json records
        (diverged, failed) or, with none recorded (a kill -9 records nothing), interrupted."""
        if self.training():
            return RUNNING
        if self.file(MANIFEST).is_file():
            return FINISHED
        outcome = self.read_info().get(OUTCOME)
        recorded = outcome.get("status") if isinstance(outcome, dict) else None
        return recorded if recorded in (DIVERGED, FAILED) else INTERRUPTED

    def record_outcome(self, status: str, message: str) -> None:
        """Note in run.json how the training of an unsealed run ended (``status()`` reads it);
        a run another process is training, a sealed run and a run without run.json are left
        as they are."""
        if not self.file(RUN_INFO).is_file() or self.file(MANIFEST).is_file() or self.training():
            return
        info = self.read_info()
        info[OUTCOME] = {"status": status, "at": now(), "message": message}
        write_json(self.file(RUN_INFO), info)


def load_run(run: RunDir):
    """(the run's resolved spec, its trained model loaded in Keras safe mode)."""
    from nnctl.keras_env import import_keras
    from nnctl.spec.validate import load_spec

    spec, _ = load_spec(run.file(SPEC))
    model = import_keras().saving.load_model(run.file(MODEL), safe_mode=True)
    return spec, model


def environment() -> dict[str, Any]:
    """Versions and hardware a run's results depend on: bitwise reproducibility holds only
    on the same versions, the same CPU model and instruction sets (they pick TensorFlow's oneDNN
    kernels) and the same device list."""
    import keras
    import numpy as np
    import tensorflow as tf

    return {
        "nnctl": nnctl.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
        "cpu_count": os.cpu_count(),
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
        "op_determinism": True,
    }


KERNEL_FLAGS = ("sse", "ssse3", "avx", "fma", "f16c", "amx", "vnni")  # what oneDNN dispatches on


def cpu_flags() -> list[str]:
    """The CPU's instruction-set flags that decide which oneDNN kernels TensorFlow runs (AVX-512
    ones fuse MatMul + bias + ReLU in a way that turns NaN into 0, for one), sorted."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):  # x86, ARM
                flags = line.split(":", 1)[1].split()
                return sorted(f for f in set(flags) if f.startswith(KERNEL_FLAGS) or "asimd" in f)
    except OSError:
        pass
    return []


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
