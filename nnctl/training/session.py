"""The trainer of the modes that learn from a dataset: data -> compiled model -> the
checkpointed epoch loop -> metrics per split, asking the run's ``Mode`` at each step that a mode
does its own way (``nnctl.modes``).

``nnctl.training.run`` drives it through a run directory's lifecycle.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnctl.build import build_model, compile_model
from nnctl.build.targets import check_targets, target_shape
from nnctl.data import Dataset, count, labels, load_spec_data, rows
from nnctl.data.text import model_input
from nnctl.keras_env import set_seed
from nnctl.modes import Mode
from nnctl.rundir import CHECKPOINTS, HISTORY, RunDir, write_text
from nnctl.spec.schema import PATH_KEYS, Spec
from nnctl.training.callbacks import history_csv, spec_callbacks
from nnctl.training.curves import plot_curves
from nnctl.training.distribute import Distribution, weights_digest
from nnctl.training.evaluation import SPLITS, split_metrics
from nnctl.training.state import Checkpointer, TrainState
from nnctl.training.supervised import (
    checkpoint_options,
    class_weights,
    make_loop,
    steps_per_epoch,
)


@dataclass
class Session:
    """What one training process works with."""

    spec: Spec
    mode: Mode
    run: RunDir
    dataset: Dataset
    model: Any
    resolved: dict[str, Any]  # the spec as the run directory stores it
    checkpointer: Checkpointer
    distribution: Distribution  # train.distribute's strategy (the default: one replica)
    vocab: Any = None  # seq2seq: the vocabularies the model's token ids come from
    strings: Dataset | None = None  # the data before encoding (seq2seq: the strings)

    @classmethod
    def create(cls, spec: Spec, base_dir: Path, run: RunDir, mode: Mode) -> Session:
        """Strategy, seed, data, and the compiled model with every variable created in the
        strategy's scope (so a checkpoint can be restored into it)."""
        distribution = Distribution(spec)  # before TensorFlow does anything else
        set_seed(spec.seed, spec.train.deterministic)
        strings = load_spec_data(spec, base_dir)
        if mode.word_labels:
            labels.check_loss(spec, strings)
        dataset, vocab = mode.encode(spec, strings)
        with distribution.scope():
            model, dataset = mode.build(spec, dataset, vocab, steps_per_epoch(spec, dataset))
        if distribution.active and distribution.chief:
            print(distribution.summary(spec.train.batch_size), file=sys.stderr, flush=True)
        resolved = absolute_paths(spec.resolved(), base_dir)
        extra = {"spec": resolved, "data_fingerprint": dataset.fingerprint}
        keep = checkpoint_options(spec)[1]
        callbacks = spec_callbacks(spec)
        checkpointer = Checkpointer(run.file(CHECKPOINTS), model, callbacks, keep, extra)
        return cls(
            spec, mode, run, dataset, model, resolved, checkpointer, distribution, vocab, strings
        )

    @property
    def total(self) -> int:
        return self.spec.train.epochs

    def identity(self) -> dict[str, Any]:
        """What run.json records of the data (and of the distribution, if any)."""
        dataset = self.dataset
        info = {
            "data_fingerprint": dataset.fingerprint,
            "task": dataset.task,
            "class_names": dataset.class_names,
        }
        if self.distribution.active:
            info["distribute"] = self.distribution.describe(self.spec.train.batch_size)
        return info

    def changes(self, meta: dict) -> list[str]:
        """Whether the data differs from the checkpoint's."""
        old, new = meta["data_fingerprint"], self.dataset.fingerprint
        if old == new:
            return []
        return [f"data fingerprint: {old[:16]}... -> {new[:16]}... (the data changed)"]

    def begin(self) -> None:
        """Before a fresh run's first step: name classes read from words; a GAN's scorer of
        generated samples learns the real data."""
        if note := labels.announcement(self.dataset):
            print(note, file=sys.stderr, flush=True)
        self.mode.begin(self.spec, self.model, self.dataset)

    def position(self, state: TrainState) -> str:
        epochs = self.total
        if state.stopped or state.epoch >= epochs:
            return "training had ended; writing its final artifacts"
        if state.step:
            return f"epoch {state.epoch + 1} of {epochs}, after batch {state.step}"
        return f"after epoch {state.epoch} of {epochs}"

    def advance(self, state: TrainState, quiet: bool, extra: Sequence = ()) -> TrainState:
        """Train from ``state`` to the last epoch (or early stopping), with the caller's
        ``extra`` callbacks."""
        spec, run, model, dataset = self.spec, self.run, self.model, self.dataset
        if state.history:  # a resumed run's history is the checkpoint's, whatever was written
            write_text(run.file(HISTORY), history_csv(state.history))
        extra = [*self.mode.callbacks(spec, model, dataset, run.path), *extra]
        loop = make_loop(
            spec, dataset, model, run, self.checkpointer, self.distribution, quiet=quiet,
            extra=extra,
        )  # fmt: skip
        state = loop.run(state)
        if self.distribution.active:  # what follows (metrics, saving, export) on one device
            self.model = self.distribution.gathered(model, self._rebuilt)
        return state

    def _rebuilt(self):
        """The spec's model built again, outside any strategy."""
        spec, dataset = self.spec, self.dataset
        return self.mode.build(spec, dataset, self.vocab, steps_per_epoch(spec, dataset))[0]

    def conclude(self, state: TrainState) -> tuple[dict[str, Any], dict[str, Any]]:
        """Metrics per split (and the mode's own figures and artifacts), and what run.json
        adds."""
        model, dataset = self.model, self.dataset
        metrics = {
            name: split_metrics(model, part, self.spec.train.batch_size)
            for name in SPLITS
            if (part := getattr(dataset, name)) is not None and count(part.x)
        }
        self.mode.conclude(self, metrics)
        summary = {"epochs": state.epoch}
        if self.distribution.active:
            summary["weights_sha256"] = weights_digest(model)
        return metrics, summary

    def plot(self, state: TrainState, target: Path) -> None:
        plot_curves(state.history, target)


def compiled_model(mode: Mode, spec: Spec, dataset: Dataset, vocab, steps: int):
    """The spec's model, compiled, with every variable created, checked against the targets
    where the mode learns them; and the dataset as the mode trains on it."""
    model = build_model(spec, dataset.train.x, vocab.sizes if vocab else None)
    dataset = mode.prepare(spec, dataset, model)
    if mode.checks_targets:
        check_targets(spec, model, dataset.num_classes, target_shape(dataset.train.y))
    compile_model(model, spec, steps)
    size = spec.train.batch_size
    first = (rows(dataset.train.x, slice(size)), rows(dataset.train.y, slice(size)), None)
    first = (model_input(first[0]), *first[1:])  # text as string tensors
    model._symbolic_build(data_batch=first)
    class_weights(spec, dataset)  # refuses classes the data does not have, before any step
    return model, dataset


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
