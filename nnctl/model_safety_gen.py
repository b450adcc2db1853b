"""Regenerate ``model_safety_ops.json`` by measurement: ``python -m nnctl.model_safety_gen``.

The allowlist is what nnctl's own exports hold: SavedModels of small models covering every layer
of the spec catalogue (``spec/keras_catalog.json``, grouped by the input they take) and every
activation, and of every shipped spec in ``specs/`` trained for one epoch on a few samples
(downloads replaced by random stand-ins of the same shape). Ops that only the loader's variable
restore runs go to ``restore_ops``. It refuses to write an op that touches files, processes or
Python (``model_safety.REASONS``) into ``ops``. Takes several minutes; ``--no-specs`` skips the
shipped specs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import yaml

from nnctl.model_safety import OPS_PATH, REASONS, graph_ops, read_saved_model
from nnctl.spec.catalog import catalog

SPECS = Path(__file__).resolve().parent.parent / "specs"

# One value for each required layer argument of the catalogue.
ARGS = {
    "units": 3, "filters": 2, "kernel_size": 2, "rate": 0.1, "stddev": 0.1, "pool_size": 2,
    "output_size": 2, "activation": "relu", "height": 4, "width": 4, "factor": 0.1,
    "height_factor": 0.1, "width_factor": 0.1, "n": 2, "scale": 0.5, "target_shape": (-1,),
    "num_bins": 4, "input_dim": 10, "output_dim": 3, "num_heads": 2, "key_dim": 2, "head_dim": 2,
    "num_query_heads": 2, "num_key_value_heads": 1, "axes": -1, "dims": (1,),
    "equation": "ab,bc->ac", "output_shape": 3, "max_number": 2,
}  # fmt: skip
# Layers that need state a spec would adapt, or a wrapped layer.
EXTRA = {
    "TextVectorization": {"vocabulary": ["a", "b"], "output_sequence_length": 4},
    "StringLookup": {"vocabulary": ["a", "b"]},
    "IntegerLookup": {"vocabulary": [1, 2]},
    "Discretization": {"bin_boundaries": [0.0, 1.0]},
    "Normalization": {"mean": 0.0, "variance": 1.0},
    "CategoryEncoding": {"num_tokens": 10},
    "GroupNormalization": {"groups": 1},
    "RandomPosterization": {"factor": (1, 4)},
}
# Sample shapes and dtypes, by the input a layer takes; a layer tries those its name suggests.
KINDS = {
    "vector": ((8,), "float32"),
    "sequence": ((6, 4), "float32"),
    "image": ((8, 8, 3), "float32"),
    "volume": ((4, 4, 4, 2), "float32"),
    "time_sequence": ((3, 6, 2), "float32"),
    "time_image": ((3, 6, 6, 2), "float32"),
    "time_volume": ((3, 4, 4, 4, 2), "float32"),
    "ints": ((5,), "int32"),
    "int": ((1,), "int32"),
    "audio": ((4096,), "float32"),
    "audio_channels": ((4096, 1), "float32"),
    "strings": ((1,), "string"),
}
DOWNLOADS = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}


def _kinds(name: str) -> list[str]:
    if name in ("TextVectorization", "StringLookup"):
        return ["strings"]
    if name in ("Embedding", "ReversibleEmbedding", "IntegerLookup", "CategoryEncoding"):
        return ["ints"]
    if name == "HashedCrossing":
        return ["int"]
    if name.endswith("Spectrogram"):
        return ["audio", "audio_channels"]
    if name.startswith("ConvLSTM"):
        return ["time_" + {"1D": "sequence", "2D": "image", "3D": "volume"}[name[-2:]]]
    for suffix, kind in (("1D", "sequence"), ("2D", "image"), ("3D", "volume")):
        if suffix in name:
            return [kind]
    return ["image", "sequence", "vector", "ints"]


def _layer(keras, name: str, info: dict):
    from nnctl.layers import layer_class

    cls = layer_class(name) or getattr(keras.layers, name)
    args = {k: ARGS[k] for k in info["required"] if k in ARGS} | EXTRA.get(name, {})
    if "layer" in info["required"]:
        inner = keras.layers.LSTM(2) if name == "Bidirectional" else keras.layers.Dense(2)
        args["layer"] = inner
    return cls(**args)


CALLS = (
    lambda lay, x: lay(x),
    lambda lay, x: lay([x, x]),
    lambda lay, x: lay((x, x)),
    lambda lay, x: lay(x, x),
)


def _call_form(keras, name: str, info: dict, kind: str):
    """How the layer takes an input of ``kind`` (alone, as a pair, as query and value), or None.
    Tried eagerly on a sample, and symbolically on a throwaway input (a failed call can leave a
    half-made node behind)."""
    shape, dtype = KINDS[kind]
    sample = np.full((2, *shape), "a") if dtype == "string" else np.ones((2, *shape), dtype)
    for call in CALLS:
        try:
            call(_layer(keras, name, info), sample)
            x = keras.Input(shape, dtype=dtype)
            outs = keras.tree.flatten(call(_layer(keras, name, info), x))
            if all(out is not x for out in outs):  # some return their input as is
                return call
        except Exception:  # the wrong input for this layer: try the next form
            continue
    return None


def catalog_models(keras) -> Iterator[tuple[str, object]]:
    """Per input kind, one model with a branch for each catalogue layer that takes it."""
    inputs = {k: keras.Input(s, dtype=d, name="features") for k, (s, d) in KINDS.items()}
    branches: dict[str, list] = {k: [] for k in KINDS}
    missing = []
    for name, info in sorted(catalog()["layers"].items()):
        for kind in _kinds(name):
            call = _call_form(keras, name, info, kind)
            if call is not None:
                out = call(_layer(keras, name, info), inputs[kind])
                branches[kind] += out if isinstance(out, list | tuple) else [out]
                break
        else:
            missing.append(name)
    for activation in catalog()["activations"]:
        try:
            keras.layers.Activation(activation)(np.ones((2, 8), "float32"))
        except Exception:  # needs arguments a spec gives through a layer of its own
            missing.append(f"activation {activation}")
            continue
        branches["vector"].append(keras.layers.Activation(activation)(inputs["vector"]))
    if missing:
        print(f"not measured (no input fits): {', '.join(missing)}", file=sys.stderr)
    for kind, outs in branches.items():
        if outs:
            yield f"catalogue, {kind} layers", keras.Model(inputs[kind], outs)


def _standin(data: dict, folder: Path) -> dict:
    """Random samples of the same shape in place of a download (IMDB: a few texts)."""
    rng = np.random.default_rng(0)
    if data.get("text"):
        x = np.array(["a good film", "a bad film", "not good", "not bad"] * 16)
        y = rng.integers(0, 2, len(x))
    else:
        x = rng.integers(0, 256, (64, *DOWNLOADS[data["source"]])).astype("uint8")
        y = rng.integers(0, 10, 64)
    np.savez(folder / "standin.npz", x=x, y=y)
    keep = {"preprocess": data["preprocess"]} if "preprocess" in data else {}  # strings: text
    return keep | {"source": "npz", "path": "standin.npz", "x": "x", "y": "y"}


def _tiny(spec: Path, folder: Path) -> Path:
    """The spec trained for a moment: one epoch, a few samples, a few short episodes."""
    data = yaml.safe_load(spec.read_text())
    if "env" in data:
        data["env"]["max_episode_steps"] = 20
        data["agent"] |= {"episodes": 2, "evaluation_episodes": 1}
    else:
        if data["data"]["source"] in (*DOWNLOADS, "imdb"):
            data["data"] = _standin(data["data"], folder)
        data["data"]["max_samples"] = 64
        data["train"]["epochs"] = 1
        if (data.get("gan") or {}).get("scorer"):
            data["gan"]["scorer"]["epochs"] = 1
    path = folder / spec.name
    path.write_text(yaml.safe_dump(data))
    return path


def spec_exports(folder: Path) -> Iterator[tuple[str, Path]]:
    """Every SavedModel ``nnctl export`` writes for each shipped spec."""
    from nnctl.cli import main

    for spec in sorted(SPECS.glob("*.yaml")):
        work = folder / spec.stem
        work.mkdir()
        run = work / "run"
        if main(["train", str(_tiny(spec, work)), "--out", str(run), "-q"]) or main(
            ["export", str(run)]
        ):
            print(f"{spec.name}: could not train and export; not measured", file=sys.stderr)
            continue
        for export in sorted(run.glob("export*")):
            yield f"{spec.name} ({export.name})", export


def measure(specs: bool = True) -> dict:
    from nnctl.export import write_saved_model
    from nnctl.keras_env import import_keras

    keras = import_keras()
    ops, restore_ops, sources = set(), set(), []
    with tempfile.TemporaryDirectory() as tmp:
        exports = []
        for i, (name, model) in enumerate(catalog_models(keras)):
            write_saved_model(model, Path(tmp) / f"catalog{i}")
            exports.append((name, Path(tmp) / f"catalog{i}"))
        if specs:
            exports = [*exports, *spec_exports(Path(tmp))]
        for name, path in exports:
            sources.append(name)
            for meta_graph in read_saved_model(path).meta_graphs:
                for op, _, restore_here in graph_ops(meta_graph):
                    (restore_ops if restore_here else ops).add(op)
    import tensorflow as tf

    return {
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "measured": sources,
        "ops": sorted(ops),
        "restore_ops": sorted(restore_ops - ops),
    }


def main() -> None:
    result = measure(specs="--no-specs" not in sys.argv)
    unsafe = [op for op in result["ops"] if any(p.search(op) for p, _ in REASONS)]
    if unsafe:
        sys.exit(f"refusing to allow {unsafe}: nnctl's exports hold them outside the restore")
    OPS_PATH.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{OPS_PATH}: {len(result['ops'])} ops, {len(result['restore_ops'])} restore ops")


if __name__ == "__main__":
    main()
