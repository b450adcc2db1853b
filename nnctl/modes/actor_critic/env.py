"""The Gymnasium environment of an actor_critic spec, made and checked, seeded per episode.

Every episode is a function of (spec seed, purpose, episode number) alone: the environment's
reset seed and the random numbers that sample actions come from one generator made from them, so
training resumed at an episode boundary replays exactly what an uninterrupted run would.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnctl.spec.schema import Spec

TRAINING, EVALUATION, RANDOM_PLAY = 0, 1, 2  # purposes: separate streams of episodes


def gymnasium():
    """Gymnasium, imported on first use (only actor_critic specs need it)."""
    import gymnasium

    return gymnasium


def make(spec: Spec) -> Any:
    """The spec's environment; a located error if it cannot be made or does not fit an
    actor-critic agent (discrete actions, a box of float observations)."""
    gym, env_spec = gymnasium(), spec.env
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation notices of old environment versions
            env = gym.make(env_spec.id, max_episode_steps=env_spec.max_episode_steps,
                           disable_env_checker=True, **env_spec.args)  # fmt: skip
    except gym.error.Error as exc:
        raise spec.error(("env", "id"), f"cannot make {env_spec.id!r}: {exc}") from None
    except TypeError as exc:
        raise spec.error(("env", "args"), f"{env_spec.id}: {exc}") from None
    actions, observations = env.action_space, env.observation_space
    if not isinstance(actions, gym.spaces.Discrete):
        message = f"{env_spec.id} has actions {actions}; actor_critic needs discrete actions"
        raise spec.error(("env", "id"), message)
    if not isinstance(observations, gym.spaces.Box) or observations.dtype.kind != "f":
        message = f"{env_spec.id} observes {observations}; actor_critic needs a box of floats"
        raise spec.error(("env", "id"), message)
    return env


def episode_rng(seed: int, purpose: int, episode: int) -> np.random.Generator:
    """The random numbers of one episode: its reset seed first, then its action samples."""
    return np.random.default_rng([seed, purpose, episode])


def reset(env, rng: np.random.Generator) -> np.ndarray:
    observation, _ = env.reset(seed=int(rng.integers(2**31)))
    return np.asarray(observation, dtype="float32")


def sample(probabilities: np.ndarray, rng: np.random.Generator) -> int:
    """An action drawn from ``probabilities`` (one draw from ``rng``, whatever they are)."""
    cumulative = np.cumsum(probabilities, dtype="float64")
    action = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(action, len(probabilities) - 1)


def random_observations(spec: Spec, env, count: int) -> np.ndarray:
    """``count`` observations of episodes played with uniformly random actions: what layers
    that learn from data (``Normalization``) adapt on before training."""
    seen, episode = [], 0
    while len(seen) < count:
        rng = episode_rng(spec.seed, RANDOM_PLAY, episode)
        observation, done = reset(env, rng), False
        while not done and len(seen) < count:
            seen.append(observation)
            action = int(rng.integers(env.action_space.n))
            observation, _, terminated, truncated, _ = env.step(action)
            observation = np.asarray(observation, dtype="float32")
            done = terminated or truncated
        episode += 1
    return np.stack(seen)
