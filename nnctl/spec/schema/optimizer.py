"""``optimizer``: the optimizer, gradient clipping and learning-rate schedules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from nnctl.spec.schema.base import NonNegativeInt, PositiveFinite, PositiveInt, Section


class StepDecay(Section):
    type: Literal["step_decay"]
    factor: Annotated[float, Field(gt=0, le=1)] = Field(0.5, description="0.5 halves the rate")
    every_epochs: PositiveInt = Field(description="multiply the rate by factor every N epochs")


class ExponentialDecay(Section):
    type: Literal["exponential_decay"]
    rate: Annotated[float, Field(gt=0, le=1)] = Field(0.96, description="smooth decay factor")
    every_epochs: PositiveInt = Field(1, description="epochs over which the rate decays by rate")


class CosineDecay(Section):
    type: Literal["cosine_decay"]
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(0.0, description="final rate fraction")
    warmup_epochs: NonNegativeInt = Field(0, description="linear warm-up from 0 first")


class ReduceOnPlateau(Section):
    type: Literal["reduce_on_plateau"]
    monitor: str = Field("val_loss", description="the quantity that must improve")
    factor: Annotated[float, Field(gt=0, lt=1)] = Field(0.5, description="rate multiplier")
    patience: NonNegativeInt = Field(5, description="epochs without improvement first")
    min_delta: Annotated[float, Field(ge=0)] = Field(
        1e-4, description="smallest change that counts"
    )
    min_lr: Annotated[float, Field(ge=0)] = Field(0.0, description="lower bound of the rate")


Schedule = Annotated[
    StepDecay | ExponentialDecay | CosineDecay | ReduceOnPlateau, Field(discriminator="type")
]


CLIPPING = ("clipnorm", "global_clipnorm", "clipvalue")


class OptimizerSpec(Section):
    """Any other key is passed to the Keras optimizer (momentum, nesterov, beta_1, ...)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field("adam", description="sgd, adam, adamw, rmsprop, adagrad, ... (Keras names)")
    learning_rate: PositiveFinite = Field(0.001, description="initial learning rate, > 0")
    schedule: Schedule | None = Field(None, description="learning-rate schedule (below)")
    clipnorm: PositiveFinite | None = Field(None, description="clip each gradient's norm")
    global_clipnorm: PositiveFinite | None = Field(
        None, description="clip the norm of all gradients together"
    )
    clipvalue: PositiveFinite | None = Field(None, description="clip each gradient element")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_clipping(self) -> OptimizerSpec:
        given = [k for k in CLIPPING if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"{' and '.join(given)} both clip gradients; keep one of clipnorm (per "
                "variable), global_clipnorm (all gradients together) or clipvalue"
            )
        return self

    @property
    def args(self) -> dict[str, Any]:
        """The extra Keras arguments, clipping included."""
        clipping = {k: getattr(self, k) for k in CLIPPING if getattr(self, k) is not None}
        return dict(self.model_extra or {}) | clipping
