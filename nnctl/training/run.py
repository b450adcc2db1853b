"""``nnctl train`` and ``nnctl resume``: data -> model -> checkpointed loop -> sealed run directory.

A fresh run writes its resolved spec, ``run.json`` and an initial checkpoint before the first
step; a resumed run restores the newest intact checkpoint after checking that neither the spec nor
the data changed. Both end the same way: model, metrics, curves, then the manifest that seals it.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnctl import seq2seq
from nnctl.build import build_model, compile_model
from nnctl.build.targets import check_targets
from nnctl.data import Dataset, count, labels, load_dataset, rows
from nnctl.data.text import model_input
from nnctl.errors import UserError
from nnctl.evaluate import SPLITS, split_metrics
from nnctl.keras_env import set_seed
from nnctl.rundir import (
    CHECKPOINTS,
    CURVES,
    HISTORY,
    METRICS,
    MODEL,
    RUN_INFO,
    VOCABULARIES,
    RunDir,
    atomic_path,
    environment,
    now,
    write_json,
    write_text,
)
from nnctl.spec.schema import Spec
from nnctl.testhooks import pause_point
from nnctl.training import checkpoint, gan, modes
from nnctl.training.callbacks import history_csv, spec_callbacks
from nnctl.training.curves import plot_curves
from nnctl.training.state import Checkpointer, TrainState, restore
from nnctl.training.supervised import checkpoint_options, make_loop, steps_per_epoch

PATH_KEYS = ("path", "target_path", "images", "labels", "test_images", "test_labels")


@dataclass
class Session:
    """What one training process works with."""

    spec: Spec
    run: RunDir
    dataset: Dataset
    model: Any
    resolved: dict[str, Any]  # the spec as the run directory stores it
    checkpointer: Checkpointer
    vocab: Any = None  # seq2seq: the vocabularies the model's token ids come from
    strings: Dataset | None = None  # the data before encoding (seq2seq: the strings)


def train(spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False) -> dict[str, Any]:
    """Train the spec's model into a new run directory; return the final metrics per split."""
    if spec.train.mode == "actor_critic":  # episodes in an environment, not epochs over data
        from nnctl.training import actor_critic

        return actor_critic.train(spec, base_dir, run, quiet=quiet)
    started = now()
    with run.lock():
        run.clear()
        session = _session(spec, base_dir, run)
        if note := labels.announcement(session.dataset):
            _say(note)
        if spec.train.mode == "gan":  # the scorer of generated samples learns the real data first
            gan.train_scorer(spec, session.model, session.dataset)
        run.write_spec(session.resolved, spec.file)
        info = {
            "spec": spec.file,
            "seed": spec.seed,
            "started": started,
            "data_fingerprint": session.dataset.fingerprint,
            "task": session.dataset.task,
            "class_names": session.dataset.class_names,
            "environment": environment(),
        }
        write_json(run.file(RUN_INFO), info)
        session.checkpointer.save(TrainState())
        return _finish(session, TrainState(), info, quiet)


def resume(
    spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False, force: bool = False
) -> dict[str, Any]:
    """Continue a run from its newest intact checkpoint; refuse a changed spec or data
    unless ``force``. Return the final metrics per split."""
    if spec.train.mode == "actor_critic":
        from nnctl.training import actor_critic

        return actor_critic.resume(spec, base_dir, run, quiet=quiet, force=force)
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    with run.lock():
        directory = run.file(CHECKPOINTS)
        checkpoint.clean(directory)
        latest = checkpoint.latest(directory)
        arrays, meta = checkpoint.read(latest)
        session = _session(spec, base_dir, run)
        changes = _changes(meta, session)
        if changes and not force:
            listed = "\n  ".join(changes)
            raise UserError(
                f"{run.path}: changed since checkpoint {latest.name}:\n  {listed}\n"
                "Resume anyway with --force, or train into a new run directory."
            )
        state = restore(session.model, session.checkpointer.callbacks, arrays, meta)
        session.checkpointer.pinned = session.checkpointer.last = latest
        if not changes and _finished(run, state, spec):
            _say(f"{run.path}: training had already finished; nothing to resume")
            return json.loads(run.file(METRICS).read_text())
        if changes:
            run.write_spec(session.resolved, spec.file)
        _say(f"resuming {run.path} from {latest.name} ({_position(state, session)})")
        return _finish(session, state, _resumed_info(run, latest.name, changes), quiet)


def _resumed_info(run: RunDir, checkpoint_name: str, changes: list[str]) -> dict[str, Any]:
    """run.json with this resumption recorded."""
    info = run.read_info()
    entry = {"at": now(), "checkpoint": checkpoint_name, "forced_changes": changes}
    info.setdefault("resumed", []).append(entry)
    return info


def _session(spec: Spec, base_dir: Path, run: RunDir) -> Session:
    """Seed, data, and the compiled model with every variable created (so a checkpoint can
    be restored into it)."""
    set_seed(spec.seed)
    strings = load_dataset(spec.data, spec.train.validation, spec.seed, base_dir)
    labels.check_loss(spec, strings)
    dataset, vocab = modes.encode(spec, strings)
    if spec.train.mode == "gan":  # generator and discriminator, an optimizer each
        model, dataset = gan.prepare(spec, dataset, steps_per_epoch(spec, dataset))
    else:
        model = build_model(spec, dataset.train.x, vocab.sizes if vocab else None)
        dataset = modes.prepare(spec, dataset, model)
        y = dataset.train.y
        target = tuple(y.shape[1:]) if isinstance(y, np.ndarray) else None
        check_targets(spec, model, dataset.num_classes, target)
        compile_model(model, spec, steps_per_epoch(spec, dataset))
        size = spec.train.batch_size
        first = (rows(dataset.train.x, slice(size)), rows(dataset.train.y, slice(size)), None)
        first = (model_input(first[0]), *first[1:])  # text as string tensors
        model._symbolic_build(data_batch=first)
    resolved = absolute_paths(spec.resolved(), base_dir)
    extra = {"spec": resolved, "data_fingerprint": dataset.fingerprint}
    keep = checkpoint_options(spec)[1]
    checkpointer = Checkpointer(run.file(CHECKPOINTS), model, spec_callbacks(spec), keep, extra)
    return Session(spec, run, dataset, model, resolved, checkpointer, vocab, strings)


def _finish(session: Session, state: TrainState, info: dict, quiet: bool) -> dict[str, Any]:
    """Train from ``state`` to the end, then write model, metrics and curves, and seal."""
    clock = time.perf_counter()
    spec, run, model, dataset = session.spec, session.run, session.model, session.dataset
    run.unseal()
    if state.history:  # a resumed run's history is the checkpoint's, whatever was written since
        write_text(run.file(HISTORY), history_csv(state.history))
    extra = gan.callbacks(spec, model, dataset, run.path) if spec.train.mode == "gan" else []
    loop = make_loop(spec, dataset, model, run, session.checkpointer, quiet=quiet, extra=extra)
    state = loop.run(state)
    pause_point("finalize")
    with atomic_path(run.file(MODEL)) as tmp:
        model.save(tmp)
    metrics = {
        name: split_metrics(model, part, spec.train.batch_size)
        for name in SPLITS
        if (part := getattr(dataset, name)) is not None and count(part.x)
    }
    if session.vocab is not None:
        write_text(run.file(VOCABULARIES), session.vocab.to_json())
        decode = seq2seq.decoder(model, session.vocab)
        for name, figures in metrics.items():
            part = getattr(session.strings, name)
            figures["exact_match"] = seq2seq.exact_match(decode, session.vocab, part)
    write_json(run.file(METRICS), metrics)
    with atomic_path(run.file(CURVES)) as tmp:
        plot_curves(state.history, tmp)
    info |= {
        "finished": now(),
        "seconds": round(time.perf_counter() - clock, 2),
        "epochs": state.epoch,
    }
    write_json(run.file(RUN_INFO), info)
    run.seal()
    return metrics


def _changes(meta: dict, session: Session) -> list[str]:
    """What differs between the checkpoint's spec and data and this session's."""
    changes = spec_changes(_as_today(meta["spec"]), session.resolved)
    old, new = meta["data_fingerprint"], session.dataset.fingerprint
    if old != new:
        changes.append(f"data fingerprint: {old[:16]}... -> {new[:16]}... (the data changed)")
    return changes


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


def _finished(run: RunDir, state: TrainState, spec: Spec) -> bool:
    """Training ended and the run directory is sealed and intact."""
    if state.epoch < spec.train.epochs and not state.stopped:
        return False
    try:
        RunDir.open(run.path)
    except UserError:
        return False
    return True


def _position(state: TrainState, session: Session) -> str:
    epochs = session.spec.train.epochs
    if state.stopped or state.epoch >= epochs:
        return "training had ended; writing its final artifacts"
    if state.step:
        return f"epoch {state.epoch + 1} of {epochs}, after batch {state.step}"
    return f"after epoch {state.epoch} of {epochs}"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def absolute_paths(resolved: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Data file paths made absolute, so the run directory's spec works from anywhere."""
    sections = [resolved["data"], resolved["train"].get("validation")]
    for section in sections:
        if not isinstance(section, dict):
            continue
        for key in PATH_KEYS:
            if section.get(key):
                section[key] = str((base_dir / Path(section[key]).expanduser()).resolve())
    return resolved
