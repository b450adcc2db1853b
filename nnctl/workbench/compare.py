"""``nnctl compare``: runs side by side — final metrics with the best marked, the spec keys
whose values differ, and the learning curves overlaid in one PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nnctl.errors import UserError
from nnctl.rundir import SPEC, atomic_path
from nnctl.workbench.runs import RunRecord, is_run, lower_is_better, read, read_history

FIGURES = (".png", ".svg", ".pdf")  # what --plot writes, by the file name's ending
ABSENT = "<absent>"  # a key one spec has and another has not (as resume's spec changes say)


@dataclass
class Comparison:
    runs: list[RunRecord]
    labels: list[str]  # the runs' names, or their paths where two names are the same
    metrics: dict[str, list[float | None]]  # per metric, its value in each run
    best: dict[str, list[int]]  # per metric, the runs (indices) with the best value
    differences: dict[str, list[Any]]  # per spec key whose values differ, its value in each run

    def as_json(self) -> dict[str, Any]:
        return {
            "runs": [r.as_json() for r in self.runs],
            "metrics": {
                name: {
                    "values": dict(zip(self.labels, values, strict=True)),
                    "best": [self.labels[i] for i in self.best[name]],
                }
                for name, values in self.metrics.items()
            },
            "spec_differences": {
                key: dict(zip(self.labels, values, strict=True))
                for key, values in self.differences.items()
            },
        }


def compare(paths: list[Path]) -> Comparison:
    if len(paths) < 2:
        raise UserError("compare needs two run directories or more: nnctl compare RUN RUN...")
    for path in paths:
        if not is_run(path):
            raise UserError(f"{path}: not a run directory (no run.json, spec.yaml or checkpoints)")
    runs = [read(path) for path in paths]
    names = [r.name for r in runs]
    labels = names if len(set(names)) == len(names) else [str(p) for p in paths]
    metrics = {
        name: [r.metrics.get(name) for r in runs]
        for name in sorted({m for r in runs for m in r.metrics})
    }
    best = {name: _best(name, values) for name, values in metrics.items()}
    return Comparison(runs, labels, metrics, best, differing([_spec(p) for p in paths]))


def _best(metric: str, values: list[float | None]) -> list[int]:
    """The runs holding the best value (lowest loss or error, else highest); none unless two
    runs or more have the metric."""
    present = [v for v in values if v is not None]
    if len(present) < 2:
        return []
    target = min(present) if lower_is_better(metric) else max(present)
    return [i for i, v in enumerate(values) if v == target]


def _spec(path: Path) -> dict[str, Any]:
    """A run's resolved spec as written to spec.yaml ({} where it is missing or unreadable)."""
    try:
        spec = yaml.safe_load((path / SPEC).read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return spec if isinstance(spec, dict) else {}


def differing(specs: list[Any], path: str = "") -> dict[str, list[Any]]:
    """``key.path -> [value per spec]`` for every value that is not the same in all ``specs``:
    mappings by key, lists of one length item by item, anything else as a whole."""
    if all(isinstance(s, dict) for s in specs):
        keys = dict.fromkeys(k for s in specs for k in s)
        found: dict[str, list[Any]] = {}
        for key in keys:
            found |= differing(
                [s.get(key, ABSENT) for s in specs], f"{path}.{key}" if path else key
            )
        return found
    if all(isinstance(s, list) for s in specs) and len({len(s) for s in specs}) == 1:
        found = {}
        for i, items in enumerate(zip(*specs, strict=True)):
            found |= differing(list(items), f"{path}[{i}]")
        return found
    return {} if all(s == specs[0] for s in specs) else {path: specs}


def plot(comparison: Comparison, target: Path) -> None:
    """One panel per metric (loss, accuracy, ...), a colour per run: training solid,
    validation dashed."""
    if target.suffix.lower() not in FIGURES:
        raise UserError(
            f"--plot {target}: give a file name ending in {', '.join(FIGURES)} (the format)"
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    histories = [read_history(r.path) for r in comparison.runs]
    names = list(dict.fromkeys(k for h in histories for k in h if not k.startswith("val_")))
    names = [n for n in names if n != "learning_rate"]
    if not names:
        raise UserError("--plot: none of these runs has a history.csv with epochs to draw")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for i, (label, history) in enumerate(zip(comparison.labels, histories, strict=True)):
            for key, style, suffix in ((name, "-", ""), (f"val_{name}", "--", " (validation)")):
                values = history.get(key)
                if values:
                    steps = range(1, len(values) + 1)
                    colour = f"C{i % 10}"
                    ax.plot(
                        steps, values, style, marker="o", ms=3, color=colour, label=label + suffix
                    )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
