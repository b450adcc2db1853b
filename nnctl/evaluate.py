"""``nnctl evaluate``: a trained run's figures, as its mode reports them."""

from __future__ import annotations

from nnctl.modes import mode_of
from nnctl.rundir import RunDir, load_run
from nnctl.training.evaluation import Report


def evaluate_run(run: RunDir, split: str) -> Report:
    spec, model = load_run(run)
    return mode_of(spec).evaluate(spec, model, run, split)
