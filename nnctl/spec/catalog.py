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
KERAS3_NAMES = {  # short names and Keras 2 spellings -> Keras 3's name for the same quantity
    "metric": {
        "acc": "accuracy", "binary_acc": "binary_accuracy", "categorical_acc":
        "categorical_accuracy", "sparse_categorical_acc": "sparse_categorical_accuracy",
        "rmse": "root_mean_squared_error", "f1": "f1_score", "r2": "r2_score",
        "cosine": "cosine_similarity", "cosine_proximity": "cosine_similarity",
        "kld": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
        "logcosh": "log_cosh_error", "roc_auc": "auc", "auroc": "auc", "mean_iou": "mean_io_u",
        "top_k_accuracy": "top_k_categorical_accuracy",
    },
    "loss": {
        "cce": "categorical_crossentropy", "scce": "sparse_categorical_crossentropy",
        "log_loss": "binary_crossentropy", "logloss": "binary_crossentropy",
        "logcosh": "log_cosh", "kullback_leibler_divergence": "kl_divergence",
        "cosine_proximity": "cosine_similarity",
    },
    "monitor": {"acc": "accuracy", "lr": "learning_rate"},
}  # fmt: skip
NOT_IN_KERAS = {  # names users expect that Keras does not have, and what to write instead
    ("loss", "rmse"): "Keras has no RMSE loss; did you mean 'mse'? (the same minimum; add "
    "root_mean_squared_error to metrics to watch RMSE)",
    ("loss", "root_mean_squared_error"): "Keras has no RMSE loss; did you mean 'mse'? (the same "
    "minimum; root_mean_squared_error is a metric)",
    ("metric", "lr"): "the learning rate is not a metric: it is optimizer.learning_rate ('lr' in "
    "Keras 2), and reduce_on_plateau logs it as learning_rate",
    ("metric", "loss"): "the loss is always logged; metrics lists the others",
}
ABBREVIATION = 5  # names this short are acronyms: one letter apart, they name other quantities


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


def name_hint(what: str, name: str, known: list[str], common: list[str] = ()) -> str:
    """A hint for an unknown loss or metric name: Keras 3's name for a Keras 2 or short name,
    a close spelling (never an acronym a letter away from another: rmse is not mse), or the
    common names."""
    if alias := KERAS3_NAMES.get(what, {}).get(name):
        return f"; did you mean {alias!r}? (Keras 3's name for {name})"
    if note := NOT_IN_KERAS.get((what, name)):
        return f"; {note}" + (
            f"; common ones: {', '.join(common)}" if "did you mean" not in note else ""
        )
    if name.startswith("val_"):
        base = name.removeprefix("val_")
        meant = base if base in known else KERAS3_NAMES.get(what, {}).get(base, base)
        return (f"; metrics are named without val_ (Keras logs each on the validation data as "
                f"val_NAME by itself); did you mean {meant!r}?")  # fmt: skip
    close = closest(name, known)
    if close is None or (len(name) <= ABBREVIATION and len(close) <= ABBREVIATION):
        return f"; common ones: {', '.join(common)}" if common else hint(name, [], [])
    return f"; did you mean {close!r}?"


def hint(name: Any, choices: list[str] | set[str] | dict, common: list[str] = ()) -> str:
    """A close choice as ``did you mean``; else every choice, or the common ones of many."""
    close = suggest(name, choices)
    if close:
        return close
    if len(choices) <= MAX_LISTED:
        return f"; expected one of: {', '.join(map(str, choices))}"
    return f"; common ones: {', '.join(common)}" if common else ""
