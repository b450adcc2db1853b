"""Names Keras knows, read from the checked-in catalogue (no TensorFlow import), and suggestions."""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("keras_catalog.json")


@cache
def catalog() -> dict[str, Any]:
    return json.loads(CATALOG_PATH.read_text())


def snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization``; ``Conv2D`` -> ``conv2d``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@cache
def layer_names() -> dict[str, str]:
    """Every spelling a spec may use for a layer (``Dense``, ``dense``) -> the Keras class name."""
    names = {}
    for cls in catalog()["layers"]:
        names[cls] = cls
        names.setdefault(snake_case(cls), cls)
    return names


def layer_class(name: str) -> str | None:
    return layer_names().get(name)


def layer_params(cls: str) -> dict[str, list[str]]:
    return catalog()["layers"][cls]


def suggest(name: Any, choices: list[str] | set[str] | dict) -> str:
    """`` (did you mean 'Dense'?)`` when something close exists, else ``""``."""
    if not isinstance(name, str):
        return ""
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return f"; did you mean {lowered[close[0]]!r}?" if close else ""
