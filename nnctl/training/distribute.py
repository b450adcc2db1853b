"""``train.distribute``: training on several devices (``mirrored``) or machines (``multi_worker``)
with TensorFlow's own engine, ``tf.distribute``.

Every replica holds the whole model; each step's global batch (``train.batch_size``, the same
figure at any scale) is split among the replicas, and their gradients are summed before the one
update all replicas apply. Under ``multi_worker`` every machine runs the same command with
``TF_CONFIG`` telling it the cluster and its place in it (as Kubernetes's TFJob sets it): the chief
(task ``chief``, else worker 0) writes the run directory, the others write only into a temporary
directory they remove, and everything else (data order, checkpoint decisions, early stopping) is
computed alike on every worker from values the collectives made identical.

The strategy must exist before TensorFlow does anything else in the process; ``Distribution``
creates it, and the trainer creates the ``Distribution`` first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnctl.errors import PeerLost, UserError
from nnctl.rundir import RunDir
from nnctl.spec.schema import Spec

ENV = "TF_CONFIG"


@dataclass(frozen=True)
class Cluster:
    """Where this process stands in a ``multi_worker`` cluster, from ``TF_CONFIG``."""

    workers: int
    index: int  # this worker's rank: the chief is 0
    address: str

    @property
    def chief(self) -> bool:
        return self.index == 0


def local_cluster(workers: int) -> list[str]:
    """``TF_CONFIG`` for each of ``workers`` processes of a cluster on 127.0.0.1, on ports free
    now: to try ``multi_worker`` on one machine (the tests and bench/cluster.py do)."""
    sockets = [socket.socket() for _ in range(workers)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    hosts = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    return [
        json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})
        for index in range(workers)
    ]


def cluster(spec: Spec) -> Cluster | None:
    """This process's place in the spec's cluster; None unless ``strategy: multi_worker``."""
    settings = spec.train.distribute
    if settings is None or settings.strategy != "multi_worker":
        return None
    where = "train.distribute.strategy is multi_worker"
    raw = os.environ.get(ENV)
    if not raw:
        raise UserError(
            f"{where}, but {ENV} is not set: every worker needs it, e.g. "
            '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
            '"task": {"type": "worker", "index": 0}} (README: Training on several machines)'
        )
    try:
        config = json.loads(raw)
        hosts = config["cluster"]
        task = config["task"]
        kind, index = task["type"], int(task["index"])
        ranked = list(hosts.get("chief", [])) + list(hosts.get("worker", []))
        rank = index if kind == "chief" else len(hosts.get("chief", [])) + index
        if kind not in ("chief", "worker") or not 0 <= rank < len(ranked):
            raise ValueError(f"task {kind} {index} is not in the cluster")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UserError(f"{where}, but {ENV} is not a cluster nnctl can join: {error}") from None
    return Cluster(workers=len(ranked), index=rank, address=ranked[rank])


class Distribution:
    """The strategy a run trains under, and what the loop asks of it."""

    def __init__(self, spec: Spec):
        settings = spec.train.distribute
        self.kind = settings.strategy if settings else "none"
        self.cluster = cluster(spec)
        self.strategy = strategy(spec)
        self.replicas = int(self.strategy.num_replicas_in_sync)
        self._check_batch(spec)

    @property
    def active(self) -> bool:
        return self.kind != "none"

    @property
    def chief(self) -> bool:
        return self.cluster is None or self.cluster.chief

    @property
    def workers(self) -> int:
        return self.cluster.workers if self.cluster else 1

    def scope(self):
        return self.strategy.scope()

    def describe(self, batch_size: int) -> dict[str, Any]:
        """What run.json records: the strategy, replicas and workers, and the batch each
        replica computes of the global one."""
        return {
            "strategy": self.kind,
            "replicas": self.replicas,
            "workers": self.workers,
            "global_batch": batch_size,
            "per_replica_batch": batch_size // self.replicas,
        }

    @contextlib.contextmanager
    def peers_watched(self) -> Iterator[None]:
        """A collective that fails because a worker is gone (or silent for
        ``timeout_seconds``) ends this worker with ``PeerLost``, not an internal error."""
        import tensorflow as tf

        lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.AbortedError, tf.errors.CancelledError)  # fmt: skip
        try:
            yield
        except lost as error:
            if self.cluster is None:
                raise
            lines = re.sub(r"\{\{[^}]*\}\}\s*", "", str(error.message)).splitlines()
            cause = next((line for line in lines if "peer" in line or "abort" in line.lower()),
                         lines[0] if lines else type(error).__name__)  # fmt: skip
            raise PeerLost(
                f"worker {self.cluster.index} of {self.cluster.workers} ({self.cluster.address}): "
                f"the cluster lost a worker ({cause[:200]}). Restart every worker with the same "
                "command: training continues from the last checkpoint"
            ) from None

    def run(self, step, batch):
        """In a compiled call: ``step`` on ``batch`` (a global batch), or on each replica's
        share of its rows, their results averaged (the same on every worker)."""
        if not self.active:
            return step(batch)
        import tensorflow as tf

        replicas = self.replicas

        def share(batch):  # in a replica: its rows of the batch
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            rows = tf.shape(tf.nest.flatten(batch)[0])[0]
            first, end = replica * rows // replicas, (replica + 1) * rows // replicas
            return step(tf.nest.map_structure(lambda part: part[first:end], batch))

        results = self.strategy.run(share, args=(batch,))
        return self.strategy.reduce("MEAN", results, axis=None)

    def gathered(self, model, rebuild):
        """The trained ``model`` as a model outside the strategy: ``rebuild()``'s, with every
        variable copied by path. Every worker calls it (reading the replicas' metric
        variables is a collective)."""
        from nnctl.training.state import named_variables  # imports Keras

        values = {path: np.asarray(v.numpy()) for path, v in named_variables(model).items()}
        plain = rebuild()
        for path, variable in named_variables(plain).items():
            variable.assign(values[path])
        if self.cluster is not None:  # every worker says it: they must agree
            place = f"worker {self.cluster.index} of {self.cluster.workers}"
            print(f"{place}: weights sha256 {weights_digest(plain)}", file=sys.stderr, flush=True)
        return plain

    def summary(self, batch_size: int) -> str:
        """One line for the log: strategy, replicas, and the batch as each computes it."""
        shown = self.describe(batch_size)
        machines = f" on {shown['workers']} workers" if self.cluster else ""
        share = shown["per_replica_batch"]
        return (f"train.distribute: {self.kind}, {self.replicas} replicas{machines}; global "
                f"batch {batch_size} = {self.replicas} x {share} a replica")  # fmt: skip

    def broadcast(self, blob: bytes) -> bytes:
        """The chief's ``blob`` on every worker (the others pass anything: it is ignored); every
        worker must call this at the same point. Without a cluster: ``blob`` itself."""
        if self.cluster is None:
            return blob
        size = int(self._from_chief(np.array([len(blob)], dtype=np.int64))[0])
        if size == 0:  # an empty collective crashes TensorFlow
            return b""
        padded = np.zeros(-(-size // 4) * 4, dtype=np.uint8)
        if self.chief:
            padded[:size] = np.frombuffer(blob, dtype=np.uint8)
        words = self._from_chief(padded.view(np.int32))
        return words.view(np.uint8)[:size].tobytes()

    def _from_chief(self, values: np.ndarray) -> np.ndarray:
        """``values`` as the chief has them: a sum over the workers, the others adding zeros."""
        import tensorflow as tf

        mine = values if self.chief else np.zeros_like(values)

        def share(local):  # in each replica: all-reduce; a worker's other replicas add zeros
            replica = tf.distribute.get_replica_context()
            first = tf.equal(replica.replica_id_in_sync_group % self.local_replicas, 0)
            return replica.all_reduce("sum", tf.where(first, local, tf.zeros_like(local)))

        result = self.strategy.run(tf.function(share), args=(tf.constant(mine),))
        return np.asarray(self.strategy.experimental_local_results(result)[0])

    @property
    def local_replicas(self) -> int:
        return self.replicas // self.workers

    def _check_batch(self, spec: Spec) -> None:
        size = spec.train.batch_size
        if self.replicas > 1 and size % self.replicas:
            raise spec.error(
                ("train", "batch_size"),
                f"{size} is the global batch, split among {self.replicas} replicas: it must be "
                f"a multiple of {self.replicas}",
            )


def weights_digest(model) -> str:
    """sha256 of the model's weights, by path: equal on every worker of a cluster."""
    digest = hashlib.sha256()
    for variable in sorted(model.variables, key=lambda v: v.path):
        digest.update(variable.path.encode())
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


_STRATEGIES: dict = {}  # the process's strategy by settings: devices and collectives are set once


def strategy(spec: Spec):
    """The strategy of the spec's ``train.distribute`` (the default strategy without one),
    created once a process: call it before TensorFlow does anything else (it sets the
    devices and, for ``multi_worker``, joins the cluster)."""
    import tensorflow as tf

    settings = spec.train.distribute
    if settings is None:
        return tf.distribute.get_strategy()  # the default: one replica, no cost
    key = (settings.strategy, settings.devices, settings.timeout_seconds)
    if key not in _STRATEGIES:
        _split_cpu(settings.devices)
        if settings.strategy == "mirrored":
            made = tf.distribute.MirroredStrategy(_local_devices(settings.devices))
        else:
            cluster(spec)  # TF_CONFIG checked here, not left to TensorFlow's parser
            options = tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=settings.timeout_seconds
            )
            made = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        _STRATEGIES[key] = made
    return _STRATEGIES[key]


def _split_cpu(devices: int | None) -> None:
    """On a machine without GPUs, ``devices`` logical CPU devices for the replicas."""
    import tensorflow as tf

    if devices is None or tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    with contextlib.suppress(RuntimeError):  # already initialized: as it was configured
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(devices)]
        )


def _local_devices(devices: int | None) -> list[str] | None:
    """The mirrored strategy's devices: the first ``devices`` GPUs (or logical CPUs), or every
    GPU."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    found = gpus or tf.config.list_logical_devices("CPU")
    if devices is not None and devices > len(found):
        kind = "GPUs" if gpus else "CPU devices"
        raise UserError(f"train.distribute.devices is {devices}, but this machine has "
                        f"{len(found)} {kind}")  # fmt: skip
    return [device.name for device in found[: devices or len(found)]] if found else None


@contextlib.contextmanager
def own_run(spec: Spec, run: RunDir) -> Iterator[RunDir]:
    """The run directory this process writes: ``run`` itself, except on a worker other than
    a cluster's chief, which writes into a temporary directory it removes at the end (and at
    the start, should a killed worker have left it)."""
    place = cluster(spec)
    if place is None or place.chief:
        yield run
        return
    name = hashlib.sha256(str(run.path.resolve()).encode()).hexdigest()[:12]
    scratch = Path(tempfile.gettempdir()) / f"nnctl-worker{place.index}-{name}"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        yield RunDir(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
