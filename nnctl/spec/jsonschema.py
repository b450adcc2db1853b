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
    _share_layer_schemas(schema["$defs"]["LayerSpec"])
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def _share_layer_schemas(layer: dict) -> None:
    """Point each snake_case spelling (``batch_normalization``) at its class's schema."""
    properties = layer["anyOf"][1]["properties"]
    for spelling, cls in layer_names().items():
        if spelling != cls:
            properties[spelling] = {"$ref": f"#/$defs/LayerSpec/anyOf/1/properties/{cls}"}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH}")
