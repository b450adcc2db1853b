"""Rules for text features, checked without TensorFlow: text meets a TextVectorization layer.

``text: true`` (sources csv and imdb) keeps the features as strings. Numeric preprocessing does
not apply to them, IMDB's word-id options do not either, and layers that take text need a source
that gives it. Where text flows inside the model is checked when it is built (build/adapt.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from nnctl.spec.loader import PathKey
from nnctl.spec.modes import rules_of
from nnctl.spec.schema import Spec

Issue = tuple[PathKey, str, bool]
NUMERIC_PREPROCESS = ("scale", "standardize", "flatten", "reshape")
TEXT_LAYERS = ("TextVectorization", "StringLookup")  # take strings, give numbers
WORD_ID_OPTIONS = ("num_words", "maxlen")  # source imdb without text
MAYBE_TEXT = ("npz", "npy")  # arrays of strings load as text


def check_text(spec: Spec) -> Iterator[Issue]:
    """Text options that contradict each other, text layers without text to take, and text
    layers in steps XLA would compile."""
    if spec.data is None:
        return
    if spec.train.jit_compile and spec.model is not None:
        yield from _text_layers_under_xla(spec)
    data = spec.data
    if getattr(data, "text", False):
        for key in NUMERIC_PREPROCESS:
            if getattr(data.preprocess, key):
                message = (
                    f"{key} works on numbers, but text: true keeps the features as text; "
                    "remove it (a TextVectorization layer turns text into word ids)"
                )
                yield ("data", "preprocess", key), message, True
        for key in WORD_ID_OPTIONS if data.source == "imdb" else ():
            if key in data.model_fields_set:
                message = (
                    f"{key} shapes IMDB's word ids; with text: true the TextVectorization "
                    "layer's max_tokens and output_sequence_length do that: remove it"
                )
                yield ("data", key), message, True
    elif (
        spec.model is not None and data.source not in MAYBE_TEXT and not rules_of(spec).string_pairs
    ):
        yield from _text_layers_without_text(spec)


def _text_layers_under_xla(spec: Spec) -> Iterator[Issue]:
    """XLA compiles no string ops: a model that takes text cannot train with jit_compile."""
    for where, kind in _text_layers(spec):
        message = (
            f"{kind} takes text, and XLA compiles no string ops: set train.jit_compile: "
            "false, or turn the text into ids before the model"
        )
        yield where, message, False


def _text_layers_without_text(spec: Spec) -> Iterator[Issue]:
    """A TextVectorization (or StringLookup) layer on a source that gives numbers."""
    source = spec.data.source
    if source in ("csv", "imdb"):
        fix = f"set data.text: true to read {'the reviews' if source == 'imdb' else 'it'} as text"
    else:
        fix = "use text data (source: csv with text: true, or source: imdb with text: true)"
    for where, kind in _text_layers(spec):
        yield where, f"{kind} takes text, but source {source} gives numbers; {fix}", False


def _text_layers(spec: Spec) -> Iterator[tuple[tuple, str]]:
    """(spec path, class) of each layer that takes strings."""
    form = "layers" if spec.model.layers is not None else "nodes"
    for index, node in enumerate(spec.model.graph):
        kind = node.layer.keras_class if node.layer is not None else None
        if kind in TEXT_LAYERS:
            yield ("model", form, index, node.layer.type), kind
