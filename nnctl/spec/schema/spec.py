"""The whole spec: its sections, and where each mistake is located."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr

from nnctl.errors import SpecError
from nnctl.spec.loader import PathKey, SourceMap
from nnctl.spec.schema.actor_critic import AgentSpec, EnvSpec
from nnctl.spec.schema.base import NonNegativeInt, PositiveFinite, Section
from nnctl.spec.schema.data import DataSpec
from nnctl.spec.schema.gan import GanSpec
from nnctl.spec.schema.model import INPUT_NAME, SEQ2SEQ_INPUTS, ModelSpec
from nnctl.spec.schema.optimizer import OptimizerSpec
from nnctl.spec.schema.search import SearchSpec
from nnctl.spec.schema.train import ExportSpec, TrainSpec


def _source_first(section: Any) -> Any:
    """A data section with ``source`` first, as users write it."""
    if not isinstance(section, dict):
        return section
    return {"source": section["source"], **{k: v for k, v in section.items() if k != "source"}}


class Spec(Section):
    version: Literal[1] = Field(1, description="spec language version")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)] = Field(
        description="names the run directory and the model"
    )
    description: str = Field("", description="free text, kept in the run directory")
    seed: NonNegativeInt = Field(42, description="seeds data splits, initial weights and shuffling")
    data: DataSpec | None = Field(None, description="where examples come from (not actor_critic)")
    model: ModelSpec | None = Field(None, description="the network (gan: see the gan section)")
    loss: str | dict[str, Any] | None = Field(
        None,
        description="a Keras loss name, or {name: huber, delta: 2}; several outputs: "
        "output node -> loss",
    )
    loss_weights: dict[str, PositiveFinite] | None = Field(
        None, description="several outputs: output node -> weight of its loss in the total"
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    metrics: list[str] | dict[str, list[str]] = Field(
        default_factory=list,
        description="Keras metric names, e.g. accuracy; several outputs: output node -> names",
    )
    train: TrainSpec = Field(default_factory=TrainSpec)
    export: ExportSpec = Field(default_factory=ExportSpec)
    gan: GanSpec | None = Field(None, description="train.mode gan: generator, discriminator")
    env: EnvSpec | None = Field(None, description="train.mode actor_critic: the environment")
    agent: AgentSpec | None = Field(None, description="train.mode actor_critic: how it learns")
    search: SearchSpec | None = Field(
        None, description="nnctl tune: the values searched (nnctl train trains the hand-set ones)"
    )
    _source: SourceMap | None = PrivateAttr(None)
    _raw: dict[str, Any] | None = PrivateAttr(None)  # as written, composed: for value origins

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model's inputs, as graph nodes' ``inputs:`` name them."""
        from nnctl.spec.modes import rules_of  # modes.py builds on this module

        if rules_of(self).string_pairs:  # a seq2seq encoder's and decoder's inputs
            return SEQ2SEQ_INPUTS
        if self.model is not None and self.model.inputs:
            return tuple(self.model.inputs)
        return (INPUT_NAME,)

    def error(self, path: PathKey, message: str) -> SpecError:
        """A SpecError located at ``path`` in the file this spec came from."""
        source = self._source or SourceMap("<spec>")
        return SpecError([source.problem(path, message)])

    @property
    def file(self) -> str:
        return self._source.file if self._source else "<spec>"

    def resolved(self) -> dict[str, Any]:
        """The spec as plain data with every default filled in (what a run directory stores)."""
        resolved = self.model_dump(mode="json", exclude_none=True)
        if "data" in resolved:
            resolved["data"] = _source_first(resolved["data"])
        resolved["train"]["validation"] = _source_first(resolved["train"]["validation"])
        return resolved
