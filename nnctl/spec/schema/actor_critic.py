"""``env`` and ``agent``: the environment and how an actor-critic agent learns."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nnctl.spec.schema.base import Finite, PositiveFinite, PositiveInt, Section


class EnvSpec(Section):
    """``train.mode: actor_critic``: the Gymnasium environment the agent acts in."""

    id: str = Field(
        description="a Gymnasium environment id with discrete actions, e.g. CartPole-v1 "
        "(classic-control environments run offline)"
    )
    max_episode_steps: PositiveInt | None = Field(
        None,
        description="cut every episode off after this many steps (a time limit, not a failure); "
        "default: the environment's own (CartPole-v1: 500)",
    )
    args: dict[str, bool | int | float | str] = Field(
        default_factory=dict, description="keyword arguments for gymnasium.make"
    )


class AgentSpec(Section):
    """``train.mode: actor_critic``: advantage actor-critic. The model is a graph whose
    ``outputs: [POLICY, VALUE]`` are the action probabilities (a softmax over the actions) and
    the critic's estimate of the return (one unit); one trunk with two heads, or two towers."""

    policy: str = Field("policy", description="the output node of action probabilities")
    value: str = Field("value", description="the output node of the critic's estimate")
    episodes: PositiveInt = Field(1000, description="the most episodes to train")
    discount: Annotated[float, Field(gt=0, le=1)] = Field(
        0.99, description="gamma: what a reward one step later is worth"
    )
    update_every: PositiveInt | None = Field(
        None,
        description="update after this many steps, the rest of the return estimated by the "
        "critic (n-step); default: once per episode, on its whole returns",
    )
    gae_lambda: Annotated[float, Field(ge=0, le=1)] = Field(
        1.0,
        description="generalized advantage estimation: 1 weighs the observed returns alone, "
        "lower trusts the critic more (less variance, more bias)",
    )
    normalize_returns: bool = Field(
        False,
        description="standardize each episode's returns before the critic learns them, as "
        "keras.io's example does (once-per-episode updates only)",
    )
    normalize_advantages: bool = Field(
        False, description="standardize the advantages of each update"
    )
    entropy: Annotated[Finite, Field(ge=0)] = Field(
        0.0, description="entropy bonus: rewards a policy that keeps exploring"
    )
    value_weight: PositiveFinite = Field(
        0.5, description="weight of the critic's loss beside the actor's"
    )
    value_loss: Literal["huber", "mse"] = Field("huber", description="the critic's loss")
    reward_scale: PositiveFinite = Field(
        1.0, description="multiply rewards by this before learning (keeps values small)"
    )
    smoothing: Annotated[float, Field(gt=0, le=1)] = Field(
        0.05,
        description="running reward = smoothing * episode return + (1 - smoothing) * "
        "running reward (starts at 0)",
    )
    solved_at: Finite | None = Field(
        None,
        description="stop once the running reward exceeds this (keras.io: 195 on CartPole); "
        "default: train every episode",
    )
    evaluation_episodes: PositiveInt = Field(
        100, description="episodes the trained policy plays in evaluation (seeded apart)"
    )
    greedy_evaluation: bool = Field(
        False, description="evaluate the most probable action instead of sampling the policy"
    )
    checkpoint_every: PositiveInt = Field(
        10, description="episodes between checkpoints (also on interruption and at the end)"
    )
