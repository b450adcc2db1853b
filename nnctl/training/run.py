"""``nnctl train`` and ``nnctl resume``: one run-directory lifecycle for every training trainer.

A fresh run writes its resolved spec, ``run.json`` and an initial checkpoint before the first
step; a resumed run restores the newest intact checkpoint after checking that neither the spec nor
what the run learns from (the data, the environment) changed. Both end the same way: the mode
trains to the end, then model, metrics, curves, and the manifest that seals the directory.

A mode's trainer (``Trainer``, made by its ``Mode``) does the mode's part: ``session.Session``
for the modes that learn from a dataset, ``actor_critic.Agent`` for episodes in an environment.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nnctl.errors import UserError
from nnctl.modes import mode_of
from nnctl.rundir import (
    CHECKPOINTS,
    CURVES,
    METRICS,
    MODEL,
    OUTCOME,
    RUN_INFO,
    RunDir,
    atomic_path,
    environment,
    now,
    write_json,
)
from nnctl.spec.explain import origins
from nnctl.spec.schema import Spec
from nnctl.testhooks import pause_point
from nnctl.training import checkpoint, finite
from nnctl.training.distribute import own_run
from nnctl.training.hparams import write_hparams
from nnctl.training.state import Checkpointer, TrainState, restore


class Trainer(Protocol):
    """A training mode's part of a run: built fresh by each process, before any checkpoint is
    restored into its model (and the checkpointer's callbacks)."""

    run: RunDir
    model: Any
    resolved: dict[str, Any]  # the spec as the run directory stores it
    checkpointer: Checkpointer

    @property
    def total(self) -> int:
        """Epochs or episodes a run trains for, unless stopped early."""

    def identity(self) -> dict[str, Any]:
        """What run.json records of what the run learns from (data, environment)."""

    def changes(self, meta: dict) -> list[str]:
        """How what it learns from differs from the checkpoint's ``meta`` (the spec aside)."""

    def begin(self) -> None:
        """Work before a fresh run's first checkpoint."""

    def position(self, state: TrainState) -> str:
        """Where a resumed run continues from, in words."""

    def advance(self, state: TrainState, quiet: bool, extra: Sequence = ()) -> TrainState:
        """Train from ``state`` to the end, checkpointing on the way; ``extra``: the caller's
        Keras callbacks (nnctl tune's pruning), where the mode's loop has epochs."""

    def conclude(self, state: TrainState) -> tuple[dict[str, Any], dict[str, Any]]:
        """The final metrics, and what run.json adds; writes the mode's own artifacts."""

    def plot(self, state: TrainState, target: Path) -> None:
        """The training curves as a PNG."""


def _make_trainer(spec: Spec, base_dir: Path, run: RunDir) -> Trainer:
    """The trainer of the spec's mode (built inside the run's lock)."""
    return mode_of(spec).trainer(spec, base_dir, run)


def train(
    spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False, extra: Sequence = ()
) -> dict[str, Any]:
    """Train the spec into a new run directory; return the final metrics. ``extra``: Keras
    callbacks the caller adds to the loop."""
    started = now()
    with run.lock():
        run.clear()
        trainer = _make_trainer(spec, base_dir, run)
        return _start(trainer, spec, started, quiet, extra)


def resume(
    spec: Spec,
    base_dir: Path,
    run: RunDir,
    *,
    quiet: bool = False,
    force: bool = False,
    extra: Sequence = (),
) -> dict[str, Any]:
    """Continue a run from its newest intact checkpoint; refuse a changed spec or data
    unless ``force``. Return the final metrics."""
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    with run.lock():
        latest = _latest(run)
        arrays, meta = checkpoint.read(latest)
        trainer = _make_trainer(spec, base_dir, run)
        finished = _finished(run, meta, trainer.total)
        return _continue(trainer, spec, latest, arrays, meta, finished, quiet, force, extra)


def train_cluster(
    spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False, force: bool = False
) -> dict[str, Any]:
    """``multi_worker``: what every worker of the cluster runs, the same command on each. The
    chief trains into ``run``, continuing it from its newest checkpoint if it has one (a
    restarted cluster goes on where it stopped; ``force`` starts over) and sending that
    checkpoint to the others, which write only into a temporary directory."""
    started = now()
    with own_run(spec, run) as mine:
        mine.path.mkdir(parents=True, exist_ok=True)
        with mine.lock():
            trainer = _make_trainer(spec, base_dir, mine)  # joins the cluster
            with trainer.distribution.peers_watched():
                return _train_in_cluster(trainer, spec, mine, started, quiet, force)


def _train_in_cluster(
    trainer: Trainer, spec: Spec, mine: RunDir, started: str, quiet: bool, force: bool
) -> dict[str, Any]:
    """The chief's newest checkpoint, if it has one and ``force`` is off, sent to every worker;
    then training from it, or afresh. ``trainer`` is a dataset ``Session`` (the modes that
    refuse ``distribute`` never get here), whose ``distribution`` joined the cluster."""
    chief = trainer.distribution.chief
    found = None
    if chief and not force and checkpoint.committed(mine.file(CHECKPOINTS)):
        latest = _latest(mine)
        arrays, meta = checkpoint.read(latest)
        found = latest.name, arrays, meta, _finished(mine, meta, trainer.total)
    shared = checkpoint.from_bytes(trainer.distribution.broadcast(
        checkpoint.to_bytes(found)))  # fmt: skip
    if shared is None:
        mine.clear()
        if chief:
            _say(f"training {spec.name} into {mine.path}")
        return _start(trainer, spec, started, quiet, ())
    name, arrays, meta, finished = shared
    latest = checkpoint.Checkpoint(mine.file(CHECKPOINTS) / name, meta["epoch"], meta["step"])
    return _continue(trainer, spec, latest, arrays, meta, finished, quiet, False, ())


def _start(
    trainer: Trainer, spec: Spec, started: str, quiet: bool, extra: Sequence
) -> dict[str, Any]:
    """A fresh run: spec, run.json and the first checkpoint, then training to the end."""
    run = trainer.run
    trainer.begin()
    run.write_spec(trainer.resolved, spec.file)
    info = {"spec": spec.file, "seed": spec.seed, "started": started}
    info["origins"] = origins(spec)  # whence each value not a default: for nnctl report
    info |= trainer.identity() | {"environment": environment(), "engine": engine(spec)}
    write_json(run.file(RUN_INFO), info)
    trainer.checkpointer.save(TrainState())
    return _finish(trainer, TrainState(), info, quiet, extra)


def _continue(
    trainer: Trainer,
    spec: Spec,
    latest: checkpoint.Checkpoint,
    arrays: dict,
    meta: dict,
    finished: bool,
    quiet: bool,
    force: bool,
    extra: Sequence,
) -> dict[str, Any]:
    """A run from checkpoint ``latest`` (``arrays``, ``meta``): refused if the spec or data
    changed (unless ``force``), done if it had ``finished``, else trained to the end."""
    run = trainer.run
    changes = spec_changes(_as_today(meta["spec"]), trainer.resolved) + trainer.changes(meta)
    if changes and not force:
        listed = "\n  ".join(changes)
        raise UserError(
            f"{run.path}: changed since checkpoint {latest.name}:\n  {listed}\n"
            "Resume anyway with --force, or train into a new run directory."
        )
    state = restore(trainer.model, trainer.checkpointer.callbacks, arrays, meta)
    trainer.checkpointer.pinned = trainer.checkpointer.last = latest
    if not changes and finished:
        _say(f"{run.path}: training had already finished; nothing to resume")
        return json.loads(run.file(METRICS).read_text()) if run.file(METRICS).is_file() else {}
    if changes:
        run.write_spec(trainer.resolved, spec.file)
    _say(f"resuming {run.path} from {latest.name} ({trainer.position(state)})")
    info = _resumed_info(run, latest.name, changes)
    if changes:  # the values now come from the spec resumed with
        info["origins"] = origins(spec)
    write_json(run.file(RUN_INFO), info)  # the earlier outcome is history from here on
    return _finish(trainer, state, info, quiet, extra)


def _latest(run: RunDir) -> checkpoint.Checkpoint:
    """The run's newest intact checkpoint (damaged ones set aside)."""
    directory = run.file(CHECKPOINTS)
    checkpoint.clean(directory)
    return checkpoint.latest(directory)


def engine(spec: Spec) -> dict[str, Any]:
    """How the run computes (``train.jit_compile``, ``mixed_precision``, ``deterministic``): the
    determinism TensorFlow has in effect, as the trainer set it."""
    from nnctl.keras_env import deterministic

    settings = spec.train
    return {
        "deterministic": deterministic(),
        "jit_compile": settings.jit_compile,
        "mixed_precision": settings.mixed_precision,
    }


def _finish(
    trainer: Trainer, state: TrainState, info: dict, quiet: bool, extra: Sequence
) -> dict[str, Any]:
    """Train from ``state`` to the end, then write model, metrics and curves, and seal."""
    clock = time.perf_counter()
    run = trainer.run
    run.unseal()
    state = trainer.advance(state, quiet, extra)
    pause_point("finalize")
    weights = {v.path: np.asarray(v) for v in trainer.model.variables}
    finite.refuse_non_finite(weights, MODEL, trainer.checkpointer.last)
    with atomic_path(run.file(MODEL)) as tmp:
        trainer.model.save(tmp)
    metrics, summary = trainer.conclude(state)
    write_json(run.file(METRICS), metrics)
    write_hparams(run, trainer.resolved, metrics, state.epoch)
    with atomic_path(run.file(CURVES)) as tmp:
        trainer.plot(state, tmp)
    seconds = round(time.perf_counter() - clock, 2)
    info |= {"finished": now(), "seconds": seconds, "peak_memory_mib": peak_memory_mib(), **summary}
    write_json(run.file(RUN_INFO), info)
    run.seal()
    return metrics


def peak_memory_mib() -> float:
    """This process's peak resident memory so far (file pages read through the page cache, as
    streamed data is, are not in it): Linux's VmHWM, which starts afresh at exec, unlike
    ``ru_maxrss``, which a child starts with its parent's size at fork."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return round(int(line.split()[1]) / 1024, 1)  # kB
    except (OSError, StopIteration, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def _resumed_info(run: RunDir, checkpoint_name: str, changes: list[str]) -> dict[str, Any]:
    """run.json with this resumption recorded."""
    info = run.read_info()
    entry = {"at": now(), "checkpoint": checkpoint_name, "forced_changes": changes}
    if OUTCOME in info:  # how the run had ended: history now, no longer its status
        entry["after"] = info.pop(OUTCOME)
    before, here = info.get("environment", {}), environment()
    moved = {
        key: [before[key], value] for key, value in here.items() if before.get(key, value) != value
    }
    if moved:
        entry["environment_changes"] = moved
        _say(
            f"note: this machine differs from the one the run started on ({', '.join(moved)}); "
            "the run continues, but bitwise the same only on the same versions and CPU kernels"
        )
    info.setdefault("resumed", []).append(entry)
    return info


def _as_today(resolved: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's resolved spec with the defaults of this nnctl version filled in, so keys
    that a newer version added (with their defaults) do not count as changes."""
    try:
        return Spec.model_validate(resolved).resolved()
    except ValueError:  # no longer valid: compare as written
        return resolved


def spec_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """``key.path: old -> new`` for every value that differs between two resolved specs."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = list(old) + [k for k in new if k not in old]
        changes = []
        for key in keys:
            sub = f"{path}.{key}" if path else str(key)
            changes += spec_changes(old.get(key, "<absent>"), new.get(key, "<absent>"), sub)
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = enumerate(zip(old, new, strict=True))
        return [c for i, (a, b) in pairs for c in spec_changes(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def _finished(run: RunDir, meta: dict, total: int) -> bool:
    """Training ended at checkpoint ``meta`` and the run directory is sealed and intact."""
    if meta["epoch"] < total and not meta["stopped"]:
        return False
    try:
        RunDir.open(run.path)
    except UserError:
        return False
    return True


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
