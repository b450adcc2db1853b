"""``nnctl runs``: what a folder of run directories holds, one record per run, read from the
files training writes (no TensorFlow).

Status comes from ``RunDir.status``: ``running`` while a process holds the run's lock,
``finished`` once the manifest seals it, ``diverged`` or ``failed`` as the error boundary
recorded in run.json, ``interrupted`` otherwise (a run that can be resumed).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnctl.errors import UserError
from nnctl.rundir import CHECKPOINTS, HISTORY, METRICS, RUN_INFO, SPEC, RunDir
from nnctl.spec.catalog import suggest

SPLIT_PREFIX = {"train": "", "validation": "val_", "test": "test_"}  # Keras's history names
LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge")
COLUMNS = ("name", "started", "status", "epochs")  # what every run has, beside its metrics
SHOWN_METRICS = 6  # metric columns in the table (--json gives them all)


@dataclass
class RunRecord:
    path: Path
    started: str | None
    status: str
    epochs: int
    metrics: dict[str, float] = field(default_factory=dict)  # Keras's names: val_accuracy, ...

    @property
    def name(self) -> str:
        return self.path.name

    def value(self, key: str) -> Any:
        """A column's value (None where this run has none)."""
        if key in COLUMNS:
            return getattr(self, key)
        return self.metrics.get(key)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "started": self.started,
            "status": self.status,
            "epochs": self.epochs,
            "metrics": self.metrics,
        }


def is_run(path: Path) -> bool:
    """A directory training wrote into (a fresh one may hold only its spec or checkpoints)."""
    return path.is_dir() and any((path / n).exists() for n in (RUN_INFO, SPEC, CHECKPOINTS))


def collect(folder: Path) -> list[RunRecord]:
    """One record per run directory directly in ``folder``, oldest first."""
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder of runs (train one with: nnctl train SPEC)")
    runs = [read(path) for path in sorted(folder.iterdir()) if is_run(path)]
    return sorted(runs, key=lambda r: (r.started or "", r.name))


def read(path: Path) -> RunRecord:
    """A run directory's record; a missing or damaged file leaves its fields empty."""
    run = RunDir(path)
    history = read_history(path)
    epochs = max((len(v) for v in history.values()), default=0)
    return RunRecord(
        path=path,
        started=run.read_info().get("started"),
        status=run.status(),
        epochs=epochs,
        metrics=final_metrics(path, history),
    )


def read_history(path: Path) -> dict[str, list[float]]:
    """history.csv by column (the first, the epoch or episode number, left out)."""
    try:
        with (path / HISTORY).open(newline="") as file:
            rows = list(csv.reader(file))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    if not rows:
        return {}
    names = rows[0][1:]
    columns: dict[str, list[float]] = {name: [] for name in names}
    for row in rows[1:]:
        for name, text in zip(names, row[1:], strict=False):
            columns[name].append(_number(text))
    return columns


def final_metrics(path: Path, history: dict[str, list[float]]) -> dict[str, float]:
    """metrics.json by Keras's names (``val_accuracy``, ``test_loss``); for a run without it,
    its last epoch in history.csv."""
    try:
        by_split = json.loads((path / METRICS).read_text())
    except (OSError, ValueError):
        by_split = None
    if not isinstance(by_split, dict):
        return {k: v[-1] for k, v in history.items() if v and math.isfinite(v[-1])}
    metrics = {}
    for split, values in by_split.items():
        prefix = SPLIT_PREFIX.get(split, f"{split}_")
        for name, value in values.items() if isinstance(values, dict) else ():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[prefix + name] = float(value)
    return metrics


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in LOWER_IS_BETTER)


def sort(runs: list[RunRecord], key: str) -> list[RunRecord]:
    """Runs by ``key`` (a column or a metric), best first for a metric; runs without it last."""
    known = sorted({*COLUMNS, *(m for r in runs for m in r.metrics)})
    if key not in known:
        raise UserError(
            f"--sort {key}: no run has a column or metric of that name{suggest(key, known)} "
            f"(there are: {', '.join(known)})"
        )
    having = [r for r in runs if r.value(key) is not None]
    missing = [r for r in runs if r.value(key) is None]
    descending = key not in COLUMNS and not lower_is_better(key)
    return sorted(having, key=lambda r: r.value(key), reverse=descending) + missing


def shown_metrics(runs: list[RunRecord], sort_key: str | None) -> list[str]:
    """The metric columns of the table: the sort key, then test metrics, then validation
    ones, then the rest, at most ``SHOWN_METRICS``."""
    names = sorted({m for r in runs for m in r.metrics})
    rank = {"test_": 0, "val_": 1}
    ordered = sorted(names, key=lambda m: (rank.get(m[: m.find("_") + 1], 2), m))
    if sort_key in ordered:
        ordered.remove(sort_key)
        ordered.insert(0, sort_key)
    return ordered[:SHOWN_METRICS]
