"""The training split as the inputs of compiled calls.

A compiled call trains on its batches stacked ``(steps, batch, ...)``, rows of the split in the
epoch's order (a function of seed and epoch, ``Batches.order``). Arrays in memory are tensors the
call gathers its rows from, in the graph: its input is the rows' indices, nothing is copied in
Python, and no dataset is built per epoch. Streamed features (``FileRows``) come through a
``tf.data`` pipeline that reads each call's rows from their file while the call before it trains.
Python touches no rows either way: it hands the pipeline the epoch's order and its plan of calls,
``(first batch, steps)`` each.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nnctl.data import count
from nnctl.data.stream import FileRows
from nnctl.data.text import model_input
from nnctl.keras_env import import_keras

PREFETCH = 1  # calls read ahead of the one training (streamed features)
PARALLEL = 2  # calls read at once (a fixed number: memory stays bounded by the batch size)
CPU = "/cpu:0"  # where a split in memory is held and gathered (not in a GPU's memory)


class Pipeline:
    """The split's arrays as tensors (streamed features as their ``FileRows``), and per epoch
    the inputs of its calls."""

    def __init__(self, parts: tuple, size: int):
        import_keras()
        import tensorflow as tf

        self.sources = tf.nest.map_structure(_source, parts)  # (x, y) or (x, y, weights)
        self.size = size
        self.streamed = any(isinstance(s, FileRows) for s in tf.nest.flatten(self.sources))

    @property
    def batch_signature(self):
        """The ``tf.TensorSpec`` of a call's stacked batches: any number of any size."""
        import tensorflow as tf

        def spec(source):
            return tf.TensorSpec((None, None, *source.shape[1:]), _dtype(source))

        return tf.nest.map_structure(spec, self.sources)

    @property
    def signature(self) -> list:
        """The ``tf.TensorSpec``s of a call's arguments (``calls``): the split's tensors and the
        rows of each batch, or (streamed) the stacked batches themselves."""
        import tensorflow as tf

        if self.streamed:
            return [self.batch_signature]
        sources = tf.nest.map_structure(lambda s: tf.TensorSpec(s.shape, _dtype(s)), self.sources)
        return [sources, tf.TensorSpec((None, None), tf.int64)]

    def batches(self, *inputs):
        """In the graph: a call's arguments as its stacked batches ``(steps, batch, ...)``,
        gathered on the CPU, where the split's tensors are."""
        import tensorflow as tf

        if self.streamed:
            return inputs[0]
        sources, rows = inputs
        with tf.device(CPU):
            return tf.nest.map_structure(lambda source: tf.gather(source, rows), sources)

    def calls(self, order: np.ndarray, plan: list[tuple[int, int]]) -> Iterator[tuple]:
        """The arguments of the calls ``plan`` lists, in that order, from the rows ``order``
        lists."""
        if not plan:  # a signal stopped the epoch after its last call: nothing left
            return iter(())
        if not self.streamed:
            size = self.size
            return (
                (self.sources, order[first * size : (first + steps) * size].reshape(steps, -1))
                for first, steps in plan
            )
        return ((data,) for data in self._read(order, plan))

    def _read(self, order: np.ndarray, plan: list[tuple[int, int]]) -> Iterator:
        """The calls' batches as a ``tf.data`` pipeline that reads them from their files."""
        import tensorflow as tf

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


def batch_dataset(parts: tuple, size: int):
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
    return {"x": batch_dataset((x,) if y is None else (x, y), size)}


def _leaves(parts) -> list:
    return [v for part in parts for v in (part.values() if isinstance(part, dict) else [part])]


def _source(array):
    """What the pipeline draws a part from: streamed rows as they are, arrays as tensors (text
    as ``tf.string``)."""
    import tensorflow as tf

    if isinstance(array, FileRows):
        return array
    with tf.device(CPU):
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
