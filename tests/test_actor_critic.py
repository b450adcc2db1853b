"""``train.mode: actor_critic``: spec errors, returns, a tiny training run with its evaluation,
export and predictions, and resumption that replays exactly the episodes of an unbroken run."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest
from conftest import ROOT, finish, interrupted, spawn, train_once

from nnctl.errors import SpecError
from nnctl.modes.actor_critic.returns import discounted, gae, standardized
from nnctl.spec.validate import load_spec

TINY = """
name: tiny_agent
seed: 3
env: {id: CartPole-v1, max_episode_steps: 40}
model:
  nodes:
    - {name: trunk, Dense: {units: 16, activation: relu}}
    - {name: policy, inputs: trunk, Dense: {units: 2, activation: softmax}}
    - {name: value, inputs: trunk, Dense: 1}
  outputs: [policy, value]
optimizer: {name: adam, learning_rate: 0.01}
train:
  mode: actor_critic
agent:
  episodes: 6
  update_every: 16
  gae_lambda: 0.95
  normalize_advantages: true
  entropy: 0.01
  checkpoint_every: 2
  evaluation_episodes: 3
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train_once(tmp_path_factory, "agent", TINY)


# ------------------------------------------------------------------------------------ returns
def test_gae_with_lambda_one_is_the_discounted_return_minus_the_value():
    rewards, values = np.array([1.0, 1.0, 1.0]), np.array([0.5, 0.2, 0.1])
    targets, advantages = gae(rewards, values, bootstrap=2.0, discount=0.9, lam=1.0)
    expected = [1 + 0.9 + 0.81 + 0.729 * 2, 1 + 0.9 + 0.81 * 2, 1 + 0.9 * 2]
    np.testing.assert_allclose(targets, expected)
    np.testing.assert_allclose(advantages, np.array(expected) - values)


def test_gae_with_lambda_zero_is_the_one_step_td_error():
    rewards, values = np.array([1.0, 0.0]), np.array([0.5, 0.2])
    _, advantages = gae(rewards, values, bootstrap=0.0, discount=0.9, lam=0.0)
    np.testing.assert_allclose(advantages, [1 + 0.9 * 0.2 - 0.5, 0.0 - 0.2])


def test_discounted_and_standardized():
    np.testing.assert_allclose(discounted(np.ones(3), 0.5), [1.75, 1.5, 1.0])
    z = standardized(np.array([1.0, 2.0, 3.0]))
    assert abs(z.mean()) < 1e-9
    assert abs(z.std() - 1) < 1e-6
    assert not np.any(standardized(np.array([4.0, 4.0])))


# ----------------------------------------------------------------------------- spec problems
def problems(write_spec, text: str, *, build: bool = False) -> list:
    try:
        spec, _ = load_spec(write_spec(text))
        if build:
            from nnctl.modes import placeholder

            placeholder(spec, None)
    except SpecError as exc:
        return exc.problems
    return []


def edited(old: str, new: str) -> str:
    assert old in TINY
    return TINY.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        ("CartPole-v1", "CartPol-v1", "env.id", "did you mean 'CartPole-v1'"),
        ("  outputs: [policy, value]\n", "", "model", "outputs: [policy, value]"),
        ("outputs: [policy, value]", "outputs: [policy]", "model.outputs", "got outputs"),
        (
            "  episodes: 6\n",
            "  episodes: 6\n  update_every: 8\n  normalize_returns: true\n",
            "agent",
            "update_every",
        ),
        (
            "  mode: actor_critic\n",
            "  mode: actor_critic\n  epochs: 50\n",
            "train.epochs",
            "agent.episodes",
        ),
        (
            "name: tiny_agent\n",
            "name: tiny_agent\nmetrics: [accuracy]\n",
            "metrics",
            "episode returns",
        ),
        ("name: tiny_agent\n", "name: tiny_agent\nloss: mse\n", "loss", "does not apply"),
        (
            "name: tiny_agent\n",
            "name: tiny_agent\ndata: {source: digits}\n",
            "data",
            "does not apply",
        ),
    ],
)
def test_validation_errors_point_at_the_key(write_spec, old, new, path, words):
    found = problems(write_spec, edited(old, new))
    assert found, "expected a problem"
    assert any(p.path.startswith(path) and words in p.message for p in found), found
    assert all(p.line is not None for p in found)


def test_sections_the_mode_needs(write_spec):
    found = problems(write_spec, TINY.replace("env: {id: CartPole-v1, max_episode_steps: 40}", ""))
    assert any("missing required key 'env'" in p.message for p in found), found


def test_layers_form_has_one_output(write_spec):
    text = TINY.replace(
        TINY[TINY.index("model:") : TINY.index("optimizer:")],
        "model:\n  layers: [Dense: 8, Dense: {units: 2, activation: softmax}]\n",
    )
    found = problems(write_spec, text)
    assert [p.path for p in found] == ["model.layers"], found
    assert "graph (nodes:)" in found[0].message


@pytest.mark.parametrize(
    ("old", "new", "path", "words"),
    [
        (
            "{units: 2, activation: softmax}",
            "{units: 3, activation: softmax}",
            "model.nodes[1]",
            "CartPole-v1 has 2 actions",
        ),
        ("{units: 2, activation: softmax}", "{units: 2}", "model.nodes[1]", "softmax"),
        ("Dense: 1}", "Dense: 2}", "model.nodes[2]", "one number"),
        ("CartPole-v1", "Pendulum-v1", "env.id", "discrete actions"),
        ("model:\n", "model:\n  input_shape: [3]\n", "model.input_shape", "shape (4,)"),
        (
            "max_episode_steps: 40}",
            "max_episode_steps: 40, args: {sides: 3}}",
            "env.args",
            "sides",
        ),
    ],
)
@pytest.mark.slow
def test_build_errors_point_at_the_node(write_spec, old, new, path, words):
    found = problems(write_spec, edited(old, new), build=True)
    assert [p.path for p in found] == [path], found
    assert words in found[0].message


# ---------------------------------------------------------------------------- a tiny training
@pytest.mark.slow
def test_run_directory(tiny_run):
    for name in ("spec.yaml", "model.keras", "history.csv", "metrics.json", "run.json",
                 "curves.png", "manifest.json"):  # fmt: skip
        assert (tiny_run / name).is_file(), name
    assert list((tiny_run / "logs" / "train").iterdir()), "TensorBoard scalars"
    rows = (tiny_run / "history.csv").read_text().splitlines()
    assert rows[0] == "episode,return,running_reward,steps,loss,actor_loss,critic_loss,entropy"
    assert len(rows) == 1 + 6
    returns = [float(r.split(",")[1]) for r in rows[1:]]
    assert all(1 <= r <= 40 for r in returns)  # max_episode_steps cuts episodes at 40
    running = 0.0
    for row, ret in zip(rows[1:], returns, strict=True):
        running += 0.05 * (ret - running)
        assert float(row.split(",")[2]) == pytest.approx(running)
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["train"]["episodes"] == 6
    assert "solved_at_episode" not in metrics["train"]
    assert metrics["evaluation"]["episodes"] == 3
    info = json.loads((tiny_run / "run.json").read_text())
    assert info["episodes"] == 6
    assert info["task"] == "policy"


@pytest.mark.slow
def test_evaluate_plays_the_evaluation_episodes(tiny_run, cli):
    code, out, err = cli("evaluate", tiny_run, "--json")
    assert code == 0, err
    report = json.loads(out)
    stored = json.loads((tiny_run / "metrics.json").read_text())["evaluation"]
    assert {k: report[k] for k in stored} == stored  # seeded: the same episodes again
    assert 1 <= report["min_return"] <= report["mean_return"] <= report["max_return"] <= 40
    assert report["baseline_random_policy_return"] > 0
    code, out, _ = cli("evaluate", tiny_run)
    assert code == 0
    assert "evaluation split · 3 episodes" in out


@pytest.mark.slow
def test_export_is_the_policy(tiny_run, cli, tmp_path):
    """The SavedModel takes observations and gives the trained network's action probabilities."""
    import tensorflow as tf

    from nnctl.modes.actor_critic.play import observations
    from nnctl.rundir import RunDir, load_run

    code, _, err = cli("export", tiny_run, "--out", tmp_path / "policy")
    assert code == 0, err
    spec, model = load_run(RunDir.open(tiny_run))
    seen = observations(spec, model, 32)
    assert seen.shape == (32, 4)
    assert len(np.unique(seen, axis=0)) > 16
    loaded = tf.saved_model.load(str(tmp_path / "policy"))
    serve = loaded.signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["observation"]
    exported = next(iter(serve(observation=tf.constant(seen)).values())).numpy()
    expected = np.asarray(model(seen)["policy"])
    np.testing.assert_allclose(exported, expected, atol=1e-6)
    np.testing.assert_allclose(exported.sum(axis=1), 1, atol=1e-5)


@pytest.mark.slow
def test_export_refuses_keras_format(tiny_run, cli, tmp_path):
    code, _, err = cli("export", tiny_run, "--format", "keras", "--out", tmp_path / "p.keras")
    assert code == 2
    assert "saved_model" in err


@pytest.mark.slow
def test_predict_gives_the_likeliest_action(tiny_run, cli, tmp_path):
    np.save(tmp_path / "obs.npy", np.array([[0, 0, 0.1, 0], [0, 0, -0.1, 0]], dtype="float32"))
    code, out, err = cli("predict", tiny_run, "--input", tmp_path / "obs.npy")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header == "sample,label,p_0,p_1"
    assert len(rows) == 2
    for row in rows:
        _, label, p0, p1 = row.split(",")
        assert label == str(int(float(p1) > float(p0)))


@pytest.mark.slow
def test_solved_at_stops_training(write_spec, cli, tmp_path):
    text = edited("  episodes: 6\n", "  episodes: 6\n  smoothing: 1.0\n  solved_at: 2\n")
    run = tmp_path / "run"
    code, _, err = cli("train", write_spec(text), "--out", run, "-q")
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["solved_at_episode"] == metrics["train"]["episodes"] == 1


# ------------------------------------------------------------------------------- resumption
@pytest.mark.parametrize(
    ("pause", "signum", "exit_code"),
    [("epoch:2", signal.SIGKILL, -signal.SIGKILL), ("epoch:1", signal.SIGTERM, 143)],
    ids=["kill-after-episode-4", "sigterm-after-episode-2"],
)
@pytest.mark.slow
def test_resume_replays_the_same_episodes(tiny_run, tmp_path, pause, signum, exit_code):
    spec, run = tmp_path / "spec.yaml", tmp_path / "run"
    spec.write_text(TINY)
    first = interrupted(["train", spec, "--out", run, "-q"], pause, signum, tmp_path / "ready")
    assert first["rc"] == exit_code, first["err"][-2000:]
    assert not (run / "manifest.json").exists()
    resumed = finish(spawn("resume", run, "-q"))
    assert resumed["rc"] == 0, resumed["err"][-2000:]
    assert "resuming" in resumed["err"]
    for name in ("history.csv", "metrics.json"):
        assert (run / name).read_text() == (tiny_run / name).read_text(), name
    from nnctl.keras_env import import_keras

    keras = import_keras()
    got = keras.saving.load_model(run / "model.keras").get_weights()
    want = keras.saving.load_model(tiny_run / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


@pytest.mark.slow
def test_plain_progress_prints_every_tenth_episode_and_the_last(capsys):
    from nnctl.modes.actor_critic.trainer import COLUMNS
    from nnctl.training.progress import EpisodeProgress

    progress = EpisodeProgress(25, quiet=True)
    for episode in range(1, 26):
        progress.update(episode, dict.fromkeys(COLUMNS, 1.0) | {"return": float(episode)})
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["10/25", "20/25", "25/25"]
    assert "return=25 " in lines[-1]
    assert "running_reward=1 " in lines[-1]


@pytest.mark.slow
def test_resume_of_a_finished_run_changes_nothing(tiny_run, cli, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    code, _, err = cli("resume", run)
    assert code == 0, err
    assert "already finished" in err, err
    assert (run / "metrics.json").read_text() == (tiny_run / "metrics.json").read_text()


@pytest.mark.slow
def test_resume_refuses_a_changed_spec(tiny_run, cli, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    spec = run / "spec.yaml"
    spec.write_text(spec.read_text().replace("entropy: 0.01", "entropy: 0.5"))
    code, _, err = cli("resume", run)
    assert code == 2, err
    assert "agent.entropy: 0.01 -> 0.5" in err, err


@pytest.mark.slow
def test_shipped_spec_learns_to_balance(cli, tmp_path):
    """Seed 1 of the shipped spec balances for all 200 steps from episode 56 on, here (random
    play lasts about 22 steps): after 60 episodes its policy averages over 100."""
    spec, run = ROOT / "specs" / "actor_critic_cartpole.yaml", tmp_path / "run"
    sets = ["seed=1", "agent.episodes=60", "agent.evaluation_episodes=20"]
    code, _, err = cli("train", spec, "--out", run, "-q", *[a for s in sets for a in ("--set", s)])
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["evaluation"]["mean_return"] > 100, metrics
