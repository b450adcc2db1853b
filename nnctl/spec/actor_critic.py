"""Spec rules of ``train.mode: actor_critic`` (``nnctl validate``; no TensorFlow, and Gymnasium's
registry only for actor-critic specs)."""

from __future__ import annotations

from collections.abc import Iterator

from nnctl.spec.catalog import hint
from nnctl.spec.loader import PathKey
from nnctl.spec.schema import Spec

Issue = tuple[PathKey, str, bool]  # as checks.py: (path, message, point at the key)

# train keys about epochs over data; an agent learns from agent.episodes instead
EPOCH_KEYS = (
    "epochs", "batch_size", "validation", "shuffle", "early_stopping", "class_weight",
    "steps_per_call",
)  # fmt: skip
# train keys about nnctl's compiled training loop, which an agent's learning step does not use
LOOP_KEYS = ("jit_compile", "mixed_precision")
COMMON_ENVS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "LunarLander-v3"]


def check_actor_critic(spec: Spec) -> Iterator[Issue]:
    """Keys that do not apply to an agent, the environment's id, and the model's two heads."""
    for key in EPOCH_KEYS:
        if _set(spec.train, key):
            yield ("train", key), f"{_not_here('train.' + key)} (see agent.episodes)", True
    for key in LOOP_KEYS:
        if _set(spec.train, key):
            message = f"{_not_here('train.' + key)}: its learning step runs as written"
            yield ("train", key), message, True
    if spec.train.distribute is not None:
        message = (f"{_not_here('train.distribute')}: an agent learns from the one environment it "
                   "plays, step by step, which replicas cannot split")  # fmt: skip
        yield ("train", "distribute"), message, True
    if _set(spec.train.checkpoint, "every_steps"):
        where = ("train", "checkpoint", "every_steps")
        yield where, f"{_not_here('it')} (see agent.checkpoint_every)", True
    if spec.metrics:
        yield ("metrics",), f"{_not_here('metrics')}: evaluation reports episode returns", True
    if spec.optimizer.schedule is not None:
        yield ("optimizer", "schedule"), f"{_not_here('a learning-rate schedule')}", True
    if spec.export.encoder is not None:
        yield ("export", "encoder"), f"{_not_here('export.encoder')}", True
    agent = spec.agent
    if agent.normalize_returns and agent.update_every is not None:
        message = "normalize_returns standardizes whole episodes; it needs update_every unset"
        yield ("agent", "normalize_returns"), message, False
    yield from _check_env_id(spec)
    yield from _check_outputs(spec)


def _set(section, key: str) -> bool:
    """Whether ``key`` was given a value other than its default (a run's resolved spec writes
    every default out)."""
    field = type(section).model_fields[key]
    default = field.default_factory() if field.default_factory else field.default
    return key in section.model_fields_set and getattr(section, key) != default


def _not_here(what: str) -> str:
    return f"{what} does not apply to train.mode actor_critic"


def _check_env_id(spec: Spec) -> Iterator[Issue]:
    import gymnasium

    known = sorted(gymnasium.envs.registry)
    if spec.env.id not in known:
        message = f"no Gymnasium environment {spec.env.id!r}{hint(spec.env.id, known, COMMON_ENVS)}"
        yield ("env", "id"), message, False


def _check_outputs(spec: Spec) -> Iterator[Issue]:
    """The graph's outputs are the policy and value nodes the agent section names."""
    model, agent = spec.model, spec.agent
    heads = [agent.policy, agent.value]
    wanted = f"outputs: [{agent.policy}, {agent.value}]"
    if model.nodes is None:
        message = (f"an actor-critic model has two outputs: write it as a graph (nodes:) with "
                   f"{wanted}, the action probabilities and the value")  # fmt: skip
        yield ("model", "layers"), message, True
    elif sorted(model.outputs or []) != sorted(heads):
        got = f"outputs: {model.outputs}" if model.outputs else "no outputs"
        at = ("model", "outputs") if model.outputs else ("model",)
        message = (f"an actor-critic model's {wanted} (agent.policy and agent.value) are its "
                   f"action probabilities and value; got {got}")  # fmt: skip
        yield at, message, not model.outputs
