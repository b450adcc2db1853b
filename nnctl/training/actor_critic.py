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

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.build.optimizer import make_optimizer
from nnctl.errors import Interrupted, UserError
from nnctl.keras_env import set_seed
from nnctl.rl import env as envs
from nnctl.rl import play
from nnctl.rl.agent import build_agent
from nnctl.rl.returns import EPSILON, discounted, gae, standardized
from nnctl.rundir import (
    CHECKPOINTS,
    CURVES,
    HISTORY,
    LOGS,
    METRICS,
    MODEL,
    RUN_INFO,
    RunDir,
    atomic_path,
    environment,
    now,
    write_json,
    write_text,
)
from nnctl.spec.schema import Spec
from nnctl.testhooks import pause_point
from nnctl.training import checkpoint
from nnctl.training.loop import check_finite
from nnctl.training.run import _as_today, _resumed_info, spec_changes
from nnctl.training.signals import interruptible
from nnctl.training.state import Checkpointer, TrainState, restore

ADVICE_AGENT = "set agent.normalize_advantages"  # what else to try when training diverges

COLUMNS = ("return", "running_reward", "steps", "loss", "actor_loss", "critic_loss", "entropy")


@dataclass
class Segment:
    """The steps played since the last update."""

    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    values: list = field(default_factory=list)


class Agent:
    """The network, its optimizer and environment, and the compiled act and learn steps."""

    def __init__(self, spec: Spec, run: RunDir):
        set_seed(spec.seed)
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
        self.learn = self._learn_step()

    def _learn_step(self):
        """One gradient step on a segment: (observations, actions, targets, advantages) ->
        (loss, actor loss, critic loss, entropy), each summed over the segment's steps."""
        import tensorflow as tf

        model, settings = self.model, self.settings
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
            return loss, actor, critic, entropy

        return learn

    def episode(self, number: int) -> dict[str, float]:
        """Play training episode ``number`` (0-based), learning as it goes; its logs."""
        rng = envs.episode_rng(self.spec.seed, envs.TRAINING, number)
        observation, done = envs.reset(self.env, rng), False
        segment, sums, total, steps = Segment(), np.zeros(4), 0.0, 0
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
                sums += self._update(segment, bootstrap)
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


def train(spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False) -> dict[str, Any]:
    """Train the spec's agent into a new run directory; return its metrics."""
    started = now()
    with run.lock():
        run.clear()
        agent = Agent(spec, run)
        run.write_spec(agent.resolved, spec.file)
        info = {
            "spec": spec.file,
            "seed": spec.seed,
            "started": started,
            "env": play.environment_id(spec),
            "task": "policy",
            "class_names": [str(a) for a in range(int(agent.env.action_space.n))],
            "environment": environment(),
        }
        write_json(run.file(RUN_INFO), info)
        agent.checkpointer.save(TrainState())
        return _finish(agent, TrainState(), info, quiet)


def resume(
    spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False, force: bool = False
) -> dict[str, Any]:
    """Continue from the newest intact checkpoint (an episode boundary); refuse a changed spec
    or environment unless ``force``."""
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    with run.lock():
        directory = run.file(CHECKPOINTS)
        checkpoint.clean(directory)
        latest = checkpoint.latest(directory)
        arrays, meta = checkpoint.read(latest)
        agent = Agent(spec, run)
        changes = spec_changes(_as_today(meta["spec"]), agent.resolved)
        if meta.get("environment") != play.environment_id(spec):
            changes.append(f"environment: {meta.get('environment')} -> {play.environment_id(spec)}")
        if changes and not force:
            listed = "\n  ".join(changes)
            raise UserError(
                f"{run.path}: changed since checkpoint {latest.name}:\n  {listed}\n"
                "Resume anyway with --force, or train into a new run directory."
            )
        state = restore(agent.model, {}, arrays, meta)
        agent.checkpointer.pinned = agent.checkpointer.last = latest
        if not changes and _finished(run, state, spec):
            _say(f"{run.path}: training had already finished; nothing to resume")
            return read_metrics(run)
        if changes:
            run.write_spec(agent.resolved, spec.file)
        _say(f"resuming {run.path} from {latest.name} (after episode {state.epoch})")
        return _finish(agent, state, _resumed_info(run, latest.name, changes), quiet)


def read_metrics(run: RunDir) -> dict[str, Any]:
    import json

    return json.loads(run.file(METRICS).read_text())


def _finished(run: RunDir, state: TrainState, spec: Spec) -> bool:
    if state.epoch < spec.agent.episodes and not state.stopped:
        return False
    try:
        RunDir.open(run.path)
    except UserError:
        return False
    return True


def _finish(agent: Agent, state: TrainState, info: dict, quiet: bool) -> dict[str, Any]:
    """Play and learn from ``state`` to the end; write model, metrics and curves, and seal."""
    clock = time.perf_counter()
    spec, run, model = agent.spec, agent.run, agent.model
    run.unseal()
    write_text(run.file(HISTORY), history_csv(state.history))
    state = _episodes(agent, state, quiet)
    pause_point("finalize")
    with atomic_path(run.file(MODEL)) as tmp:
        model.save(tmp)
    history = state.history
    trained = {"episodes": state.epoch, "running_reward": _last(history, "running_reward")}
    if state.stopped:
        trained["solved_at_episode"] = state.epoch
    metrics = {"train": trained, "evaluation": play.evaluate(spec, model)}
    write_json(run.file(METRICS), metrics)
    with atomic_path(run.file(CURVES)) as tmp:
        plot_episodes(history, spec.agent.solved_at, tmp)
    info |= {
        "finished": now(),
        "seconds": round(time.perf_counter() - clock, 2),
        "episodes": state.epoch,
        "solved_at_episode": trained.get("solved_at_episode"),
    }
    write_json(run.file(RUN_INFO), info)
    run.seal()
    return metrics


def _episodes(agent: Agent, state: TrainState, quiet: bool) -> TrainState:
    """Run episodes until ``agent.episodes`` or solved, checkpointing at episode boundaries."""
    settings, run = agent.settings, agent.run
    progress = EpisodeProgress(settings.episodes, quiet=quiet)
    writer = _summary_writer(run)
    with interruptible() as stop:
        try:
            while state.epoch < settings.episodes and not state.stopped:
                logs = agent.episode(state.epoch)
                check_finite(
                    logs, f"in episode {state.epoch + 1}", agent.checkpointer, ADVICE_AGENT
                )
                _record(state, logs, settings)
                _summarize(writer, state.epoch, logs)
                progress.update(state.epoch, logs)
                last = state.stopped or state.epoch == settings.episodes
                if last or stop.signum is not None or state.epoch % settings.checkpoint_every == 0:
                    write_text(run.file(HISTORY), history_csv(state.history))
                    agent.checkpointer.save(state)
                    pause_point("epoch", until=lambda: stop.signum is not None)
                if stop.signum is not None:
                    raise Interrupted(
                        f"{stop.name} received: stopped after episode {state.epoch} and saved "
                        f"checkpoint {agent.checkpointer.last.path}; continue with: "
                        f"nnctl resume {run.path}",
                        stop.signum,
                    )
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
    rows = [",".join(["episode", *COLUMNS])]
    for index in range(len(history.get("return", []))):
        rows.append(",".join([str(index + 1), *(repr(history[k][index]) for k in COLUMNS)]))
    return "\n".join(rows) + "\n"


def _summary_writer(run: RunDir):
    """TensorBoard scalars per episode in RUN/logs/train."""
    import tensorflow as tf

    return tf.summary.create_file_writer(str(run.file(LOGS) / "train"))


def _summarize(writer, episode: int, logs: dict[str, float]) -> None:
    import tensorflow as tf

    with writer.as_default(step=episode):
        for name in COLUMNS:
            tf.summary.scalar(name, logs[name])


def plot_episodes(history: dict[str, list[float]], solved_at: float | None, target: Path) -> None:
    """``curves.png``: episode returns with the running reward, and the losses, per episode."""
    from nnctl.training.curves import plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    episodes = range(1, len(history.get("return", [])) + 1)
    left.plot(episodes, history.get("return", []), alpha=0.5, label="episode return")
    left.plot(episodes, history.get("running_reward", []), label="running reward")
    if solved_at is not None:
        left.axhline(solved_at, color="gray", linestyle="--", label=f"solved at {solved_at:g}")
    for name in ("actor_loss", "critic_loss", "entropy"):
        right.plot(episodes, history.get(name, []), label=f"{name} per step")
    for ax, title in ((left, "return"), (right, "losses")):
        ax.set_title(title)
        ax.set_xlabel("episode")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)


class EpisodeProgress:
    """A live bar over the episodes on a terminal; elsewhere (or quiet) one line every
    ``EVERY`` episodes and at the last."""

    EVERY = 10

    def __init__(self, episodes: int, *, quiet: bool):
        self.episodes, self.started = episodes, time.perf_counter()
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("[bold]episode"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[logs]}"), console=Console(stderr=True),
                                transient=True)  # fmt: skip
            self.task = self.bar.add_task("", total=episodes, logs="")
            self.bar.start()

    def update(self, episode: int, logs: dict[str, float]) -> None:
        text = "  ".join(f"{k}={logs[k]:.4g}" for k in COLUMNS)
        if self.bar is not None:
            self.bar.update(self.task, completed=episode, logs=text)
        if episode % self.EVERY == 0 or episode == self.episodes:
            took = time.perf_counter() - self.started
            line = f"episode {episode}/{self.episodes}  {text}  ({took:.1f}s)"
            console = self.bar.console if self.bar is not None else None
            if console is not None:
                console.print(line, markup=False, highlight=False)
            else:
                print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
