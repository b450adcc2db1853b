"""One trial: the spec with the trial's values set through ``--set``, trained into a normal run
directory ``TUNE_DIR/trials/NNNN`` (evaluate, export, predict and resume work on it), the metric
reported to Optuna after every epoch so its pruner can stop a hopeless trial."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from nnctl.rundir import CHECKPOINTS, RunDir
from nnctl.spec.search import NO_SEARCH, override
from nnctl.spec.validate import load_spec

TRIALS = "trials"
PRUNED_EPOCH = "pruned_epoch"  # the trial's user attribute: the epoch its pruner stopped it at
HEARTBEAT = "heartbeat"  # the trial's user attribute: when its worker last said it was alive


@dataclass
class Outcome:
    value: float | None
    epochs: int
    pruned: bool


@dataclass
class Tune:
    """What every trial of one tune shares."""

    spec_path: Path
    overrides: list[str]
    tune_dir: Path
    metric: str
    quiet: bool = True  # plain progress lines: one per epoch

    def run_dir(self, number: int) -> Path:
        return self.tune_dir / TRIALS / f"{number:04d}"

    def spec(self, values: dict):
        """The spec with the trial's values, without its search section."""
        extra = [override(key, value) for key, value in values.items()] + [NO_SEARCH]
        spec, _ = load_spec(self.spec_path, [*self.overrides, *extra])
        return spec


def pruning(trial, metric: str):
    """A Keras callback that reports ``metric`` to the Optuna trial after each epoch and stops
    training when the pruner says the trial is hopeless, noting the epoch."""
    from nnctl.keras_env import import_keras

    keras = import_keras()

    class Pruning(keras.callbacks.Callback):
        pruned_at = None

        def on_epoch_end(self, epoch, logs=None):
            trial.set_user_attr(HEARTBEAT, time.time())
            value = (logs or {}).get(metric)
            if value is None:
                return
            trial.report(float(value), epoch + 1)
            last = epoch + 1 >= (self.params or {}).get("epochs", epoch + 2)  # nothing to save
            if not last and trial.should_prune():
                self.pruned_at = epoch + 1
                trial.set_user_attr(PRUNED_EPOCH, epoch + 1)
                self.model.stop_training = True

    return Pruning()


def run_trial(tune: Tune, trial, values: dict, *, resume: bool) -> Outcome:
    """Train (or, for an interrupted trial with a checkpoint, resume) the trial's run."""
    from nnctl.training import checkpoint
    from nnctl.training import run as training

    spec = tune.spec(values)
    run = RunDir(tune.run_dir(trial.number))
    callback = pruning(trial, tune.metric)
    base = tune.spec_path.parent
    if resume and checkpoint.intact(run.file(CHECKPOINTS)) is not None:
        metrics = training.resume(spec, base, run, quiet=tune.quiet, extra=[callback])
    else:
        run = RunDir.create(run.path, force=True)
        metrics = training.train(spec, base, run, quiet=tune.quiet, extra=[callback])
    pruned_at = callback.pruned_at or trial.user_attrs.get(PRUNED_EPOCH)
    epochs = run.read_info().get("epochs", spec.train.epochs)
    if pruned_at is not None:
        return Outcome(None, epochs, True)
    return Outcome(score(metrics, tune.metric), epochs, False)


def score(metrics: dict, metric: str) -> float | None:
    """The metric of the final model: ``val_NAME`` on the validation split, ``NAME`` on the
    training split (never the test split: it stays held out)."""
    split, name = ("validation", metric[4:]) if metric.startswith("val_") else ("train", metric)
    value = metrics.get(split, {}).get(name)
    return float(value) if value is not None else None
