"""A built model described for a reader: its layers as rows (``nnctl summary``, the report) and
a drawing of its graph (``nnctl summary --plot``, the report) by Keras's ``model_to_dot`` and
Graphviz's ``dot``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from nnctl.errors import UserError

DRAWINGS = (".png", ".svg", ".pdf", ".dot")  # what --plot writes, by the file name's ending
GRAPHVIZ = (
    "Graphviz's `dot` program is not installed (it lays out the drawing): install the "
    "`graphviz` package (Debian, Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
)


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    shape: str
    parameters: int


def layer_rows(model) -> list[LayerRow]:
    """One row per layer of ``model``: name, class, output shape, parameter count."""
    return [
        LayerRow(
            layer.name,
            type(layer).__name__,
            str(tuple(layer.output.shape)) if hasattr(layer, "output") else "",
            layer.count_params(),
        )
        for layer in model.layers
    ]


def parameter_totals(model) -> tuple[int, int]:
    """(all parameters, trainable ones)."""
    import numpy as np

    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params(), trainable


def can_draw() -> str | None:
    """None when a model can be drawn here, else why not and what to install."""
    return None if shutil.which("dot") else GRAPHVIZ


def draw(model, target: Path, *, dpi: int = 72) -> None:
    """Draw ``model``'s graph into ``target`` (.png, .svg, .pdf or .dot), layers with their
    shapes; a model made only of networks (a GAN's generator, discriminator, ...) is drawn
    network by network, side by side."""
    check_drawing(target)
    suffix = target.suffix.lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    _graph(model, dpi).write(str(target), format="raw" if suffix == ".dot" else suffix[1:])


def check_drawing(target: Path) -> None:
    """Refuse, before any model is built, a drawing that cannot be written: an unknown file
    ending, or no Graphviz."""
    suffix = target.suffix.lower()
    if suffix not in DRAWINGS:
        raise UserError(f"{target}: cannot draw a model as {suffix or 'a file without an ending'}"
                        f"; name a {', '.join(DRAWINGS)} file")  # fmt: skip
    if suffix != ".dot" and can_draw():
        raise UserError(f"cannot draw {target}: {can_draw()}")


def _graph(model, dpi: int):
    import pydot

    from nnctl.keras_env import import_keras

    keras = import_keras()
    options = {"show_shapes": True, "show_layer_names": True, "show_layer_activations": True}
    networks = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not networks or len(networks) < len(model.layers):
        return keras.utils.model_to_dot(model, dpi=dpi, **options)
    graph = pydot.Dot(graph_type="digraph", rankdir="TB", dpi=dpi, concentrate=True)
    graph.set_node_defaults(shape="record")  # as model_to_dot sets it on a whole graph
    for network in networks:  # each a dashed box named after the network
        graph.add_subgraph(keras.utils.model_to_dot(network, subgraph=True, **options))
    return graph
