"""Optimizer, learning-rate schedule, loss and metrics from their spec sections."""

from __future__ import annotations

from nnctl import layers as nnctl_layers
from nnctl.keras_env import import_keras
from nnctl.spec.catalog import snake_case
from nnctl.spec.schema import CosineDecay, ExponentialDecay, OptimizerSpec, Spec, StepDecay


def make_optimizer(spec: OptimizerSpec, steps_per_epoch: int, epochs: int):
    """The Keras optimizer, with epoch-based schedules converted to optimizer steps."""
    keras = import_keras()
    rate = learning_rate(spec, steps_per_epoch, epochs)
    config = {"class_name": spec.name, "config": {"learning_rate": rate, **spec.args}}
    return keras.optimizers.get(config)


def learning_rate(spec: OptimizerSpec, steps_per_epoch: int, epochs: int):
    """A float, or a Keras LearningRateSchedule (reduce-on-plateau is a callback instead)."""
    schedules = import_keras().optimizers.schedules
    lr, schedule = spec.learning_rate, spec.schedule
    if isinstance(schedule, StepDecay):
        every = schedule.every_epochs * steps_per_epoch
        return schedules.ExponentialDecay(lr, every, schedule.factor, staircase=True)
    if isinstance(schedule, ExponentialDecay):
        every = schedule.every_epochs * steps_per_epoch
        return schedules.ExponentialDecay(lr, every, schedule.rate, staircase=False)
    if isinstance(schedule, CosineDecay):
        warmup = schedule.warmup_epochs * steps_per_epoch
        decay = max(1, epochs * steps_per_epoch - warmup)
        if warmup:
            return schedules.CosineDecay(
                0.0, decay, schedule.alpha, warmup_target=lr, warmup_steps=warmup
            )
        return schedules.CosineDecay(lr, decay, schedule.alpha)
    return lr


def make_loss(spec: Spec):
    """``mse`` -> Keras's function; ``{name: huber, delta: 2.0}`` -> ``Huber(delta=2.0)``;
    ``{output: loss, ...}`` -> a dict of those, one per output."""
    if isinstance(spec.loss, dict) and "name" not in spec.loss:
        return {out: _one_loss(spec, loss, ("loss", out)) for out, loss in spec.loss.items()}
    return _one_loss(spec, spec.loss, ("loss",))


def _one_loss(spec: Spec, loss: str | dict, at: tuple):
    keras = import_keras()
    if isinstance(loss, str):
        return nnctl_layers.loss(loss) or keras.losses.get(loss)
    args = {k: v for k, v in loss.items() if k != "name"}
    classes = {snake_case(n): n for n in dir(keras.losses) if n[0].isupper()}
    name = loss["name"]
    if name not in classes:
        raise spec.error((*at, "name"), f"{name!r} has no arguments form; write loss: {name}")
    try:
        return getattr(keras.losses, classes[name])(**args)
    except TypeError as exc:
        raise spec.error(at, f"{classes[name]}: {exc}") from None
