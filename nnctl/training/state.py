"""Everything a checkpoint must hold to continue a run exactly: ``TrainState`` (counters and
history), every variable of model, optimizer and metrics (Keras's dropout and noise layers keep
their random state in variables too), the vocabularies of adapted text layers, the resumable
callbacks' state and the global random state.

Variables are saved and restored by their stable paths (``nnctl/build/paths.py``: the same in
every process, however Keras numbered its layers), so a checkpoint that lacks one of the model's
variables, holds one the model lacks, or differs in a shape is refused naming them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.build.adapt import adapted_state, restore_adapted
from nnctl.build.paths import variable_paths
from nnctl.errors import UserError
from nnctl.training import checkpoint, finite
from nnctl.training.callbacks import Resumable
from nnctl.training.checkpoint import Checkpoint

FORMAT = 2  # 1: variables by position; 2: by stable path (build.paths)
SHOWN = 3  # variables named in an error, of each kind of mismatch


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # steps of epoch ``epoch`` completed (non-zero in a mid-epoch checkpoint)
    global_step: int = 0
    stopped: bool = False  # early stopping ended training
    history: dict[str, list[float]] = field(default_factory=dict)


def _optimizers(model) -> list:
    """The model's optimizers: a GAN lists its two as ``optimizers``."""
    return getattr(model, "optimizers", None) or [model.optimizer]


def state_variables(model) -> list:
    """Model variables (weights and seed-generator states), optimizer and metric variables."""
    optimizer_variables = [v for optimizer in _optimizers(model) for v in optimizer.variables]
    seen, variables = set(), []
    for variable in [*model.variables, *optimizer_variables, *model.metrics_variables]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def named_variables(model) -> dict[str, Any]:
    """``state_variables`` by their stable paths (the same in every process: ``build.paths``)."""
    variables = state_variables(model)
    return dict(zip(variable_paths(model, _optimizers(model), variables), variables, strict=True))


def capture(model, callbacks: dict[str, Resumable], state: TrainState) -> tuple[dict, dict]:
    """(arrays, json-able state) of the whole training state."""
    variables = named_variables(model)
    arrays = {f"var_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(variables.values())}
    meta: dict[str, Any] = {"format": FORMAT, **asdict(state), "callbacks": {}}
    meta["variables"] = list(variables)  # arrays var_0000, var_0001, ... in this order
    meta["shapes"] = [list(v.shape) for v in variables.values()]
    for key, callback in callbacks.items():
        values, weights = callback.get_state()
        if not values:  # training has not begun: nothing to restore
            continue
        meta["callbacks"][key] = values | {"arrays": len(weights)}
        arrays |= {f"{key}_{i:04d}": np.asarray(w) for i, w in enumerate(weights)}
    arrays |= adapted_state(model)  # vocabularies: not variables, yet the weights depend on them
    numpy_state = np.random.get_state()
    arrays["numpy_random"] = numpy_state[1]
    meta["random"] = {"python": random.getstate(), "numpy": list(numpy_state[2:])}
    return arrays, meta


def restore(model, callbacks: dict[str, Resumable], arrays: dict, meta: dict) -> TrainState:
    """Put a checkpoint's state into ``model`` and ``callbacks``; return the training state."""
    if meta.get("format", 1) == 1:  # variables in order, by the paths of the process that saved
        _restore_in_order(state_variables(model), arrays, meta)
    else:
        _restore_by_path(named_variables(model), arrays, meta)
    restore_adapted(model, arrays)
    for key, callback in callbacks.items():
        values = meta["callbacks"].get(key)
        if values is not None:
            callback.set_state(values, [arrays[f"{key}_{i:04d}"] for i in range(values["arrays"])])
    python_state = meta["random"]["python"]
    random.setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    np.random.set_state(("MT19937", arrays["numpy_random"], *meta["random"]["numpy"]))
    fields = TrainState.__dataclass_fields__
    return TrainState(**{k: v for k, v in meta.items() if k in fields})


def _restore_by_path(variables: dict[str, Any], arrays: dict, meta: dict) -> None:
    """Each variable from the array saved under its path; refuse any path or shape that differs."""
    saved = {path: (i, tuple(shape)) for i, (path, shape) in enumerate(
        zip(meta["variables"], meta["shapes"], strict=True))}  # fmt: skip
    shapes = {path: tuple(v.shape) for path, v in variables.items()}
    missing = [f"{p} {shape} is not in the checkpoint" for p, shape in shapes.items()
               if p not in saved]  # fmt: skip
    extra = [f"the checkpoint's {p} {s} is not in the model" for p, (_, s) in saved.items()
             if p not in shapes]  # fmt: skip
    resized = [
        f"{p} has shape {saved[p][1]} in the checkpoint, {shape} in the model"
        for p, shape in shapes.items()
        if p in saved and saved[p][1] != shape
    ]
    if missing or extra or resized:
        listed = "; ".join(_first(kind) for kind in (missing, extra, resized) if kind)
        raise UserError(f"the checkpoint does not fit this model: {listed}")
    for path, variable in variables.items():
        variable.assign(arrays[f"var_{saved[path][0]:04d}"])


def _first(problems: list[str]) -> str:
    more = f" (and {len(problems) - SHOWN} more like it)" if len(problems) > SHOWN else ""
    return "; ".join(problems[:SHOWN]) + more


def _restore_in_order(variables: list, arrays: dict, meta: dict) -> None:
    """A format-1 checkpoint: its variables in the order of ``state_variables``."""
    shapes = [list(v.shape) for v in variables]
    if shapes != meta["shapes"]:
        raise UserError(
            "the checkpoint does not fit this model: it holds variables of shapes "
            f"{_listed(meta['shapes'])}, the model has {_listed(shapes)}"
        )
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"var_{i:04d}"])


def _position(state: TrainState) -> str:
    if state.step:
        return f"epoch {state.epoch + 1}, batch {state.step}"
    return f"the end of epoch {state.epoch}"


def _listed(shapes: list) -> str:
    return ", ".join(str(tuple(s)) for s in shapes[:6]) + (", ..." if len(shapes) > 6 else "")


class Checkpointer:
    """Saves the training state into ``directory`` and keeps the newest ``keep`` checkpoints
    (and always ``pinned``, the checkpoint this process resumed from)."""

    def __init__(self, directory: Path, model, callbacks: dict, keep: int, extra: dict):
        self.directory, self.model, self.callbacks = directory, model, callbacks
        self.keep, self.extra = keep, extra
        self.pinned: Checkpoint | None = None
        self.last: Checkpoint | None = None

    def save(self, state: TrainState) -> Checkpoint:
        """Write the state as the newest checkpoint; never one that holds a NaN or infinity."""
        arrays, meta = capture(self.model, self.callbacks, state)
        paths = {f"var_{i:04d}": path for i, path in enumerate(meta["variables"])}
        named = {paths.get(key, key): array for key, array in arrays.items()}
        finite.refuse_non_finite(named, f"the checkpoint at {_position(state)}", self.last)
        self.last = checkpoint.write(
            self.directory, state.epoch, state.step, arrays, meta | self.extra
        )
        checkpoint.retain(self.directory, self.keep, self.pinned)
        return self.last
