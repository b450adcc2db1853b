"""Everything a checkpoint must hold to continue a run exactly: ``TrainState`` (counters and
history), every variable of model, optimizer and metrics (Keras's dropout and noise layers keep
their random state in variables too), the vocabularies of adapted text layers, the resumable
callbacks' state and the global random state.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.build.adapt import adapted_state, restore_adapted
from nnctl.errors import UserError
from nnctl.training import checkpoint, finite
from nnctl.training.callbacks import Resumable
from nnctl.training.checkpoint import Checkpoint

FORMAT = 1


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # steps of epoch ``epoch`` completed (non-zero in a mid-epoch checkpoint)
    global_step: int = 0
    stopped: bool = False  # early stopping ended training
    history: dict[str, list[float]] = field(default_factory=dict)


def state_variables(model) -> list:
    """Model variables (weights and seed-generator states), optimizer and metric variables.
    A model with several optimizers (a GAN's) lists them as ``optimizers``."""
    optimizers = getattr(model, "optimizers", None) or [model.optimizer]
    optimizer_variables = [v for optimizer in optimizers for v in optimizer.variables]
    seen, variables = set(), []
    for variable in [*model.variables, *optimizer_variables, *model.metrics_variables]:
        if id(variable) not in seen:
            seen.add(id(variable))
            variables.append(variable)
    return variables


def capture(model, callbacks: dict[str, Resumable], state: TrainState) -> tuple[dict, dict]:
    """(arrays, json-able state) of the whole training state."""
    variables = state_variables(model)
    arrays = {f"var_{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(variables)}
    meta: dict[str, Any] = {"format": FORMAT, **asdict(state), "callbacks": {}}
    meta["variables"] = [v.path for v in variables]  # names vary: Keras numbers them per process
    meta["shapes"] = [list(v.shape) for v in variables]
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
    variables = state_variables(model)
    shapes = [list(v.shape) for v in variables]
    if shapes != meta["shapes"]:
        raise UserError(
            "the checkpoint does not fit this model: it holds variables of shapes "
            f"{_listed(meta['shapes'])}, the model has {_listed(shapes)}"
        )
    for i, variable in enumerate(variables):
        variable.assign(arrays[f"var_{i:04d}"])
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
