"""``nnctl export``: a SavedModel or .keras file, checked to reproduce the trained model."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data import load_dataset
from nnctl.errors import NnctlError, UserError
from nnctl.evaluate import load_run
from nnctl.keras_env import import_keras
from nnctl.rundir import EXPORT, MODEL, RunDir, atomic_path

CHECK_BATCH = 64
ENDPOINT = "serve"


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    samples: int
    max_abs_diff: float
    tolerance: float


def export_run(run: RunDir, out: Path | None = None, fmt: str | None = None) -> Exported:
    spec, model = load_run(run)
    fmt = fmt or spec.export.format
    out = out or run.file(EXPORT + (".keras" if fmt == "keras" else ""))
    if fmt == "keras" and out.suffix != ".keras":
        raise UserError(f"{out}: a Keras model file must end in .keras")
    sample = _check_batch(spec, run)
    expected = np.asarray(model.predict(sample, verbose=0))
    with atomic_path(out) as tmp:
        if fmt == "keras":
            shutil.copyfile(run.file(MODEL), tmp)
            actual = _predict_keras(tmp, sample)
        else:
            write_saved_model(model, tmp)
            actual = predict_saved_model(tmp, sample)
        diff = float(np.max(np.abs(actual - expected))) if expected.size else 0.0
        if not diff <= spec.export.tolerance:
            raise NnctlError(
                f"export check failed: the {fmt} output differs from the model by {diff:.3g} "
                f"(tolerance {spec.export.tolerance:g}); nothing was written to {out}"
            )
    return Exported(out, fmt, len(sample), diff, spec.export.tolerance)


def _check_batch(spec, run: RunDir) -> np.ndarray:
    """The first samples of the test split (or the training split if there is no test split)."""
    dataset = load_dataset(spec.data, spec.train.validation, spec.seed, run.path)
    part = dataset.test if len(dataset.test.x) else dataset.train
    return part.x[:CHECK_BATCH]


def write_saved_model(model, path: Path) -> None:
    """A SavedModel whose ``serve`` and ``serving_default`` run the model in inference mode.

    Through ExportArchive, not ``model.export()``: that would leave augmentation layers active.
    """
    keras = import_keras()
    spec = model.inputs[0]
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(features):
        return model(features, training=False)

    signature = [keras.InputSpec(shape=tuple(spec.shape), dtype=spec.dtype)]
    archive.add_endpoint(name=ENDPOINT, fn=serve, input_signature=signature)
    archive.write_out(str(path), verbose=False)


def predict_saved_model(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # keep a reference: its variables live with it
    signature = loaded.signatures["serving_default"]
    (name,) = signature.structured_input_signature[1]
    outputs = signature(**{name: tf.constant(x)})
    return np.asarray(next(iter(outputs.values())))


def _predict_keras(path: Path, x: np.ndarray) -> np.ndarray:
    keras = import_keras()
    return np.asarray(keras.saving.load_model(path, safe_mode=True).predict(x, verbose=0))
