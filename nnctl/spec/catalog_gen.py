"""Regenerate ``keras_catalog.json`` from the installed Keras: ``python -m nnctl.spec.catalog_gen``.

The catalogue lets ``nnctl validate`` check layer, argument, activation, loss, metric and optimizer
names without importing TensorFlow. nnctl's own layers, losses and metrics (``nnctl.layers``) are
listed with Keras's. ``tests/test_catalog.py`` fails when it drifts from Keras: when a name or an
argument a spec may use changes, not when only the Keras version does.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("keras_catalog.json")

# Layers a spec may not name: they run arbitrary code, take objects a spec cannot express (a cell,
# a whole model), or belong to other frameworks. Bidirectional and TimeDistributed are allowed:
# their `layer:` argument is itself a spec layer entry.
EXCLUDED_LAYERS = {
    "Lambda", "TFSMLayer", "Layer", "InputLayer", "Wrapper", "RNN", "StackedRNNCells",
    "FlaxLayer", "JaxLayer", "TorchModuleWrapper", "Pipeline", "SpectralNormalization",
    "GRUCell", "LSTMCell", "SimpleRNNCell",
}  # fmt: skip
EXCLUDED_OPTIMIZERS = {"optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap"}


def _params(cls) -> dict:
    """Constructor parameter names; the first one is what a scalar short form sets."""
    sig = inspect.signature(cls.__init__)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    named = [p for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return {
        "params": [p.name for p in named],
        "required": [p.name for p in named if p.default is p.empty],
    }


def generate() -> dict:
    from nnctl import layers as nnctl_layers
    from nnctl.keras_env import import_keras

    keras = import_keras()
    from keras.src import activations, losses, metrics, optimizers

    base = _params(keras.layers.Layer)["params"]
    layers = {}
    for name in sorted(dir(keras.layers)):
        cls = getattr(keras.layers, name)
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            continue
        if name in EXCLUDED_LAYERS:
            continue
        layers[name] = _params(cls)
    for name in nnctl_layers.LAYERS:  # nnctl's own, named like Keras's
        layers[name] = _params(nnctl_layers.layer_class(name))
    optimizer_params = {
        name: _params(cls)["params"]
        for name, cls in sorted(optimizers.ALL_OBJECTS_DICT.items())
        if name.islower() and name not in EXCLUDED_OPTIMIZERS
    }
    return {
        "keras_version": keras.__version__,
        "layer_base_params": sorted(set(base) | {"name", "dtype", "trainable"}),
        "layers": layers,
        "activations": sorted(activations.ALL_OBJECTS_DICT),
        "losses": sorted(
            {n for n in losses.ALL_OBJECTS_DICT if n[0].islower()} | set(nnctl_layers.LOSSES)
        ),
        "metrics": sorted(
            {n for n in metrics.ALL_OBJECTS_DICT if n[0].islower() and n != "metric"}
            | set(nnctl_layers.METRICS)
        ),
        "optimizers": optimizer_params,
    }


def drift(stored: dict, installed: dict) -> list[str]:
    """What regenerating would change in the spec language, one line each; [] if nothing.

    ``keras_version`` only records where the catalogue came from: a release that changes no name
    or argument is no drift.
    """
    changes = []
    for section in sorted((set(stored) | set(installed)) - {"keras_version"}):
        old, new = stored.get(section), installed.get(section)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += [
                f"{section}.{name}: {old.get(name)} -> {new.get(name)}"
                for name in sorted(set(old) | set(new))
                if old.get(name) != new.get(name)
            ]
        elif old != new:
            changes.append(f"{section}: {old} -> {new}")
    return changes


def main() -> None:
    generated = generate()
    if "--check" in sys.argv:
        changes = drift(json.loads(CATALOG_PATH.read_text()), generated)
        print("\n".join(changes) or "no drift")
        sys.exit(1 if changes else 0)
    text = json.dumps(generated, indent=1, sort_keys=True) + "\n"
    CATALOG_PATH.write_text(text)
    print(f"wrote {CATALOG_PATH}")


if __name__ == "__main__":
    main()
