"""The one place nnctl imports TensorFlow and Keras, quietly and only when a command needs them."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def stderr_silenced():
    """Hide what TensorFlow's C++ runtime prints while it loads (CUDA probes on CPU machines)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras():
    """Import Keras on TensorFlow with TensorFlow's start-up chatter silenced; return ``keras``."""
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        with stderr_silenced():
            import absl.logging
            import keras
            import tensorflow as tf

        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
    import keras

    from nnctl.layers import register

    register()  # nnctl's own layers, losses and metrics, so .keras files holding them load
    return keras


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic or, with
    ``deterministic`` false, let them pick faster kernels (the switch is process-wide, so it is
    set either way: an earlier run in this process may have turned it on)."""
    keras = import_keras()
    import tensorflow as tf
    from tensorflow.python.framework import config  # the switch off has no public name

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        config.disable_op_determinism()


def deterministic() -> bool:
    """Whether TensorFlow runs its ops deterministically in this process now."""
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())
