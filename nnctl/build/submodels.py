"""Cut a trained model at a named layer: the encoder up to it, the decoder after it."""

from __future__ import annotations

from nnctl.errors import UserError
from nnctl.keras_env import import_keras


def split_at(model, name: str):
    """(encoder, decoder): ``model`` up to layer ``name``, and the layers after it on a new input.

    The decoder re-applies the later layers in order, so the part after ``name`` must be a chain
    (each layer fed by the one before it), as in a classic autoencoder.
    """
    keras = import_keras()
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise UserError(f"export.encoder: no layer or node named {name!r} ({', '.join(names)})")
    cut = model.get_layer(name)
    encoder = keras.Model(model.inputs, cut.output, name=f"{model.name}_encoder")
    code = keras.Input(shape=tuple(cut.output.shape[1:]), name="code")
    x, previous = code, cut
    for layer in model.layers[names.index(name) + 1 :]:
        parents = _inbound(layer)
        if parents != [previous]:
            raise UserError(
                f"export.encoder: the layers after {name!r} are not a chain "
                f"({layer.name!r} does not take {previous.name!r} alone), so no decoder can be cut"
            )
        x, previous = layer(x), layer
    return encoder, keras.Model(code, x, name=f"{model.name}_decoder")


def _inbound(layer) -> list:
    """The layers whose outputs feed ``layer`` in the model it was built in."""
    node = layer._inbound_nodes[0]
    return [t._keras_history[0] for t in node.input_tensors]
