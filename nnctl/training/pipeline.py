"""The training split as a ``tf.data`` pipeline of compiled calls' inputs.

Each element is what one compiled call trains on: its batches stacked ``(steps, batch, ...)``,
gathered in the graph from the split's tensors in the epoch's order (a function of seed and epoch,
``Batches.order``), and prefetched while the call before it trains. Python touches no rows: it
hands the pipeline the epoch's order and its plan of calls, ``(first batch, steps)`` each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnctl.data import count
from nnctl.data.stream import FileRows
from nnctl.data.text import model_input
from nnctl.keras_env import import_keras

PREFETCH = 1  # calls gathered ahead of the one training
PARALLEL = 2  # calls gathered at once (a fixed number: memory stays bounded by the batch size)


class Pipeline:
    """The split's arrays as tensors (streamed features as their ``FileRows``), and per epoch a
    ``tf.data`` iterator over its calls."""

    def __init__(self, parts: tuple, size: int):
        import_keras()
        import tensorflow as tf

        self.sources = tf.nest.map_structure(_source, parts)  # (x, y) or (x, y, weights)
        self.size = size

    @property
    def element_spec(self):
        """The ``tf.TensorSpec`` of one call's input: any number of batches of any size."""
        import tensorflow as tf

        def spec(source):
            return tf.TensorSpec((None, None, *source.shape[1:]), _dtype(source))

        return tf.nest.map_structure(spec, self.sources)

    def calls(self, order: np.ndarray, plan: list[tuple[int, int]]) -> Iterator:
        """The inputs of the calls ``plan`` lists, in that order, from the rows ``order`` lists."""
        import tensorflow as tf

        if not plan:  # a signal stopped the epoch after its last call: nothing left
            return iter(())
        order = tf.constant(order, tf.int64)
        first, steps = (np.array(column, dtype="int64") for column in zip(*plan, strict=True))

        def fetch(first, steps):  # batches first .. first + steps - 1 as (steps, batch, ...)
            rows = self.rows(order[first * self.size : (first + steps) * self.size])
            return tf.nest.map_structure(
                lambda part: tf.reshape(part, [steps, -1, *part.shape[1:]]), rows
            )

        calls = tf.data.Dataset.from_tensor_slices((first, steps))
        calls = calls.map(fetch, num_parallel_calls=PARALLEL, deterministic=True)
        return iter(calls.prefetch(PREFETCH))

    def rows(self, index):
        """Rows ``index`` (a tensor) of every part, gathered in the graph (streamed ones read
        from their file)."""
        import tensorflow as tf

        return tf.nest.map_structure(lambda source: _take(source, index), self.sources)


def batches(parts: tuple, size: int):
    """``parts`` in their order, a batch at a time, as a ``tf.data`` dataset: what
    ``model.evaluate`` and ``model.predict`` take for streamed features."""
    import tensorflow as tf

    pipeline, n = Pipeline(parts, size), count(parts[0])
    starts = tf.data.Dataset.range(0, n, size)
    batched = starts.map(lambda start: pipeline.rows(tf.range(start, tf.minimum(start + size, n))))
    return batched.prefetch(PREFETCH)


def keras_data(x, y, size: int) -> dict:
    """The arguments that give ``model.evaluate`` (or ``predict``, ``y`` None) a split: the
    arrays themselves, or streamed features as batches from their file."""
    if not any(isinstance(part, FileRows) for part in _leaves((x, y))):
        arrays = {"x": model_input(x)} if y is None else {"x": model_input(x), "y": y}
        return arrays | {"batch_size": size}
    return {"x": batches((x,) if y is None else (x, y), size)}


def _leaves(parts) -> list:
    return [v for part in parts for v in (part.values() if isinstance(part, dict) else [part])]


def _source(array):
    """What the pipeline draws a part from: streamed rows as they are, arrays as tensors (text
    as ``tf.string``)."""
    import tensorflow as tf

    if isinstance(array, FileRows):
        return array
    if array.dtype.kind in "OUS":
        return tf.constant(array.astype(object), dtype=tf.string)
    return tf.convert_to_tensor(array)


def _dtype(source):
    import tensorflow as tf

    return tf.as_dtype(source.dtype)


def _take(source, index):
    """Rows ``index`` of one part: a gather, or a read of streamed rows from their file."""
    import tensorflow as tf

    if not isinstance(source, FileRows):
        return tf.gather(source, index)
    rows = tf.numpy_function(source.read, [index], _dtype(source), stateful=False)
    rows.set_shape([None, *source.shape[1:]])
    return rows
