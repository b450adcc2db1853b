"""Keras's errors from building a layer, in the words of the spec: the reason, with the numbers.

Keras wraps an error raised in a layer's ``call()`` in "Exception encountered when calling
X.call()" with the reason in the middle, and chains deserialization errors as "Exception
encountered: ..."; nnctl shows the reason, and says the common ones in terms a spec can fix.
"""

from __future__ import annotations

import math
import re

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RANK = re.compile(r"expected (min_)?ndim=(\d+), found ndim=(\d+)")
WINDOW = re.compile(
    r"Computed output size would be zero or negative\. Received:? `inputs[ .]shape=([^`]*)`, "
    r"`(pool_size|kernel shape)=([^`]*)`"
)
RESHAPE = re.compile(
    r"total size of the tensor must be unchanged.*? Received: "
    r"input_shape=(\([^)]*\)), target_shape=(\([^)]*\))"
)
LAYOUTS = {
    3: " (batch, steps, features)",
    4: " (batch, height, width, channels)",
    5: " (batch, depth, height, width, channels)",
}


def explain(exc: Exception, got: str) -> str:
    """Keras's build error for one layer, ending with what the layer got (``got``)."""
    text = reason(str(exc))
    rank = RANK.search(text)
    if rank:
        need = int(rank.group(2))
        more = " or more" if rank.group(1) else ""
        return f"expects input of rank {need}{more}{LAYOUTS.get(need, '')}, {got}"
    window, reshape = WINDOW.search(text), RESHAPE.search(text)
    if window:
        return f"{_window(*window.groups())} ({got})"
    if reshape:
        return f"{_reshape(*reshape.groups())} ({got})"
    if not isinstance(exc, ValueError | TypeError):  # Keras tripped over an argument's type
        text = f"Keras cannot use its arguments ({type(exc).__name__}: {text})"
    return f"{text or type(exc).__name__} ({got})"


def reason(text: str) -> str:
    """The first line of Keras's own reason, without the wrappers and terminal colours."""
    text = ANSI.sub("", text).strip()
    if text.startswith("Exception encountered when calling"):
        paragraphs = text.split("\n\n")
        text = paragraphs[1] if len(paragraphs) > 1 else text
    text = text.split("Exception encountered: ")[-1].strip()
    return text.splitlines()[0] if text else ""


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def _window(inputs: str, kind: str, window: str) -> str:
    """A pooling window or convolution kernel larger than the positions of its input."""
    sample = _numbers(inputs.replace("None", ""))  # (batch, *positions, channels)
    positions = sample[:-1]
    size = _numbers(window)[: len(positions)]
    what = "pool_size" if kind == "pool_size" else "kernel_size"
    return (
        f"its window ({what} {_by(size)}) is larger than its input's {_by(positions)} "
        f"positions (padding: valid); use a {what} of at most {_by(positions)}, "
        "padding: same, or less downsampling before it"
    )


def _reshape(before: str, after: str) -> str:
    """A Reshape whose target holds a different number of values than its input."""
    have, want = _numbers(before), re.findall(r"-?\d+", after)
    count = math.prod(have)
    target = [int(n) for n in want]
    if -1 in target:
        known = math.prod(n for n in target if n != -1)
        return (
            f"cannot reshape samples of shape {tuple(have)} ({count} values) to "
            f"{tuple(target)}: {count} is not a multiple of {known}"
        )
    return (
        f"cannot reshape samples of shape {tuple(have)} ({count} values) to {tuple(target)} "
        f"({math.prod(target)} values); the number of values must stay the same"
    )


def _by(sizes: list[int]) -> str:
    return "x".join(map(str, sizes))
