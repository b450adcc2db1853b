"""The trained policy at work: evaluation episodes, the exported policy network, and what
``nnctl predict`` and ``nnctl export`` check it on."""

from __future__ import annotations

import numpy as np

from nnctl.keras_env import import_keras
from nnctl.modes.actor_critic import env as envs
from nnctl.spec.schema import Spec

EPISODES_SEEN = 4  # evaluation episodes whose observations check an export


def environment_id(spec: Spec) -> str:
    """What a run's episodes depend on beyond the spec: the environment's code version."""
    from importlib.metadata import version

    return f"{spec.env.id} (gymnasium {version('gymnasium')})"


def policy_and_value(spec: Spec, model):
    """A compiled function: a batch of observations -> (action probabilities, values)."""
    import_keras()
    import tensorflow as tf

    shape = (None, *model.input.shape[1:])
    policy, value = spec.agent.policy, spec.agent.value

    @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
    def act(observations):
        outputs = model(observations, training=False)
        return outputs[policy], outputs[value][:, 0]

    return act


def play_episodes(
    spec: Spec, act, count: int, *, greedy: bool, keep: list | None = None
) -> list[float]:
    """The returns of evaluation episodes 0 .. count-1, played side by side: one policy call
    per step for all episodes still running. Each episode has its own environment and random
    numbers, so it plays as it would alone. Observations are appended to ``keep`` if given."""
    rngs = [envs.episode_rng(spec.seed, envs.EVALUATION, i) for i in range(count)]
    games = [envs.make(spec) for _ in range(count)]
    observations = [envs.reset(game, rng) for game, rng in zip(games, rngs, strict=True)]
    totals, running = [0.0] * count, list(range(count))
    while running:
        batch = np.stack([observations[i] for i in running])
        if keep is not None:
            keep.extend(batch)
        probabilities = np.asarray(act(batch)[0])
        still = []
        for i, row in zip(running, probabilities, strict=True):
            action = int(row.argmax()) if greedy else envs.sample(row, rngs[i])
            observation, reward, terminated, truncated, _ = games[i].step(action)
            observations[i] = np.asarray(observation, dtype="float32")
            totals[i] += float(reward)
            if not (terminated or truncated):
                still.append(i)
        running = still
    return totals


def evaluate(spec: Spec, model) -> dict[str, float]:
    """Returns of ``agent.evaluation_episodes`` episodes played by the trained policy (seeded
    apart from training's): mean, standard deviation, lowest, highest."""
    act, settings = policy_and_value(spec, model), spec.agent
    returns = play_episodes(
        spec, act, settings.evaluation_episodes, greedy=settings.greedy_evaluation
    )
    return _summary(returns)


def random_policy_return(spec: Spec, actions: int) -> float:
    """Mean return of uniformly random actions over the evaluation episodes: the baseline."""

    def uniform(observations):
        return np.full((len(observations), actions), 1 / actions), None

    returns = play_episodes(spec, uniform, spec.agent.evaluation_episodes, greedy=False)
    return float(np.mean(returns))


def _summary(returns: list[float]) -> dict[str, float]:
    values = np.asarray(returns, dtype="float64")
    return {
        "mean_return": float(values.mean()),
        "std_return": float(values.std()),
        "min_return": float(values.min()),
        "max_return": float(values.max()),
        "episodes": float(len(values)),
    }


def policy_model(spec: Spec, model):
    """The policy alone, as exported: ``observation`` in, action probabilities out."""
    keras = import_keras()
    observation = keras.Input(shape=tuple(model.input.shape[1:]), name="observation")
    probabilities = model(observation)[spec.agent.policy]
    return keras.Model(observation, probabilities, name=f"{spec.name}_policy")


def observations(spec: Spec, model, count: int) -> np.ndarray:
    """``count`` observations the trained policy meets, spread over a few evaluation episodes."""
    act, seen = policy_and_value(spec, model), []
    play_episodes(spec, act, EPISODES_SEEN, greedy=spec.agent.greedy_evaluation, keep=seen)
    picked = np.linspace(0, len(seen) - 1, num=min(count, len(seen))).round().astype(int)
    return np.stack(seen)[picked]


def export_check(spec: Spec, model, fmt: str, count: int) -> np.ndarray:
    """The observations an export of the policy is checked on (formats that hold the policy)."""
    from nnctl.errors import UserError

    if fmt == "keras":
        raise UserError(
            "the run's model.keras already holds the whole actor-critic network; export the "
            "policy as saved_model, tflite or onnx"
        )
    return observations(spec, model, count)


def policy_predictor(run):
    """``nnctl predict`` on an actor_critic run: the policy's action probabilities."""
    from nnctl.predictors import keras_predictor
    from nnctl.rundir import load_run

    spec, model = load_run(run)
    return keras_predictor(policy_model(spec, model))


def evaluation_report(spec: Spec, model):
    """``nnctl evaluate``: the evaluation episodes' returns beside a random policy's."""
    from nnctl.training.evaluation import Report

    metrics = evaluate(spec, model)
    actions = int(model.output[spec.agent.policy].shape[-1])
    baselines = {"random_policy_return": random_policy_return(spec, actions)}
    episodes = spec.agent.evaluation_episodes
    return Report("evaluation", episodes, metrics, baselines=baselines, unit="episodes")
