"""``train`` and ``export``: the training mode, epochs, batches, early stopping, checkpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nnctl.spec.schema.base import NonNegativeInt, PositiveFinite, PositiveInt, Rate, Section
from nnctl.spec.schema.data import DataSpec


class EarlyStopping(Section):
    monitor: str = Field("val_loss", description="loss, a metric, or val_ + either")
    patience: NonNegativeInt = Field(5, description="epochs without improvement before stopping")
    min_delta: Annotated[float, Field(ge=0)] = Field(0.0, description="smallest change that counts")
    mode: Literal["auto", "min", "max"] = Field("auto", description="whether lower is better")
    restore_best_weights: bool = Field(True, description="end with the best epoch's weights")


class CheckpointSpec(Section):
    every_steps: PositiveInt | None = Field(
        None,
        description="also checkpoint every N training steps (mid-epoch; a multiple of "
        "steps_per_call)",
    )
    keep_last: PositiveInt = Field(
        3, description="checkpoints kept (the one a run resumed from is kept as well)"
    )


class DistributeSpec(Section):
    strategy: Literal["mirrored", "multi_worker"] = Field(
        description="mirrored: the devices of this machine; multi_worker: several machines, each "
        "told the cluster and its place in it by TF_CONFIG (as Kubernetes's TFJob sets it), "
        "all running the same command"
    )
    devices: PositiveInt | None = Field(
        None,
        description="replicas on each machine: its first N GPUs; on a machine without GPUs, N "
        "logical CPU devices (to try a distributed spec anywhere). Default: every GPU (or the CPU)",
    )
    timeout_seconds: PositiveInt = Field(
        60,
        description="multi_worker: how long a worker waits on a collective (a lost peer) "
        "before it ends with an error",
    )


Mode = Literal["supervised", "autoencoder", "seq2seq", "gan", "actor_critic"]
# What each mode asks of a spec (its sections, its rules) is in modes.py.


class TrainSpec(Section):
    mode: Mode = Field(
        "supervised",
        description="supervised: learn the targets; autoencoder: reconstruct the input "
        "as the model sees it after preprocessing (put GaussianNoise first to denoise); "
        "seq2seq: strings to strings, teacher forcing; gan: the gan section; actor_critic: "
        "the env and agent sections",
    )
    epochs: PositiveInt = Field(10, description="passes over the training split")
    batch_size: PositiveInt = Field(
        32,
        description="samples per gradient step; under distribute the global batch, split among "
        "the replicas (a multiple of their number)",
    )
    validation: Rate | DataSpec = Field(
        0.1, description="fraction of the training split, or a data source of its own"
    )
    shuffle: bool = Field(True, description="reshuffle the training split every epoch")
    early_stopping: EarlyStopping | None = Field(None, description="stop when monitor stalls")
    class_weight: dict[int | str, PositiveFinite] | Literal["balanced"] | None = Field(
        None,
        description="loss weight per class, by index (0, 1, ...) or name (the label as the data "
        "writes it); or balanced (inverse frequency)",
    )
    checkpoint: CheckpointSpec = Field(
        default_factory=CheckpointSpec, description="checkpoints in RUN/checkpoints"
    )
    steps_per_call: PositiveInt | Literal["auto"] = Field(
        "auto",
        description="training steps in one compiled call; logs, callbacks' batch hooks, "
        "signals and checkpoints act between calls. auto: the largest of 16, 8, 4, 2, 1 "
        "that divides checkpoint.every_steps (measured fastest; bench/engine.py); 1: one step "
        "per call",
    )
    jit_compile: bool = Field(
        False,
        description="compile the training steps with XLA: for GPUs (on CPUs it is often "
        "slower); not for models that take text (string ops do not compile), nor actor_critic",
    )
    mixed_precision: Literal["none", "mixed_float16", "mixed_bfloat16"] = Field(
        "none",
        description="compute hidden layers in 16 bits, weights and output layers in float32: "
        "for GPUs (mixed_float16 with loss scaling: NVIDIA since Volta; mixed_bfloat16: "
        "Ampere and later, TPUs); on CPUs often slower; not for gan or actor_critic",
    )
    deterministic: bool = Field(
        True,
        description="deterministic kernels: the same seed gives the same weights on the same "
        "machine; false lets GPU kernels run faster",
    )
    distribute: DistributeSpec | None = Field(
        None,
        description="train on several devices or machines with tf.distribute (README: Training "
        "on several machines); not for actor_critic",
    )


class ExportSpec(Section):
    format: Literal["saved_model", "keras", "tflite", "onnx"] = Field(
        "saved_model", description="what export writes (onnx needs the onnx extra)"
    )
    tolerance: PositiveFinite = Field(
        1e-5,
        description="largest allowed difference between export and model outputs (relative "
        "to the largest output where that is over 1)",
    )
    encoder: str | None = Field(
        None, description="also export the model up to this layer or node (and the rest) apart"
    )
