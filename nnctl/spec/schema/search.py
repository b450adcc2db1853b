"""``search``: the hyperparameters ``nnctl tune`` searches over, the metric it optimises, and how.

Keys of ``parameters`` are the dotted paths ``--set`` takes (``model.layers[0].units``). ``nnctl
train`` ignores the section and trains the hand-set values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from nnctl.spec.schema.base import Finite, PositiveInt, Section

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "intuniform")
Scalar = bool | int | float | str | None
Range = Annotated[list[Finite], Field(min_length=2, max_length=2)]
IntRange = Annotated[list[int], Field(min_length=2, max_length=2)]


class Parameter(Section):
    """One searched value: exactly one of the distributions."""

    choice: Annotated[list[Scalar], Field(min_length=1)] | None = Field(
        None, description="one of these values (numbers, strings, true/false, null)"
    )
    uniform: Range | None = Field(None, description="[low, high]: a number, evenly")
    loguniform: Range | None = Field(
        None, description="[low, high], low > 0: a number, evenly on a log scale (rates)"
    )
    intuniform: IntRange | None = Field(None, description="[low, high]: an integer, ends included")

    @model_validator(mode="after")
    def _one_distribution(self) -> Parameter:
        given = [name for name in DISTRIBUTIONS if getattr(self, name) is not None]
        if len(given) != 1:
            named = f" (got {', '.join(given)})" if given else ""
            raise ValueError(f"expected exactly one of {', '.join(DISTRIBUTIONS)}{named}")
        name = given[0]
        if name == "choice":
            return self
        low, high = getattr(self, name)
        if not low < high:
            raise ValueError(f"a range [low, high] needs low < high. Received: [{low}, {high}]")
        if name == "loguniform" and low <= 0:
            raise ValueError(f"a log scale needs low > 0. Received: [{low}, {high}]")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in DISTRIBUTIONS if getattr(self, name) is not None)

    @property
    def values(self) -> list:
        """The choices, or the range's two ends: what is checked before any trial runs."""
        return list(getattr(self, self.kind))


class SearchSpec(Section):
    metric: str = Field(
        description="what a trial is scored by: loss, a metric, or val_ + either, as logged "
        "(val_ names score the final model on the validation split)"
    )
    goal: Literal["maximize", "minimize"] = Field(description="whether higher or lower is better")
    trials: PositiveInt = Field(20, description="finished trials the search runs to")
    sampler: Literal["tpe", "random", "grid", "cmaes"] = Field(
        "tpe", description="how the next trial's values are chosen (grid: choices only)"
    )
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="how hopeless trials are stopped early, epoch by epoch"
    )
    parameters: Annotated[dict[str, Parameter], Field(min_length=1)] = Field(
        description="--set key path -> {choice: [...]}, {uniform: [low, high]}, "
        "{loguniform: [low, high]} or {intuniform: [low, high]}"
    )
