"""Loss and metric for sequences of bit vectors scored only on some steps (the copy task's answer).

The targets carry one more channel than the model's output: the first channels are the bits to
output, the last is a mask, 1 on the steps that are scored and 0 elsewhere (the steps where the
model is still reading its input, and padding). The model's output is a probability per bit.
"""

from __future__ import annotations

from nnctl.errors import UserError
from nnctl.keras_env import import_keras

keras = import_keras()
ops = keras.ops


def split_targets(y_true, y_pred, what: str):
    """Targets (..., K + 1) -> (bits (..., K), mask (...)); refuses targets without a mask."""
    bits_out, channels = y_pred.shape[-1], y_true.shape[-1]
    if len(y_true.shape) < 2 or len(y_pred.shape) < 2:
        raise UserError(
            f"{what} needs targets of bit vectors, each with a mask as its last channel (as "
            "copy_task and associative_recall make them), not one number per sample"
        )
    if bits_out is not None and channels is not None and channels != bits_out + 1:
        raise UserError(
            f"{what} needs targets with one more channel than the model's output (the bits, then "
            f"a mask of the scored steps), but the targets have {channels} channels and the "
            f"output {bits_out}; use a source that makes such targets (copy_task, "
            "associative_recall) or give the output layer one unit fewer than the targets"
        )
    y_true = ops.cast(y_true, y_pred.dtype)
    return y_true[..., :-1], y_true[..., -1]


@keras.saving.register_keras_serializable(package="nnctl")
class MaskedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy per bit, averaged over each sample's scored steps."""

    def __init__(self, name="masked_binary_crossentropy", reduction="sum_over_batch_size",
                 dtype=None):  # fmt: skip
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        bits, mask = split_targets(y_true, y_pred, "masked_binary_crossentropy")
        per_step = ops.mean(ops.binary_crossentropy(bits, y_pred), axis=-1)  # (B, T)
        scored = ops.maximum(ops.sum(mask, axis=-1), 1.0)
        return ops.sum(per_step * mask, axis=-1) / scored  # (B,)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="nnctl")
class BitError(keras.metrics.Metric):
    """The fraction of scored bits that are wrong when outputs are rounded at 0.5."""

    def __init__(self, name="bit_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.wrong = self.add_variable(shape=(), initializer="zeros", name="wrong")
        self.scored = self.add_variable(shape=(), initializer="zeros", name="scored")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(y_pred, self.dtype)
        bits, mask = split_targets(y_true, y_pred, "bit_error")
        if sample_weight is not None:
            weight = ops.cast(sample_weight, self.dtype)
            mask = mask * ops.reshape(weight, (-1,) + (1,) * (len(mask.shape) - 1))
        predicted = ops.cast(y_pred > 0.5, self.dtype)
        wrong = ops.sum(ops.abs(predicted - bits), axis=-1) * mask
        self.wrong.assign_add(ops.sum(wrong))
        self.scored.assign_add(ops.sum(mask) * ops.cast(ops.shape(bits)[-1], self.dtype))

    def result(self):
        return self.wrong / ops.maximum(self.scored, 1.0)

    def reset_state(self):
        self.wrong.assign(0.0)
        self.scored.assign(0.0)
