"""Names Keras knows, read from the checked-in catalogue (no TensorFlow import), and suggestions."""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).with_name("keras_catalog.json")
MAX_LISTED = 15  # longer lists of names are not spelled out in messages
COMMON = {  # named in a message when an unknown name is close to none of the many known ones
    "layer": ["Dense", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "BatchNormalization",
              "LSTM", "Embedding"],
    "activation": ["relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "linear"],
    "loss": ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
             "sparse_categorical_crossentropy"],
    "metric": ["accuracy", "mae", "mse", "auc", "precision", "recall"],
}  # fmt: skip


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


def closest(name: Any, choices: list[str] | set[str] | dict) -> Any:
    """The one choice close to ``name`` (or alone starting with it), else None."""
    if not isinstance(name, str) or not name:
        return None
    lowered = {str(c).lower(): c for c in choices}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    if not close and len(name) >= 3:
        close = [c for c in lowered if c.startswith(name.lower())]
    return lowered[close[0]] if len(close) == 1 else None


def suggest(name: Any, choices: list[str] | set[str] | dict) -> str:
    """``; did you mean 'Dense'?`` when one choice is close to ``name``, else ``""``."""
    close = closest(name, choices)
    return f"; did you mean {close!r}?" if close is not None else ""


def hint(name: Any, choices: list[str] | set[str] | dict, common: list[str] = ()) -> str:
    """A close choice as ``did you mean``; else every choice, or the common ones of many."""
    close = suggest(name, choices)
    if close:
        return close
    if len(choices) <= MAX_LISTED:
        return f"; expected one of: {', '.join(map(str, choices))}"
    return f"; common ones: {', '.join(common)}" if common else ""
