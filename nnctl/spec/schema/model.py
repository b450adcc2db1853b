"""``model``: layers, graph nodes, blocks and named inputs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_serializer, model_validator

from nnctl.spec.catalog import catalog, layer_class, layer_names, layer_params
from nnctl.spec.schema.base import PositiveInt, Section

MAX_LAYERS = 1000
SHORT_FORM = "_short"  # stands in for the first argument of a layer the catalogue does not know


def short_param(layer: str) -> str:
    """The argument a scalar short form sets: ``Dense: 64`` -> units, ``Dropout: 0.2`` -> rate."""
    cls = layer_class(layer)
    params = layer_params(cls)["params"] if cls else []
    return params[0] if params else SHORT_FORM


def layer_json_schema() -> dict[str, Any]:
    names = layer_names()
    base = catalog()["layer_base_params"]
    properties = {}
    for spelling, cls in sorted(names.items()):
        params = layer_params(cls)["params"] + base
        arguments = {"type": "object", "properties": {p: {} for p in params}}
        arguments["additionalProperties"] = False
        short = {"type": ["number", "string", "array", "boolean", "null"]}
        properties[spelling] = {"anyOf": [arguments, short], "description": f"keras.layers.{cls}"}
    entry = {"type": "object", "properties": properties, "additionalProperties": False}
    entry |= {"minProperties": 1, "maxProperties": 1}
    return {"anyOf": [{"type": "string", "enum": sorted(names)}, entry]}


class LayerSpec(Section):
    """One layer: ``- Dense: {units: 64}``, short forms ``- Dense: 64``, ``- Flatten``."""

    type: str
    args: dict[str, Any] = Field(default_factory=dict)
    short: bool = Field(False, exclude=True)  # written as a scalar short form

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, entry: Any) -> Any:
        if isinstance(entry, str):
            return {"type": entry}
        if isinstance(entry, dict) and len(entry) == 1 and "type" not in entry:
            ((name, value),) = entry.items()
            if value is None:
                return {"type": name}
            if isinstance(value, dict):
                return {"type": name, "args": value}
            return {"type": name, "args": {short_param(name): value}, "short": True}
        if isinstance(entry, dict) and "type" in entry:
            return entry
        raise ValueError("expected a layer like 'Dense: {units: 64}', 'Dropout: 0.2' or 'Flatten'")

    @model_serializer
    def _to_entry(self) -> dict[str, Any]:
        return {self.keras_class or self.type: dict(self.args)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler) -> dict[str, Any]:
        """Editors see what users write: a layer name, or ``{Name: args | short form}``."""
        return layer_json_schema()

    @property
    def keras_class(self) -> str | None:
        """The Keras class this entry names (``dense`` -> ``Dense``), or None if unknown."""
        return layer_class(self.type)


INPUT_NAME = "features"  # the model's input, as graph nodes' `inputs:` and exports name it
SEQ2SEQ_INPUTS = ("source", "decoder")  # seq2seq: input token ids; output tokens so far
SEQ2SEQ_SIZES = ("source_vocab", "target_vocab")  # seq2seq: layer arguments set from the data
NODE_KEYS = {"name", "inputs", "share"}
NESTED_LAYER_ARGS = {"layer", "backward_layer"}  # a wrapper's inner layer: Bidirectional's layer:
MERGES = {"Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"}


class NodeSpec(Section):
    """A graph node: ``{name: c1, inputs: [x], Conv2D: {filters: 32}}``, or ``share: c1``."""

    name: str | None = Field(None, description="unique name that later nodes' inputs refer to")
    inputs: list[str] | None = Field(
        None, description="earlier nodes or model inputs; default: the previous node"
    )
    share: str | None = Field(None, description="reuse the layer (and weights) of this node")
    layer: LayerSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, entry: Any) -> Any:
        if entry is None:
            raise ValueError(
                "an empty node; a node needs a layer (e.g. 'Dense: 64') or 'share: NODE'"
            )
        if not isinstance(entry, dict):
            return {"layer": entry}
        node = {k: v for k, v in entry.items() if k in NODE_KEYS}
        rest = {k: v for k, v in entry.items() if k not in NODE_KEYS}
        if isinstance(node.get("inputs"), str):
            node["inputs"] = [node["inputs"]]
        if len(rest) > 1:
            raise ValueError(f"a node holds one layer; found {', '.join(map(str, rest))}")
        if rest:
            node["layer"] = rest
        elif "share" not in node:
            raise ValueError("a node needs a layer (e.g. 'Dense: 64') or 'share: NODE'")
        return node

    @model_serializer
    def _to_entry(self) -> dict[str, Any]:
        entry = {k: getattr(self, k) for k in ("name", "inputs", "share") if getattr(self, k)}
        return entry | (self.layer.model_dump() if self.layer else {})


class InputSpec(Section):
    shape: list[PositiveInt] = Field(description="shape of one sample")
    dtype: Literal["float32", "int32", "string"] = Field("float32", description="element type")


class NetworkSpec(Section):
    """A Sequential ``layers:`` list or a graph of named ``nodes:``, fed by its owner."""

    layers: list[LayerSpec] | None = Field(
        None, min_length=1, max_length=MAX_LAYERS, description="a Sequential stack, first to last"
    )
    nodes: list[NodeSpec] | None = Field(
        None, min_length=1, max_length=MAX_LAYERS, description="graph form: named layer nodes"
    )
    outputs: list[str] | None = Field(None, description="graph form: output nodes; default: last")
    max_parameters: PositiveInt = Field(
        10**9, description="refuse to build a larger model (a spec is untrusted data)"
    )

    @model_validator(mode="after")
    def _one_form(self) -> NetworkSpec:
        if self.layers is None and self.nodes is None:
            raise ValueError(
                "missing required key 'layers' (a Sequential stack) or 'nodes' (a graph)"
            )
        if self.layers is not None and self.nodes is not None:
            raise ValueError("give either 'layers' (a stack) or 'nodes' (a graph), not both")
        if self.outputs and self.layers is not None:
            raise ValueError("'outputs' belongs to the graph form ('nodes')")
        return self

    @property
    def graph(self) -> list[NodeSpec]:
        """Both forms as a graph: a stack is a chain of unnamed nodes."""
        if self.nodes is not None:
            return self.nodes
        return [NodeSpec.model_construct(layer=layer) for layer in self.layers]

    def as_model(self) -> ModelSpec:
        """This network as a model section whose inputs are taken from the data."""
        return ModelSpec.model_construct(**{k: getattr(self, k) for k in NetworkSpec.model_fields})


class ModelSpec(NetworkSpec):
    """``model``: a network and, optionally, the shape of its inputs."""

    input_shape: list[PositiveInt | None] | None = Field(
        None,
        description="shape of one sample; default: taken from the data. null leaves a "
        "dimension free (e.g. [null, 9]: sequences of any length)",
    )
    inputs: dict[str, InputSpec] | None = Field(
        None, description="graph form, several inputs: name -> shape (the data has arrays by name)"
    )

    @model_validator(mode="after")
    def _inputs_in_graph(self) -> ModelSpec:
        if self.inputs and self.layers is not None:
            raise ValueError("'inputs' belongs to the graph form ('nodes')")
        return self
