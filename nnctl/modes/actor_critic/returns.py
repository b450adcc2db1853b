"""Rewards -> what the critic learns (targets) and what the actor follows (advantages)."""

from __future__ import annotations

import numpy as np

EPSILON = 1e-8


def gae(
    rewards: np.ndarray, values: np.ndarray, bootstrap: float, discount: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """(targets, advantages) by generalized advantage estimation.

    ``values`` are the critic's estimates at each step and ``bootstrap`` its estimate after the
    last one (0 when the episode ended). With ``lam`` 1 the targets are the discounted returns
    (the tail estimated by ``bootstrap``) and each advantage is target - value; lower ``lam``
    leans on the critic's later estimates instead of the rewards that followed.
    """
    advantages = np.zeros(len(rewards), dtype="float64")
    running, following = 0.0, float(bootstrap)
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + discount * following - values[t]
        running = delta + discount * lam * running
        advantages[t], following = running, values[t]
    return advantages + values, advantages


def discounted(rewards: np.ndarray, discount: float) -> np.ndarray:
    """Each step's discounted sum of the rewards from it to the end of the episode."""
    returns = np.zeros(len(rewards), dtype="float64")
    total = 0.0
    for t in reversed(range(len(rewards))):
        total = rewards[t] + discount * total
        returns[t] = total
    return returns


def standardized(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (all zeros for a constant ``x``)."""
    return (x - x.mean()) / (x.std() + EPSILON)
