"""The divergence guard: training stops at the first non-finite loss, metric or weight, and no
checkpoint or model file is ever written with non-finite values.

Watching the loss alone is not enough: on CPUs whose oneDNN kernels fuse MatMul + bias + ReLU
(AVX-512 ones among them) the fused ReLU turns NaN into 0, so a step can report a finite loss
while its weights have become NaN. Each compiled call therefore also returns ``weight_total``,
one scalar reduced over the watched variables inside the graph: a sum, because addition carries
NaN and infinity on every kernel (a max may drop NaN). A weight that is not finite stays so under
any later update, so one check per call finds it however many steps the call runs.

Optimizer slots are not summed per step (they would triple the cost): a slot that is not finite
makes its weight non-finite in the same update, and checkpoints check every array they write.
"""

from __future__ import annotations

import math

import numpy as np

from nnctl.errors import Diverged

SHOWN = 3  # variables named in the message


def watched(model) -> list:
    """The model's floating-point variables: weights and statistics such as BatchNorm's means."""
    return [v for v in model.variables if np.dtype(v.dtype).kind == "f"]


def weight_total(variables):
    """Inside a compiled step: the sum of every element of ``variables``, a float32 scalar that
    is finite when they all are (short of the sum itself overflowing float32)."""
    import tensorflow as tf

    sums = [tf.reduce_sum(tf.cast(v, tf.float32)) for v in variables]
    return tf.add_n(sums) if sums else tf.constant(0.0)


def non_finite_variables(variables) -> list[str]:
    """Paths of the variables holding a NaN or an infinity (read back only after a failed check)."""
    return [v.path for v in variables if not np.isfinite(np.asarray(v)).all()]


def check(
    logs: dict[str, float],
    where: str,
    checkpointer,
    advice: str,
    *,
    variables: list = (),
    total: float = 0.0,
) -> None:
    """Stop at once on a non-finite loss, metric or weight; the last checkpoint stays as it was.
    ``total`` is the call's ``weight_total`` of ``variables``."""
    problems = [f"{name} became {v}" for name, v in logs.items() if not math.isfinite(v)]
    if not math.isfinite(total):
        problems.append(_weights_problem(non_finite_variables(variables)))
    if not problems:
        return
    last = checkpointer.last
    kept = f"; the last good checkpoint, {last.path}, is intact" if last else ""
    raise Diverged(f"training diverged: {', '.join(problems)} {where}{kept}. {advice}.")


def _weights_problem(paths: list[str]) -> str:
    if not paths:  # every element finite: their sum overflowed
        return "the weights grew beyond float32's range"
    more = f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    return f"weights became NaN or infinite ({', '.join(paths[:SHOWN])}{more})"


def refuse_non_finite(arrays: dict[str, np.ndarray], what: str, last=None) -> None:
    """Refuse to write ``what`` (a checkpoint, the model file) while one of its float
    ``arrays`` (by variable path) holds a NaN or an infinity; ``last`` is the last good
    checkpoint, which stays as it was."""
    bad = [name for name, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
    if bad:
        more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
        kept = f"; the last good checkpoint, {last.path}, is intact" if last else ""
        raise Diverged(
            f"training diverged: {', '.join(bad[:SHOWN])}{more} became NaN or infinite, "
            f"so {what} was not written{kept}"
        )
