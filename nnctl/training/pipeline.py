"""The training split as a ``tf.data`` pipeline of compiled calls' inputs.

Each element is what one compiled call trains on: its batches stacked ``(steps, batch, ...)``,
gathered in the graph from the split's tensors in the epoch's order (a function of seed and epoch,
``Batches.order``), and prefetched while the call before it trains. Python touches no rows: it
hands the pipeline the epoch's order and its plan of calls, ``(first batch, steps)`` each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnctl.keras_env import import_keras

PREFETCH = 2  # calls gathered ahead of the one training


class Pipeline:
    """The split's arrays as tensors, and per epoch a ``tf.data`` iterator over its calls."""

    def __init__(self, parts: tuple, size: int):
        import_keras()
        import tensorflow as tf

        self.tensors = tf.nest.map_structure(_tensor, parts)  # (x, y) or (x, y, weights)
        self.size = size

    @property
    def element_spec(self):
        """The ``tf.TensorSpec`` of one call's input: any number of batches of any size."""
        import tensorflow as tf

        def spec(tensor):
            return tf.TensorSpec((None, None, *tensor.shape[1:]), tensor.dtype)

        return tf.nest.map_structure(spec, self.tensors)

    def calls(self, order: np.ndarray, plan: list[tuple[int, int]]) -> Iterator:
        """The inputs of the calls ``plan`` lists, in that order, from the rows ``order`` lists."""
        import tensorflow as tf

        order = tf.constant(order, tf.int64)
        first, steps = (np.array(column, dtype="int64") for column in zip(*plan, strict=True))

        def fetch(first, steps):  # rows of batches first .. first + steps - 1
            index = order[first * self.size : (first + steps) * self.size]

            def take(tensor):  # (steps * batch, ...) -> (steps, batch, ...)
                rows = tf.gather(tensor, index)
                return tf.reshape(rows, [steps, -1, *tensor.shape[1:]])

            return tf.nest.map_structure(take, self.tensors)

        calls = tf.data.Dataset.from_tensor_slices((first, steps))
        calls = calls.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return iter(calls.prefetch(PREFETCH))


def _tensor(array: np.ndarray):
    """An array as a tensor: text as ``tf.string``, numbers as they are."""
    import tensorflow as tf

    if array.dtype.kind in "OUS":
        return tf.constant(array.astype(object), dtype=tf.string)
    return tf.convert_to_tensor(array)
