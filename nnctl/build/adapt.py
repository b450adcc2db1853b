"""Preprocessing layers that learn from data, adapted on the training split inside the model.

``TextVectorization``, ``StringLookup`` and ``IntegerLookup`` learn a vocabulary, ``Normalization``
a mean and variance, ``Discretization`` bin boundaries. Written as ordinary spec layers, they are
adapted when the model is built, on the training split only (never validation or test data), on
what reaches them through the layers before them. They stay in the model, so the saved model and
its exports take raw inputs: text as strings, numbers unscaled.

Checkpoints hold what adapting learned beyond the model's variables (vocabularies and bin
boundaries; a Normalization's statistics are variables), so a resumed run keeps the exact token
ids its embeddings were trained with.
"""

from __future__ import annotations

import numpy as np

from nnctl.data.text import model_input
from nnctl.keras_env import import_keras
from nnctl.spec.schema import Spec
from nnctl.spec.text import TEXT_LAYERS  # take strings, give numbers

VOCABULARY_LAYERS = ("TextVectorization", "StringLookup", "IntegerLookup")
STRING_INPUT_LAYERS = (*TEXT_LAYERS, "Hashing")  # the layers a string tensor may enter
BATCH = 1024


def adapt_layers(spec: Spec, model, layers: dict, train_x) -> None:
    """Check where text flows in ``model``, then adapt each layer that learns from data, in
    order, on ``train_x`` (the training split) as it reaches that layer.

    ``layers`` maps the graph's node names (``layers[3]`` for an unnamed entry) to their layers,
    so that problems point at the spec entry that made the layer.
    """
    where = _spec_paths(spec, layers)
    _check_text_flow(spec, model, where)
    for layer in model.layers:
        if needs_adapting(layer):
            _adapt(spec, model, layer, train_x, where.get(id(layer), ("model",)))


def needs_adapting(layer) -> bool:
    """Whether ``layer`` learns its state from data and was not given that state in the spec."""
    kind = type(layer).__name__
    if kind in VOCABULARY_LAYERS:
        return layer.get_config().get("vocabulary") is None
    if kind == "Normalization":
        return layer.input_mean is None
    if kind == "Discretization":
        return layer.num_bins is not None and not layer.bin_boundaries
    return False


def _spec_paths(spec: Spec, layers: dict) -> dict[int, tuple]:
    """id(layer) -> the spec path of the entry that made it (as build_model names nodes)."""
    section = "layers" if spec.model.layers is not None else "nodes"
    paths = {}
    for index, node in enumerate(spec.model.graph):
        layer = layers.get(node.name or f"{section}[{index}]")
        if layer is not None and not node.share:
            paths.setdefault(id(layer), ("model", section, index))
    return paths


def _check_text_flow(spec: Spec, model, where: dict[int, tuple]) -> None:
    """Strings enter only layers that take text, and text layers get strings."""
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        dtypes = {str(t.dtype) for node in layer._inbound_nodes for t in node.input_tensors}
        at = where.get(id(layer), ("model",))
        if "string" in dtypes and kind not in STRING_INPUT_LAYERS:
            raise spec.error(
                at,
                f"{kind} takes numbers, but its input is text (strings); put a "
                "TextVectorization layer first to turn text into word ids",
            )
        if kind in TEXT_LAYERS and dtypes and "string" not in dtypes:
            got = ", ".join(sorted(dtypes))
            raise spec.error(
                at,
                f"{kind} takes text, but its input is {got} numbers; give it text features "
                "(source: csv with text: true, or source: imdb with text: true)",
            )


def _adapt(spec: Spec, model, layer, train_x, at: tuple) -> None:
    """Adapt ``layer`` on the training data as it arrives at the layer."""
    data = _arriving(model, layer, train_x)
    kind = type(layer).__name__
    if len(data) == 0:
        raise spec.error(at, f"{kind} learns from the training data, but there is none")
    try:
        if kind == "TextVectorization":
            layer.adapt(data, batch_size=BATCH)
        else:
            layer.adapt(data)
    except (ValueError, TypeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise spec.error(at, f"{kind} could not adapt to the training data: {message}") from None


def _arriving(model, layer, train_x):
    """What the training split looks like at ``layer``'s input (the raw data at the input)."""
    keras = import_keras()
    (tensor,) = layer._inbound_nodes[0].input_tensors
    inputs = model.input  # one input, or inputs by name with train_x arrays by name
    named = inputs.items() if isinstance(inputs, dict) else [(None, inputs)]
    for name, source in named:
        if tensor is source:
            return model_input(train_x if name is None else train_x[name])
    upstream = keras.Model(inputs, tensor)
    return model_input(upstream.predict(model_input(train_x), batch_size=BATCH, verbose=0))


# -------------------------------------------------------------------------------- checkpoints
def adapted_state(model) -> dict[str, np.ndarray]:
    """What adapting learned that is not a model variable, as arrays named by layer order."""
    state = {}
    for i, layer in enumerate(_learning_layers(model)):
        kind = type(layer).__name__
        if kind in VOCABULARY_LAYERS and _restorable(layer):
            vocabulary = layer.get_vocabulary()
            dtype = str if kind != "IntegerLookup" else np.int64
            state[f"adapted_{i:03d}_vocabulary"] = np.asarray(vocabulary, dtype=dtype)
        elif kind == "Discretization" and layer.bin_boundaries:
            state[f"adapted_{i:03d}_bins"] = np.asarray(layer.bin_boundaries, dtype=np.float64)
    return state


def restore_adapted(model, arrays: dict[str, np.ndarray]) -> None:
    """Put ``adapted_state``'s arrays back, after the model's variables were assigned."""
    for i, layer in enumerate(_learning_layers(model)):
        vocabulary = arrays.get(f"adapted_{i:03d}_vocabulary")
        bins = arrays.get(f"adapted_{i:03d}_bins")
        if vocabulary is not None:
            layer.set_vocabulary(vocabulary.tolist())
        elif bins is not None:
            layer.bin_boundaries = bins.tolist()
        elif type(layer).__name__ == "Normalization":
            layer.finalize_state()  # its statistics are variables; refresh the copies it uses


def _learning_layers(model) -> list:
    kinds = (*VOCABULARY_LAYERS, "Normalization", "Discretization")
    return [layer for layer in model.layers if type(layer).__name__ in kinds]


def _restorable(layer) -> bool:
    """A vocabulary that ``set_vocabulary`` can put back alone (tf_idf also needs its weights)."""
    return layer.get_config().get("output_mode") != "tf_idf"
