"""The spec's JSON Schema for editors, generated from the pydantic schema.

``python -m nnctl.spec.jsonschema`` rewrites ``spec.schema.json``; a test keeps it current.
Shipped specs point at it with a ``# yaml-language-server: $schema=...`` first line.
"""

from __future__ import annotations

import json
from pathlib import Path

from nnctl.spec.catalog import layer_names
from nnctl.spec.schema import Spec

SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")
SCHEMA_ID = "https://nnctl.dev/schema/spec-v1.json"


def json_schema() -> dict:
    schema = Spec.model_json_schema(mode="validation")
    defs = schema["$defs"]
    _share_layer_schemas(defs["LayerSpec"])
    defs["NodeSpec"] = _node_schema(defs["NodeSpec"])
    defs["ModelSpec"]["properties"]["blocks"] = BLOCKS
    schema["properties"]["extends"] = {  # read before validation (compose.py), so not in Spec
        "type": "string",
        "description": "a base spec (a path relative to this file) whose values this one overrides",
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _share_layer_schemas(layer: dict) -> None:
    """Point each snake_case spelling (``batch_normalization``) at its class's schema."""
    properties = layer["anyOf"][1]["properties"]
    for spelling, cls in layer_names().items():
        if spelling != cls:
            properties[spelling] = {"$ref": LAYER_REF + cls}


LAYER_REF = "#/$defs/LayerSpec/anyOf/1/properties/"
BLOCKS = {
    "type": "object",
    "description": "reusable groups of nodes, expanded where a node says `block: NAME`",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "params": {"type": "object", "description": "parameters ($name) and defaults"},
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/NodeSpec"}},
        },
        "required": ["nodes"],
        "additionalProperties": False,
    },
}
BLOCK_USE = {
    "type": "object",
    "properties": {
        "block": {"type": "string"},
        "name": {"type": "string"},
        "inputs": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "repeat": {"type": "integer", "minimum": 1},
        "with": {"type": "object"},
    },
    "required": ["block", "name"],
    "additionalProperties": False,
}


def _node_schema(generated: dict) -> dict:
    """A node as users write it: its layer key sits beside name/inputs/share (or a block use)."""
    properties = {k: v for k, v in generated["properties"].items() if k != "layer"}
    properties["inputs"] = BLOCK_USE["properties"]["inputs"]
    properties |= {name: {"$ref": LAYER_REF + cls} for name, cls in layer_names().items()}
    node = {"type": "object", "properties": properties, "additionalProperties": False}
    return {"description": generated.get("description", ""), "anyOf": [node, BLOCK_USE]}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH}")
