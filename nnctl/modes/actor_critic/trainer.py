"""``train.mode: actor_critic``: advantage actor-critic, learning from episodes in a Gymnasium
environment instead of epochs over data.

The agent plays an episode with its policy, and after it (or every ``agent.update_every`` steps)
takes one gradient step on the actor's loss (advantage-weighted log-probabilities of the actions
taken), the critic's (its estimates against the returns) and the entropy bonus. Training stops
after ``agent.episodes`` or once the running reward exceeds ``agent.solved_at``.

Episodes are seeded by (seed, episode number) and checkpoints are taken at episode boundaries,
so a resumed run replays exactly the episodes an uninterrupted one would have played.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.build.optimizer import make_optimizer
from nnctl.keras_env import set_seed
from nnctl.modes import mode_of
from nnctl.modes.actor_critic import env as envs
from nnctl.modes.actor_critic import play
from nnctl.modes.actor_critic.agent import build_agent
from nnctl.modes.actor_critic.returns import EPSILON, discounted, gae, standardized
from nnctl.rundir import (
    CHECKPOINTS,
    HISTORY,
    LOGS,
    RunDir,
    write_text,
)
from nnctl.spec.schema import Spec
from nnctl.task import Task
from nnctl.testhooks import pause_point, poison_weights
from nnctl.training import callbacks, finite
from nnctl.training.curves import plot_episodes
from nnctl.training.progress import EpisodeProgress
from nnctl.training.signals import interrupted, interruptible
from nnctl.training.state import Checkpointer, TrainState

COLUMNS = ("return", "running_reward", "steps", "loss", "actor_loss", "critic_loss", "entropy")


@dataclass
class Segment:
    """The steps played since the last update."""

    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    values: list = field(default_factory=list)


class Agent:
    """The network, its optimizer and environment, and the compiled act and learn steps: the
    actor-critic mode's trainer for ``nnctl.training.run``."""

    def __init__(self, spec: Spec, run: RunDir):
        set_seed(spec.seed, spec.train.deterministic)
        self.spec, self.settings, self.run = spec, spec.agent, run
        self.env = envs.make(spec)
        self.model = build_agent(spec, self.env)
        optimizer = make_optimizer(spec.optimizer, 1, self.settings.episodes)
        self.model.compile(optimizer=optimizer)
        optimizer.build(self.model.trainable_variables)
        self.resolved = spec.resolved()
        extra = {"spec": self.resolved, "environment": play.environment_id(spec)}
        keep = spec.train.checkpoint.keep_last
        self.checkpointer = Checkpointer(run.file(CHECKPOINTS), self.model, {}, keep, extra)
        self.act = play.policy_and_value(spec, self.model)
        self.watched = finite.watched(self.model)
        self.weight_total = 0.0  # the divergence guard's sum after the latest update
        self.learn = self._learn_step()

    @property
    def total(self) -> int:
        return self.settings.episodes

    def identity(self) -> dict[str, Any]:
        """What run.json records of the environment; the policy's classes are its actions."""
        actions = [str(a) for a in range(int(self.env.action_space.n))]
        return {"env": play.environment_id(self.spec), "task": Task.POLICY, "class_names": actions}

    def changes(self, meta: dict) -> list[str]:
        """Whether the environment differs from the checkpoint's."""
        old, new = meta.get("environment"), play.environment_id(self.spec)
        return [] if old == new else [f"environment: {old} -> {new}"]

    def begin(self) -> None:
        """Nothing to do before the first episode."""

    def position(self, state: TrainState) -> str:
        return f"after episode {state.epoch}"

    def advance(self, state: TrainState, quiet: bool, extra: Sequence = ()) -> TrainState:
        """Play and learn from ``state`` to the last episode, or until solved (episodes have no
        Keras epoch hooks: ``extra`` callbacks are not called)."""
        write_text(self.run.file(HISTORY), history_csv(state.history))
        return _episodes(self, state, quiet)

    def conclude(self, state: TrainState) -> tuple[dict[str, Any], dict[str, Any]]:
        """How training went, and the trained policy's evaluation episodes."""
        running = _last(state.history, "running_reward")
        trained = {"episodes": state.epoch, "running_reward": running}
        if state.stopped:
            trained["solved_at_episode"] = state.epoch
        metrics = {"train": trained, "evaluation": play.evaluate(self.spec, self.model)}
        solved = trained.get("solved_at_episode")
        return metrics, {"episodes": state.epoch, "solved_at_episode": solved}

    def plot(self, state: TrainState, target: Path) -> None:
        plot_episodes(state.history, self.settings.solved_at, target)

    def _learn_step(self):
        """One gradient step on a segment: (observations, actions, targets, advantages) ->
        (loss, actor loss, critic loss, entropy), each summed over the segment's steps, and the
        divergence guard's sum over the weights after the step."""
        import tensorflow as tf

        model, settings, watched = self.model, self.settings, self.watched
        shape = (None, *self.env.observation_space.shape)
        vector = tf.TensorSpec((None,), tf.float32)
        signature = [tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,), tf.int32)]
        signature += [vector, vector]  # targets, advantages
        huber = settings.value_loss == "huber"

        @tf.function(input_signature=signature)
        def learn(observations, actions, targets, advantages):
            with tf.GradientTape() as tape:
                outputs = model(observations, training=True)
                probabilities = outputs[settings.policy]
                values = outputs[settings.value][:, 0]
                chosen = tf.gather(probabilities, actions, batch_dims=1)
                actor = -tf.reduce_sum(tf.math.log(chosen + EPSILON) * advantages)
                error = tf.abs(targets - values)
                per_step = tf.where(error <= 1, 0.5 * error**2, error - 0.5) if huber else error**2
                critic = tf.reduce_sum(per_step)
                entropy = -tf.reduce_sum(probabilities * tf.math.log(probabilities + EPSILON))
                loss = actor + settings.value_weight * critic - settings.entropy * entropy
                loss += sum(model.losses)  # the layers' weight regularizers
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply(gradients, model.trainable_variables)
            return loss, actor, critic, entropy, finite.weight_total(watched)

        return learn

    def episode(self, number: int) -> dict[str, float]:
        """Play training episode ``number`` (0-based), learning as it goes; its logs."""
        rng = envs.episode_rng(self.spec.seed, envs.TRAINING, number)
        observation, done = envs.reset(self.env, rng), False
        segment, sums, total, steps = Segment(), np.zeros(4), 0.0, 0
        poison_weights(self.model, number)
        while not done:
            probabilities, value = self.act(observation[None])
            action = envs.sample(np.asarray(probabilities)[0], rng)
            following, reward, terminated, truncated, _ = self.env.step(action)
            segment.observations.append(observation)
            segment.actions.append(action)
            segment.rewards.append(float(reward) * self.settings.reward_scale)
            segment.values.append(float(np.asarray(value)[0]))
            total, steps = total + float(reward), steps + 1
            observation = np.asarray(following, dtype="float32")
            done = terminated or truncated
            if done or len(segment.actions) == self.settings.update_every:
                ended = terminated or self.settings.normalize_returns
                bootstrap = 0.0 if ended else float(np.asarray(self.act(observation[None])[1])[0])
                results = self._update(segment, bootstrap)
                sums, self.weight_total = sums + results[:4], results[4]
                segment = Segment()
        loss, actor, critic, entropy = (sums / steps).tolist()
        return {"return": total, "steps": steps, "loss": loss, "actor_loss": actor,
                "critic_loss": critic, "entropy": entropy}  # fmt: skip

    def _update(self, segment: Segment, bootstrap: float) -> np.ndarray:
        settings = self.settings
        rewards, values = np.asarray(segment.rewards), np.asarray(segment.values)
        if settings.normalize_returns:  # keras.io's example: standardized whole-episode returns
            targets = standardized(discounted(rewards, settings.discount))
            advantages = targets - values
        else:
            args = (settings.discount, settings.gae_lambda)
            targets, advantages = gae(rewards, values, bootstrap, *args)
        if settings.normalize_advantages and len(advantages) > 1:
            advantages = standardized(advantages)
        results = self.learn(
            np.stack(segment.observations),
            np.asarray(segment.actions, dtype="int32"),
            targets.astype("float32"),
            advantages.astype("float32"),
        )
        return np.array([float(r) for r in results])


def _episodes(agent: Agent, state: TrainState, quiet: bool) -> TrainState:
    """Run episodes until ``agent.episodes`` or solved, checkpointing at episode boundaries."""
    settings, run = agent.settings, agent.run
    progress = EpisodeProgress(settings.episodes, quiet=quiet)
    writer = _summary_writer(run)
    with interruptible() as stop:
        try:
            while state.epoch < settings.episodes and not state.stopped:
                logs = agent.episode(state.epoch)
                where = f"in episode {state.epoch + 1}"
                advice = mode_of(agent.spec).advice
                total = agent.weight_total  # non-finite weights stay so: the last update tells
                finite.check(
                    logs, where, agent.checkpointer, advice, variables=agent.watched, total=total
                )
                _record(state, logs, settings)
                _summarize(writer, state.epoch, logs)
                progress.update(state.epoch, {name: logs[name] for name in COLUMNS})
                last = state.stopped or state.epoch == settings.episodes
                if last or stop.signum is not None or state.epoch % settings.checkpoint_every == 0:
                    write_text(run.file(HISTORY), history_csv(state.history))
                    agent.checkpointer.save(state)
                    pause_point("epoch", until=lambda: stop.signum is not None)
                if stop.signum is not None:
                    where = f"after episode {state.epoch}"
                    raise interrupted(stop, where, agent.checkpointer.last, run.path)
        finally:
            progress.close()
            writer.close()
    write_text(run.file(HISTORY), history_csv(state.history))
    return state


def _record(state: TrainState, logs: dict[str, float], settings) -> None:
    """Count the episode: running reward, history, and whether it solved the environment."""
    running = _last(state.history, "running_reward")
    running += settings.smoothing * (logs["return"] - running)
    logs["running_reward"] = running
    for name in COLUMNS:
        state.history.setdefault(name, []).append(float(logs[name]))
    state.epoch += 1
    state.global_step += int(logs["steps"])
    state.stopped = settings.solved_at is not None and running > settings.solved_at


def _last(history: dict[str, list[float]], name: str) -> float:
    return history[name][-1] if history.get(name) else 0.0


def history_csv(history: dict[str, list[float]]) -> str:
    """One row per episode (numbered from 1), in ``COLUMNS`` order."""
    return callbacks.history_csv(history, index="episode", first=1, columns=COLUMNS)


def _summary_writer(run: RunDir):
    """TensorBoard scalars per episode in RUN/logs/train."""
    import tensorflow as tf

    return tf.summary.create_file_writer(str(run.file(LOGS) / "train"))


def _summarize(writer, episode: int, logs: dict[str, float]) -> None:
    import tensorflow as tf

    with writer.as_default(step=episode):
        for name in COLUMNS:
            tf.summary.scalar(name, logs[name])
