"""A spec is untrusted data: refuse a model too large to build before its weights exist."""

from __future__ import annotations

import math
from typing import Any

from nnctl.spec.schema import LayerSpec

RECURRENT_GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}


def estimated_parameters(layer: LayerSpec, input_shape: tuple[Any, ...]) -> int:
    """Weights the layer will create on an input of ``input_shape`` (0 for layers not counted).

    Covers the layers whose size a spec sets directly (dense, convolution, embedding, recurrent);
    the model's real count is checked again once built.
    """
    cls, args = layer.keras_class, layer.args
    channels = int(input_shape[-1] or 0) if input_shape else 0
    if cls in ("Dense", "EinsumDense") and isinstance(args.get("units"), int):
        return (channels + 1) * args["units"]
    if cls and cls.startswith("Conv") and isinstance(args.get("filters"), int):
        dims = int(cls[len("Conv")]) if cls[len("Conv") : len("Conv") + 1].isdigit() else 2
        kernel = args.get("kernel_size", 1)
        size = math.prod(kernel) if isinstance(kernel, list) else int(kernel) ** dims
        return (size * channels + 1) * args["filters"]
    if cls == "Embedding":
        return int(args.get("input_dim", 0)) * int(args.get("output_dim", 0))
    if cls in RECURRENT_GATES and isinstance(args.get("units"), int):
        units = args["units"]
        return RECURRENT_GATES[cls] * (channels + units + 1) * units
    if cls == "DNC" and isinstance(args.get("units"), int):
        return _dnc_parameters(channels, args)
    return 0


def _dnc_parameters(channels: int, args: dict[str, Any]) -> int:
    """LSTM controller on input + read vectors, and the interface map (the memory is state)."""
    units, word, heads = args["units"], args.get("word_size", 16), args.get("read_heads", 1)
    if not all(isinstance(n, int) for n in (word, heads)):
        return 0
    controller = 4 * (channels + heads * word + units + 1) * units
    interface = (units + 1) * (heads * word + 3 * word + 5 * heads + 3)
    return controller + interface


MAX_STATE = 2**24  # numbers of recurrent state per sample (64 MiB of float32)


def state_too_large(layer: LayerSpec) -> str | None:
    """Why the layer's recurrent state per sample is too large to hold, or None.

    A DNC keeps its memory, usage and an N x N temporal link matrix for every sample and time
    step (the numbers below are ``DNCCell.state_size``): a huge ``memory_size`` would exhaust
    memory long before its few parameters did.
    """
    args = layer.args
    if layer.keras_class != "DNC":
        return None
    sizes = [args.get(k, d) for k, d in (("units", 0), ("memory_size", 16), ("word_size", 16),
                                         ("read_heads", 1))]  # fmt: skip
    if not all(isinstance(n, int) for n in sizes):
        return None
    units, n, w, r = sizes
    state = 2 * units + n * w + n + n * n + n + r * n + n + r * w
    if state <= MAX_STATE:
        return None
    return (
        f"memory_size {n} gives each sample {state:,} numbers of state (an {n} x {n} link "
        f"matrix among them), over nnctl's limit of {MAX_STATE:,}; use a smaller memory_size"
    )


def too_large(total: int, limit: int) -> str:
    return (
        f"the model would have at least {total:,} parameters, over model.max_parameters "
        f"({limit:,}); raise model.max_parameters if you mean it"
    )
