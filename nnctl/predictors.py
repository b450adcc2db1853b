"""Loading a model for inference: a SavedModel, ``.keras``, ``.tflite`` or ``.onnx`` file, or a
Keras model in memory, as one ``Predictor`` (raw features in, outputs out). Files that nnctl did
not just write itself are checked first (``nnctl.model_safety``)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data.text import model_input
from nnctl.errors import UserError
from nnctl.keras_env import import_keras, stderr_silenced
from nnctl.model_safety import Trust, guard


def require_onnx() -> None:
    """Refuse ``--format onnx`` clearly when its optional dependencies are missing."""
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as exc:
        raise UserError(
            f"--format onnx is not available: {exc.name} is not installed. "
            "Install the ONNX extra: pip install 'nnctl[onnx]' (tf2onnx and onnxruntime)"
        ) from None


@dataclass(frozen=True)
class Predictor:
    """A loaded model: raw features in, outputs out, and the sample shape it takes."""

    run: Callable[[np.ndarray], np.ndarray]
    input_shape: tuple[int | None, ...]
    dtype: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        dtype = object if self.dtype == "string" else self.dtype  # text: an array of str
        return self.run(np.asarray(x, dtype=dtype))


def predictor(path: Path, fmt: str, trust: Trust = Trust.CHECK) -> Predictor:
    """Load an exported model of format ``fmt`` for inference, refusing one that is not pure
    computation (``nnctl.model_safety``) unless ``trust`` says otherwise."""
    import_keras()  # TensorFlow quietly, before anything else imports it
    guard(path, fmt, trust)
    return {
        "saved_model": _saved_model_predictor,
        "keras": keras_predictor,
        "tflite": _tflite_predictor,
        "onnx": _onnx_predictor,
    }[fmt](path)


def predict_saved_model(path: Path, x: np.ndarray, trust: Trust = Trust.CHECK) -> np.ndarray:
    return predictor(path, "saved_model", trust)(x)


def _saved_model_predictor(path: Path) -> Predictor:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    ((name, spec),) = signature.structured_input_signature[1].items()

    def run(x: np.ndarray, _alive=loaded) -> np.ndarray:  # holding ``loaded`` keeps its variables
        outputs = signature(**{name: tf.constant(x)})
        return np.asarray(next(iter(outputs.values())))

    return Predictor(run, tuple(spec.shape[1:]), spec.dtype.name)


def keras_predictor(path_or_model) -> Predictor:
    """A .keras file (loaded in safe mode) or an already loaded Keras model."""
    model = path_or_model
    if isinstance(path_or_model, Path):
        model = import_keras().saving.load_model(path_or_model, safe_mode=True)
    spec = model.inputs[0]

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(model_input(x), verbose=0))

    return Predictor(run, tuple(spec.shape[1:]), str(spec.dtype))


def _tflite_predictor(path: Path) -> Predictor:
    import tensorflow as tf

    with warnings.catch_warnings(), stderr_silenced():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = tf.lite.Interpreter(model_path=str(path))
        runner = interpreter.get_signature_runner("serving_default")
    ((name, details),) = runner.get_input_details().items()

    def run(x: np.ndarray) -> np.ndarray:
        with stderr_silenced():
            return np.asarray(next(iter(runner(**{name: x}).values())))

    shape = tuple(int(n) if n > 0 else None for n in details["shape_signature"][1:])
    return Predictor(run, shape, np.dtype(details["dtype"]).name)


def _onnx_predictor(path: Path) -> Predictor:
    require_onnx()
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (spec,) = session.get_inputs()
    dtype = spec.type.removeprefix("tensor(").removesuffix(")")
    dtype = {"float": "float32", "double": "float64"}.get(dtype, dtype)

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {spec.name: x})[0])

    shape = tuple(n if isinstance(n, int) else None for n in spec.shape[1:])
    return Predictor(run, shape, dtype)
