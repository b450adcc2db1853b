"""The trained policy at work: evaluation episodes, the exported policy network, and what
``nnctl predict`` and ``nnctl export`` check it on."""

from __future__ import annotations

import numpy as np

from nnctl.keras_env import import_keras
from nnctl.rl import env as envs
from nnctl.spec.schema import Spec


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


def play_episode(env, act, rng: np.random.Generator, *, greedy: bool, keep: list | None = None):
    """One episode with the policy (sampled, or its most probable action); its return.
    Observations are appended to ``keep`` when given."""
    observation, done, total = envs.reset(env, rng), False, 0.0
    while not done:
        if keep is not None:
            keep.append(observation)
        probabilities = np.asarray(act(observation[None])[0])[0]
        action = int(probabilities.argmax()) if greedy else envs.sample(probabilities, rng)
        observation, reward, terminated, truncated, _ = env.step(action)
        observation = np.asarray(observation, dtype="float32")
        total, done = total + float(reward), terminated or truncated
    return total


def evaluate(spec: Spec, model, env=None) -> dict[str, float]:
    """Returns of ``agent.evaluation_episodes`` episodes played by the trained policy (seeded
    apart from training's): mean, standard deviation, lowest, highest."""
    env = env if env is not None else envs.make(spec)
    act, settings = policy_and_value(spec, model), spec.agent
    returns = [
        play_episode(
            env,
            act,
            envs.episode_rng(spec.seed, envs.EVALUATION, episode),
            greedy=settings.greedy_evaluation,
        )  # fmt: skip
        for episode in range(settings.evaluation_episodes)
    ]
    return _summary(returns)


def random_policy_return(spec: Spec, env=None) -> float:
    """Mean return of uniformly random actions over the evaluation episodes: the baseline."""
    env = env if env is not None else envs.make(spec)
    n = int(env.action_space.n)

    def uniform(observations):
        return np.full((len(observations), n), 1 / n), None

    returns = [
        play_episode(
            env, uniform, envs.episode_rng(spec.seed, envs.EVALUATION, episode), greedy=False
        )  # fmt: skip
        for episode in range(spec.agent.evaluation_episodes)
    ]
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
    """``count`` observations the trained policy meets, spread over evaluation episodes."""
    env, act, seen, episode = envs.make(spec), policy_and_value(spec, model), [], 0
    while len(seen) < count and episode < count:
        rng = envs.episode_rng(spec.seed, envs.EVALUATION, episode)
        play_episode(env, act, rng, greedy=spec.agent.greedy_evaluation, keep=seen)
        episode += 1
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
    from nnctl.evaluate import load_run
    from nnctl.export import keras_predictor

    spec, model = load_run(run)
    return keras_predictor(policy_model(spec, model))


def evaluation_report(spec: Spec, model):
    """``nnctl evaluate``: the evaluation episodes' returns beside a random policy's."""
    from nnctl.evaluate import Report

    env = envs.make(spec)
    metrics = evaluate(spec, model, env)
    baselines = {"random_policy_return": random_policy_return(spec, env)}
    episodes = spec.agent.evaluation_episodes
    return Report("evaluation", episodes, metrics, baselines=baselines, unit="episodes")
