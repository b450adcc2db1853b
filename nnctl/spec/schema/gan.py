"""``gan``: the generator, the discriminator, their optimizers, the scorer and sample grids."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from nnctl.spec.schema.base import PositiveFinite, PositiveInt, Rate, Section
from nnctl.spec.schema.model import NetworkSpec
from nnctl.spec.schema.optimizer import OptimizerSpec

GAN_LOGS = ("d_loss", "g_loss", "real_score", "fake_score")  # logged every epoch
GAN_QUALITY = ("confidence", "class_entropy", "classifier_score")  # with a scorer


ADAM_FAMILY = ("adam", "adamw", "adamax", "nadam")


class GanOptimizerSpec(OptimizerSpec):
    """A GAN adversary's optimizer: DCGAN's Adam (learning rate 2e-4, beta_1 0.5) by default."""

    learning_rate: PositiveFinite = Field(2e-4, description="initial learning rate, > 0")

    @model_validator(mode="before")
    @classmethod
    def _dcgan_beta_1(cls, value: Any) -> Any:
        value = {"name": value} if isinstance(value, str) else value
        if isinstance(value, dict) and value.get("name", "adam") in ADAM_FAMILY:
            return {"beta_1": 0.5} | value
        return value


class SampleGridSpec(Section):
    rows: PositiveInt = Field(8, description="rows of the grid of samples saved every epoch")
    columns: PositiveInt = Field(8, description="columns of that grid")
    image_shape: list[PositiveInt] | None = Field(
        None,
        min_length=2,
        max_length=3,
        description="how to draw one sample: [height, width] or [height, width, channels]; "
        "default: the sample's shape, or a square for flat samples",
    )


DCGAN_ADAM = (
    "DCGAN's by default: adam, learning_rate 2e-4, beta_1 0.5 (beta_1 is 0.5 for any "
    "Adam-family optimizer unless given)"
)


class GanNetworkSpec(NetworkSpec):
    """A GAN's network: the GAN gives its input (noise to the generator, samples to the others)."""

    REFUSED: ClassVar[dict[str, str]] = dict.fromkeys(
        ("input_shape", "inputs"),
        "a GAN gives its networks their inputs: the generator gan.latent_dim values of noise, "
        "the discriminator and scorer samples as the data's preprocessing leaves them",
    )


class ScorerSpec(GanNetworkSpec):
    """A classifier of the real data (layers or nodes, ending in a softmax over the classes)."""

    epochs: PositiveInt = Field(10, description="epochs on the real training split")
    batch_size: PositiveInt = Field(64, description="samples per gradient step")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec, description="its optimizer")


class GanSpec(Section):
    """``train.mode: gan``: a generator and a discriminator trained against each other."""

    latent_dim: PositiveInt = Field(
        100, description="size of the generator's input: noise drawn from a standard normal"
    )
    generator: GanNetworkSpec = Field(
        description="latent_dim noise -> one sample, shaped as the data after preprocessing "
        "(a graph's input is named features)"
    )
    discriminator: GanNetworkSpec = Field(
        description="one sample -> one score: a logit, or a probability if the last "
        "activation is sigmoid"
    )
    generator_optimizer: GanOptimizerSpec = Field(
        default_factory=GanOptimizerSpec,
        description=DCGAN_ADAM,
    )
    discriminator_optimizer: GanOptimizerSpec = Field(
        default_factory=GanOptimizerSpec,
        description=DCGAN_ADAM,
    )
    label_smoothing: Rate = Field(
        0.0,
        description="one-sided: the discriminator's target for real samples is "
        "1 - label_smoothing (fakes stay 0)",
    )
    discriminator_steps: PositiveInt = Field(
        1, description="discriminator updates per generator update, each with fresh noise"
    )
    samples: SampleGridSpec = Field(
        default_factory=SampleGridSpec,
        description="a grid of samples from fixed noise, RUN/samples/epoch-NNNN.png",
    )
    scorer: ScorerSpec | None = Field(
        None,
        description="a classifier trained on the real data first, then frozen; it scores "
        "generated samples: mean confidence, entropy of the predicted classes, classifier score",
    )

    def logs(self) -> tuple[str, ...]:
        """What training logs each epoch (``val_`` + these with validation data)."""
        return GAN_LOGS + (GAN_QUALITY if self.scorer is not None else ())
