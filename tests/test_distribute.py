"""``train.distribute``: replicas on one machine's (logical CPU) devices, and a cluster of two
worker processes on 127.0.0.1, configured by ``TF_CONFIG`` as Kubernetes's TFJob sets it.

Each worker is a real ``nnctl train`` process: they must end with the same weights (every
worker prints their sha256), reach the accuracy one process reaches, and survive losing a
worker: the others stop with a clear error within the collective timeout, and the same command
restarted on every worker finishes the run exactly as an uninterrupted cluster does.
"""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGITS_TRAINING, READY_TIMEOUT, finish, spawn

from nnctl.training.distribute import local_cluster

CLUSTER_SPEC = (
    DIGITS_TRAINING.replace(
        "train: {epochs: 1, batch_size: 128}",
        "train: {epochs: 4, batch_size: 64, distribute: {strategy: multi_worker, "
        "timeout_seconds: 20}}",
    )
    + "optimizer: {name: adam, learning_rate: 0.01}\n"
)
DIGEST = re.compile(r"worker (\d) of 2: weights sha256 ([0-9a-f]{64})")
LOST_PEER_LIMIT = 20 + 30  # timeout_seconds, and the time to notice and exit


def _cluster(spec: Path, run: Path, tmp: Path, env: dict | None = None, workers: int = 2):
    """Start every worker of a cluster on 127.0.0.1 with ``nnctl train SPEC --out RUN``; each
    has its own temporary directory (``tmp/worker-N``) to show what it leaves behind."""
    processes = []
    for index, config in enumerate(local_cluster(workers)):
        scratch = tmp / f"worker-{index}"
        scratch.mkdir(parents=True, exist_ok=True)
        extra = {"TF_CONFIG": config, "TMPDIR": str(scratch)}
        extra |= (env or {}).get(index, {})
        processes.append(spawn("train", spec, "--out", run, "-q", env=extra))
    return processes


def _digests(results: list[dict]) -> list[str]:
    return [DIGEST.search(r["err"]).group(2) for r in results]


def _accuracy(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["test"]["accuracy"]


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    """A two-worker run of CLUSTER_SPEC, uninterrupted, and the same spec in one process."""
    root = tmp_path_factory.mktemp("cluster")
    spec = root / "spec.yaml"
    spec.write_text(CLUSTER_SPEC)
    results = [finish(p) for p in _cluster(spec, root / "run", root)]
    single = root / "single.yaml"
    single.write_text(
        CLUSTER_SPEC.replace(", distribute: {strategy: multi_worker, timeout_seconds: 20}", "")
    )
    alone = finish(spawn("train", single, "--out", root / "alone", "-q"))
    assert alone["rc"] == 0, alone["err"][-2000:]
    return root, spec, results


@pytest.mark.slow
def test_two_workers_train_in_lockstep_to_the_accuracy_of_one(cluster_run):
    root, _, results = cluster_run
    for result in results:
        assert result["rc"] == 0, result["err"][-3000:]
        assert "Traceback" not in result["err"]
    first, second = _digests(results)
    assert first == second  # identical weights on both workers
    run = root / "run"
    info = json.loads((run / "run.json").read_text())
    assert info["distribute"] == {
        "strategy": "multi_worker",
        "replicas": 2,
        "workers": 2,
        "global_batch": 64,
        "per_replica_batch": 32,
    }
    assert info["weights_sha256"] == first
    assert (run / "manifest.json").is_file()  # the chief sealed the run
    assert _accuracy(run) >= _accuracy(root / "alone") - 0.03
    assert _accuracy(run) > 0.85
    # the other worker wrote only into its temporary directory, and removed it
    assert list((root / "worker-1").iterdir()) == []


@pytest.mark.slow
def test_a_lost_worker_stops_the_other_and_a_restart_finishes_exactly(cluster_run, tmp_path):
    _, spec, uninterrupted = cluster_run
    run, ready = tmp_path / "run", tmp_path / "ready"
    pause = {1: {"NNCTL_TEST_PAUSE_AT": "epoch:2", "NNCTL_TEST_PAUSE_FILE": str(ready)}}
    chief, worker = _cluster(spec, run, tmp_path, env=pause)
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), finish(worker)["err"][-2000:]
    worker.send_signal(signal.SIGKILL)  # worker 1 dies after epoch 2
    killed = time.monotonic()
    ended = finish(chief, timeout=LOST_PEER_LIMIT + 30)
    assert time.monotonic() - killed < LOST_PEER_LIMIT
    assert ended["rc"] == 170, ended["err"][-2000:]  # TFJob retries exit codes 128-255
    assert "the cluster lost a worker" in ended["err"]
    assert "Restart every worker with the same command" in ended["err"]
    assert "Traceback" not in ended["err"]
    finish(worker)

    restarted = [finish(p) for p in _cluster(spec, run, tmp_path)]
    for result in restarted:
        assert result["rc"] == 0, result["err"][-3000:]
    assert re.search(r"resuming .* from ckpt-e000[12]-s000000", restarted[0]["err"])
    assert _digests(restarted) == _digests(uninterrupted)  # as if never interrupted


@pytest.mark.slow
def test_a_cluster_needs_tf_config(write_spec, tmp_path):
    spec = write_spec(CLUSTER_SPEC)
    result = finish(spawn("train", spec, "--out", tmp_path / "run", env={"TF_CONFIG": ""}))
    assert result["rc"] == 2
    assert "TF_CONFIG is not set" in result["err"]
    broken = finish(spawn("train", spec, "--out", tmp_path / "run", env={"TF_CONFIG": "{}"}))
    assert broken["rc"] == 2
    assert "TF_CONFIG is not a cluster nnctl can join" in broken["err"]


MIRRORED = DIGITS_TRAINING.replace(
    "train: {epochs: 1, batch_size: 128}",
    "train: {epochs: 3, batch_size: 64, distribute: {strategy: mirrored, devices: 2}}",
)


@pytest.mark.slow
def test_mirrored_replicas_on_two_cpu_devices_train_as_one_device_does(write_spec, tmp_path):
    spec = write_spec(MIRRORED)
    single = write_spec(
        MIRRORED.replace(", distribute: {strategy: mirrored, devices: 2}", ""), "one.yaml"
    )
    result = finish(spawn("train", spec, "--out", tmp_path / "two", "-q"))
    assert result["rc"] == 0, result["err"][-3000:]
    assert finish(spawn("train", single, "--out", tmp_path / "one", "-q"))["rc"] == 0
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["distribute"]["replicas"] == 2
    assert info["distribute"]["per_replica_batch"] == 32
    history = [np.genfromtxt(tmp_path / r / "history.csv", delimiter=",", names=True)
               for r in ("two", "one")]  # fmt: skip
    np.testing.assert_allclose(history[0]["loss"], history[1]["loss"], rtol=1e-3)
    assert abs(_accuracy(tmp_path / "two") - _accuracy(tmp_path / "one")) < 0.01
    evaluated = finish(spawn("evaluate", tmp_path / "two"))  # the saved model: one device
    assert evaluated["rc"] == 0, evaluated["err"][-2000:]


@pytest.mark.slow
def test_the_global_batch_must_split_evenly_among_replicas(write_spec, tmp_path):
    spec = write_spec(MIRRORED.replace("batch_size: 64", "batch_size: 33"))
    result = finish(spawn("train", spec, "--out", tmp_path / "run"))
    assert result["rc"] == 2
    assert "train.batch_size" in result["err"]
    assert "split among 2 replicas: it must be a multiple of 2" in result["err"]


GAN = (  # no batch statistics or dropout: replicas compute what one device does
    "name: gan\nseed: 5\ndata: {source: digits, preprocess: {scale: 1/16}}\n"
    "gan: {latent_dim: 8, "
    "generator: {layers: [{Dense: 32}, {LeakyReLU: 0.2}, "
    "{Dense: {units: 64, activation: sigmoid}}]}, "
    "discriminator: {layers: [{Dense: 32}, {LeakyReLU: 0.2}, {Dense: 1}]}, "
    "generator_optimizer: {name: sgd, learning_rate: 0.05}, "
    "discriminator_optimizer: {name: sgd, learning_rate: 0.05}}\n"
    "train: {mode: gan, epochs: 2, batch_size: 64, validation: 0}\n"
)


@pytest.mark.slow
def test_gan_losses_count_once_across_replicas(write_spec, tmp_path):
    """Two replicas take what one device takes: each half of the batch and of the noise, each
    loss scaled by its share (with SGD, a gradient counted twice would double every step)."""
    one = write_spec(GAN, "one.yaml")
    two = write_spec(
        GAN.replace(
            "validation: 0}", "validation: 0, distribute: {strategy: mirrored, devices: 2}}"
        ),
        "two.yaml",
    )
    for spec, run in ((one, "one"), (two, "two")):
        result = finish(spawn("train", spec, "--out", tmp_path / run, "-q"))
        assert result["rc"] == 0, result["err"][-3000:]
    history = [np.genfromtxt(tmp_path / r / "history.csv", delimiter=",", names=True)
               for r in ("one", "two")]  # fmt: skip
    for name in ("d_loss", "g_loss"):
        np.testing.assert_allclose(history[1][name], history[0][name], rtol=2e-3)


def test_actor_critic_refuses_distribute(cli):
    spec = Path(__file__).resolve().parent.parent / "specs" / "actor_critic_cartpole.yaml"
    code, _, err = cli("validate", str(spec), "--set", "train.distribute.strategy=mirrored")
    assert code == 2
    assert "train.distribute does not apply to train.mode actor_critic" in err


def test_the_tfjob_manifest_runs_a_valid_cluster_command(cli):
    """deploy/tfjob.yaml: every worker runs ``nnctl train`` on a shipped spec that validates
    with the manifest's settings, with multi_worker among them."""
    import yaml

    root = Path(__file__).resolve().parent.parent
    job = yaml.safe_load((root / "deploy" / "tfjob.yaml").read_text())
    worker = job["spec"]["tfReplicaSpecs"]["Worker"]
    assert worker["replicas"] >= 2
    assert worker["restartPolicy"] == "ExitCode"
    (container,) = worker["template"]["spec"]["containers"]
    assert container["name"] == "tensorflow"
    command = container["command"]
    assert command[:2] == ["nnctl", "train"]
    assert "--out" in command
    sets = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
    assert "train.distribute.strategy=multi_worker" in sets
    args = [str(root / command[2])] + [a for s in sets for a in ("--set", s)]
    code, _, err = cli("validate", *args)
    assert code == 0, err


def test_tune_refuses_a_cluster(cli, tmp_path):
    spec = Path(__file__).resolve().parent.parent / "specs" / "tuned_digits.yaml"
    override = ("--set", "train.distribute.strategy=multi_worker")
    code, _, err = cli("tune", str(spec), "--out", str(tmp_path / "tune"), *override)
    assert code == 2
    assert "nnctl tune runs its trials in processes of this machine, not on a cluster" in err


@pytest.mark.slow
def test_resume_points_a_cluster_run_to_its_train_command(cluster_run, cli):
    root, _, _ = cluster_run
    code, _, err = cli("resume", str(root / "run"))
    assert code == 2
    assert "restart every worker with the nnctl train command that started it" in err
