"""The actor-critic network: the spec's graph on the environment's observations, checked to have
a policy head (probabilities over the actions) and a value head (one number)."""

from __future__ import annotations

import numpy as np

from nnctl.build.model import build_model
from nnctl.modes.actor_critic import env as envs
from nnctl.spec.schema import Spec

ADAPT_STEPS = 2000  # observations of random play that Normalization-like layers adapt on


def build_agent(spec: Spec, env=None):
    """The uncompiled two-headed model for ``spec`` (the environment is made if not given)."""
    env = env if env is not None else envs.make(spec)
    shape = tuple(env.observation_space.shape)
    given = spec.model.input_shape
    if given is not None and tuple(given) != shape:
        message = f"{spec.env.id} observes shape {shape}, not {tuple(given)}; leave it out"
        raise spec.error(("model", "input_shape"), message)
    observations = envs.random_observations(spec, env, ADAPT_STEPS)
    model = build_model(spec, observations)
    check_heads(spec, model, env, observations[:64])
    return model


def check_heads(spec: Spec, model, env, observations: np.ndarray) -> None:
    """The policy output gives a probability per action, the value output one number."""
    outputs = model(observations)
    actions = int(env.action_space.n)
    policy, value = outputs[spec.agent.policy], outputs[spec.agent.value]
    where = _node_path(spec, spec.agent.policy)
    if tuple(policy.shape[1:]) != (actions,):
        message = (f"the policy gives shape {tuple(policy.shape[1:])} per observation; "
                   f"{spec.env.id} has {actions} actions: end it with "
                   f"Dense: {{units: {actions}, activation: softmax}}")  # fmt: skip
        raise spec.error(where, message)
    probabilities = np.asarray(policy)
    if not (np.all(probabilities >= 0) and np.allclose(probabilities.sum(-1), 1, atol=1e-4)):
        raise spec.error(where, "the policy must give action probabilities: "
                                "end it with activation: softmax")  # fmt: skip
    if tuple(value.shape[1:]) != (1,):
        message = f"the value gives shape {tuple(value.shape[1:])}; it must be one number: Dense: 1"
        raise spec.error(_node_path(spec, spec.agent.value), message)


def _node_path(spec: Spec, name: str) -> tuple:
    """The spec path of the graph node called ``name`` (or of model.outputs)."""
    for index, node in enumerate(spec.model.nodes or []):
        if node.name == name:
            return ("model", "nodes", index)
    return ("model", "outputs")
