"""Algorithmic memory tasks from the Neural Turing Machine and DNC papers, generated from a seed.

Each sample is a sequence of steps (time, channels). The targets hold the bits to output on each
step and, as their last channel, a mask: 1 on the answer steps that are scored, 0 while the input
is being read and on the padding after the answer. Sequences of different lengths are padded with
zero steps at the end to the longest possible length, so a split is one array.

- copy: L random bit vectors (``bits`` wide) with the delimiter channel 0, then one step with only
  the delimiter set; the answer is the same L vectors, on the L steps after the delimiter.
- associative recall: K items of ``item_length`` bit vectors, each after a step with the item
  flag set; then a query (one of the items but the last) between two steps with the query flag
  set; the answer is the item that followed the query, on the ``item_length`` steps after it.
"""

from __future__ import annotations

import numpy as np

from nnctl.data.splits import Raw
from nnctl.errors import UserError
from nnctl.spec.schema import copy_length, recall_length
from nnctl.task import Task

MAX_VALUES = 2**28  # numbers in one array (1 GiB of float32): a spec must not exhaust memory


def copy_task(
    bits: int, min_length: int, max_length: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x (n, 2 max_length + 1, bits + 1) inputs, y of the same shape: bits and mask."""
    steps = copy_length(max_length)
    x = np.zeros((n, steps, bits + 1), dtype=np.float32)
    y = np.zeros((n, steps, bits + 1), dtype=np.float32)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    patterns = rng.integers(0, 2, size=(n, max_length, bits)).astype(np.float32)
    for i, length in enumerate(lengths):
        x[i, :length, :bits] = patterns[i, :length]
        x[i, length, bits] = 1.0  # the delimiter: now write it out
        y[i, length + 1 : 2 * length + 1, :bits] = patterns[i, :length]
        y[i, length + 1 : 2 * length + 1, bits] = 1.0
    return x, y


def associative_recall(
    bits: int, item_length: int, min_items: int, max_items: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x (n, steps, bits + 2) with an item flag and a query flag; y (n, steps, bits + 1)."""
    steps = recall_length(item_length, max_items)
    x = np.zeros((n, steps, bits + 2), dtype=np.float32)
    y = np.zeros((n, steps, bits + 1), dtype=np.float32)
    counts = rng.integers(min_items, max_items + 1, size=n)
    items = rng.integers(0, 2, size=(n, max_items, item_length, bits)).astype(np.float32)
    for i, count in enumerate(counts):
        for k in range(count):
            start = k * (item_length + 1)
            x[i, start, bits] = 1.0  # item flag
            x[i, start + 1 : start + 1 + item_length, :bits] = items[i, k]
        query = rng.integers(0, count - 1)
        start = count * (item_length + 1)
        x[i, start, bits + 1] = 1.0  # query flag
        x[i, start + 1 : start + 1 + item_length, :bits] = items[i, query]
        x[i, start + 1 + item_length, bits + 1] = 1.0
        answer = start + item_length + 2
        y[i, answer : answer + item_length, :bits] = items[i, query + 1]
        y[i, answer : answer + item_length, bits] = 1.0
    return x, y


def load(spec, seed: int) -> Raw:
    """The samples a ``copy_task`` or ``associative_recall`` data section asks for."""
    (steps, channels), _ = spec.sample_shape()
    if spec.n_samples * steps * channels > MAX_VALUES:
        raise UserError(
            f"data: {spec.source} would make {spec.n_samples:,} samples of {steps} x {channels} "
            f"numbers, over {MAX_VALUES:,} in all; lower n_samples or the lengths"
        )
    rng = np.random.default_rng(seed)
    if spec.source == "copy_task":
        x, y = copy_task(spec.bits, spec.min_length, spec.max_length, spec.n_samples, rng)
    else:
        x, y = associative_recall(
            spec.bits, spec.item_length, spec.min_items, spec.max_items, spec.n_samples, rng
        )
    return Raw(x, y, task=Task.REGRESSION)
