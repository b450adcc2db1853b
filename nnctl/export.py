"""``nnctl export``: SavedModel, .keras, TFLite or ONNX, each checked to reproduce the model.

Every export is written into a temporary sibling, checked there against the Keras model on real
samples, and only then renamed onto its target: a failed or interrupted export leaves nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nnctl.build.submodels import split_at
from nnctl.data import count, load_spec_data, rows
from nnctl.data.text import model_input
from nnctl.errors import NnctlError, UserError
from nnctl.keras_env import import_keras, stderr_silenced
from nnctl.model_safety import Trust
from nnctl.modes import mode_of
from nnctl.predictors import predict_saved_model, predictor, require_onnx
from nnctl.rundir import EXPORT, MODEL, VOCABULARIES, RunDir, atomic_path, load_run
from nnctl.spec.schema import Spec
from nnctl.task import Task
from nnctl.testhooks import pause_point

CHECK_BATCH = 64
ENDPOINT = "serve"
SUFFIXES = {"saved_model": "", "keras": ".keras", "tflite": ".tflite", "onnx": ".onnx"}
# Converted graphs run other kernels (TFLite's, ONNX Runtime's): a float32 rounding floor.
MIN_TOLERANCE = {"tflite": 1e-4, "onnx": 1e-4}
METADATA = Path("assets.extra") / "nnctl.json"  # in a SavedModel: what predict needs to know
ONNX_OPSET = 17


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str
    samples: int
    difference: float  # largest |export - model|, relative to outputs over 1
    tolerance: float
    parts: list[Path] = field(default_factory=list)  # encoder and decoder, when export.encoder
    strings: bool = False  # seq2seq: checked to decode the same strings (no numeric difference)


def export_run(run: RunDir, out: Path | None = None, fmt: str | None = None) -> Exported:
    """Write the run's model in ``fmt`` to ``out`` (default ``RUN/export[.suffix]``), checked."""
    spec, model = load_run(run)
    fmt = fmt or spec.export.format
    suffix = SUFFIXES[fmt]
    out = out or run.file(EXPORT + suffix)
    if suffix and out.suffix != suffix:
        raise UserError(f"{out}: a {fmt} export must end in {suffix}")
    if fmt in ("tflite", "onnx") and any(str(t.dtype) == "string" for t in model.inputs):
        raise UserError(
            f"--format {fmt}: this model takes text, and the {fmt} converter cannot express its "
            "string operations (TextVectorization); export saved_model or keras"
        )
    if fmt == "onnx":
        require_onnx()
    target = mode_of(spec).export_target(spec, model, fmt, CHECK_BATCH)
    if target.strings:
        return export_seq2seq(spec, model, run, out, fmt)
    return export_model(spec, target.model, run, out, fmt, target.sample, named=target.named)


def export_model(
    spec: Spec, model, run: RunDir, out: Path, fmt: str, sample=None, *, named: bool = True
) -> Exported:
    """Write ``model`` to ``out`` in ``fmt`` and check it against the model on ``sample``
    (default: the run's data); ``named``: a model of named inputs or outputs takes and gives
    them by name."""
    several = spec.model is not None and (spec.model.inputs or len(spec.model.outputs or []) > 1)
    if named and several:
        return export_named(spec, model, run, out, fmt)
    if sample is None:
        sample = _check_batch(spec, run)
    expected = np.asarray(model.predict(model_input(sample), verbose=0))
    tolerance = max(spec.export.tolerance, MIN_TOLERANCE.get(fmt, 0.0))
    with atomic_path(out) as tmp:
        WRITERS[fmt](model, tmp, run)
        actual = predictor(tmp, fmt, Trust.OWN)(sample)
        diff = difference(actual, expected)
        if not diff <= tolerance:
            raise NnctlError(
                f"export check failed: the {fmt} output differs from the model by {diff:.3g} "
                f"(tolerance {tolerance:g}); nothing was written to {out}"
            )
        pause_point("export-write")
    parts = []
    if spec.export.encoder and fmt == "saved_model":
        parts = export_parts(model, spec.export.encoder, out, sample, tolerance)
    return Exported(out, fmt, len(sample), diff, tolerance, parts)


def export_parts(model, name: str, out: Path, sample: np.ndarray, tolerance: float) -> list[Path]:
    """SavedModels of the encoder (input -> layer ``name``) and the decoder (the rest), beside
    ``out``; decoder(encoder(x)) is checked against the whole model."""
    encoder, decoder = split_at(model, name)
    code = np.asarray(encoder.predict(sample, verbose=0))
    targets = {"encoder": (encoder, sample, code), "decoder": (decoder, code, None)}
    paths = []
    for part, (submodel, x, expected) in targets.items():
        target = out.with_name(f"{out.name}-{part}")
        if expected is None:
            expected = np.asarray(model.predict(sample, verbose=0))
        with atomic_path(target) as tmp:
            write_saved_model(submodel, tmp)
            diff = difference(predict_saved_model(tmp, x, Trust.OWN), expected)
            if not diff <= tolerance:
                raise NnctlError(f"export check failed: the {part} differs by {diff:.3g}")
        paths.append(target)
    return paths


def difference(actual: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference, relative to the largest output when that is over 1:
    float32 keeps about 7 significant digits, so outputs in the hundreds differ by 1e-5 steps."""
    if not expected.size:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(expected))))
    return float(np.max(np.abs(np.asarray(actual) - expected))) / scale


def _check_batch(spec, run: RunDir) -> np.ndarray:
    """The first samples of the test split (or the training split if there is no test split)."""
    dataset = load_spec_data(spec, run.path)
    part = dataset.test if len(dataset.test.x) else dataset.train
    return part.x[:CHECK_BATCH]


# ------------------------------------------------------------------------------------ writers
def write_saved_model(model, path: Path, run: RunDir | None = None) -> None:
    """A SavedModel whose ``serve`` and ``serving_default`` run the model in inference mode,
    with the run's task and class names in ``assets.extra/nnctl.json``.

    Through ExportArchive, not ``model.export()``: that would leave augmentation layers active.
    """
    keras = import_keras()
    spec = model.inputs[0]
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(features):
        return model(features, training=False)

    signature = [keras.InputSpec(shape=tuple(spec.shape), dtype=spec.dtype, name=spec.name)]
    archive.add_endpoint(name=ENDPOINT, fn=serve, input_signature=signature)
    archive.write_out(str(path), verbose=False)
    if run is not None:
        info = run.read_info()
        metadata = {k: info.get(k) for k in ("task", "class_names")}
        (path / METADATA).parent.mkdir(parents=True, exist_ok=True)
        (path / METADATA).write_text(json.dumps(metadata | {"run": str(run.path)}))


def _write_keras(model, path: Path, run: RunDir) -> None:
    shutil.copyfile(run.file(MODEL), path)


def _write_tflite(model, path: Path, run: RunDir) -> None:
    import tensorflow as tf

    saved = path.parent / ".saved_model"
    write_saved_model(model, saved)
    with stderr_silenced():
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), ["serving_default"])
        path.write_bytes(converter.convert())


def _write_onnx(model, path: Path, run: RunDir) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = model.inputs[0]
    signature = (tf.TensorSpec(tuple(spec.shape), spec.dtype, name=spec.name),)

    @tf.function(input_signature=signature)
    def serve(features):
        return model(features, training=False)

    with stderr_silenced():
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    path.write_bytes(proto.SerializeToString())


WRITERS = {
    "saved_model": write_saved_model,
    "keras": _write_keras,
    "tflite": _write_tflite,
    "onnx": _write_onnx,
}


# ------------------------------------------------------------------------- named inputs/outputs
def export_named(spec, model, run: RunDir, out: Path, fmt: str) -> Exported:
    """Several inputs or outputs: a SavedModel (or .keras) taking and returning arrays by name,
    checked output by output against the model on test samples."""
    if fmt not in ("saved_model", "keras"):
        raise UserError(
            f"a model with several inputs or outputs exports saved_model or keras, not {fmt}"
        )
    dataset = load_spec_data(spec, run.path)
    part = dataset.test if count(dataset.test.x) else dataset.train
    sample = rows(part.x, slice(CHECK_BATCH))
    sample = sample if isinstance(sample, dict) else {spec.input_names[0]: sample}
    expected = _named_outputs(model.predict(sample, verbose=0))
    tolerance = spec.export.tolerance
    with atomic_path(out) as tmp:
        if fmt == "keras":
            _write_keras(model, tmp, run)
            reloaded = import_keras().saving.load_model(tmp, safe_mode=True)
            actual = _named_outputs(reloaded.predict(sample, verbose=0))
        else:
            actual = _write_named_saved_model(model, sample, tmp)
        if set(actual) != set(expected):
            raise NnctlError(f"export check failed: outputs {sorted(actual)} != {sorted(expected)}")
        diff = max(difference(actual[k], expected[k]) for k in expected)
        if not diff <= tolerance:
            raise NnctlError(
                f"export check failed: the {fmt} outputs differ from the model by {diff:.3g} "
                f"(tolerance {tolerance:g}); nothing was written to {out}"
            )
        pause_point("export-write")
    return Exported(out, fmt, count(sample), diff, tolerance)


def _named_outputs(outputs) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    return {"output_0": np.asarray(outputs)}


def _write_named_saved_model(model, sample: dict[str, np.ndarray], path: Path) -> dict:
    """Write the SavedModel; return its outputs on ``sample``, reloaded from ``path``."""
    import tensorflow as tf

    keras = import_keras()
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(inputs):
        return model(inputs, training=False)

    signature = {
        name: keras.InputSpec(shape=(None, *array.shape[1:]), dtype=str(array.dtype), name=name)
        for name, array in sample.items()
    }
    archive.add_endpoint(name=ENDPOINT, fn=serve, input_signature=[signature])
    archive.write_out(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in sample.items()})
    return {name: np.asarray(value) for name, value in outputs.items()}


# ------------------------------------------------------------------------------------ seq2seq
def export_seq2seq(spec, model, run: RunDir, out: Path, fmt: str) -> Exported:
    """A SavedModel mapping a batch of strings to their greedy decodings (vocabularies inside),
    checked to write the same strings as the trained model on test inputs."""
    import tensorflow as tf

    from nnctl.modes.seq2seq import strings as seq2seq

    if fmt != "saved_model":
        raise UserError(f"a seq2seq run exports a SavedModel (strings in and out), not {fmt}")
    vocab = seq2seq.Vocabularies.read(run.file(VOCABULARIES))
    decode = seq2seq.decoder(model, vocab)
    dataset = load_spec_data(spec, run.path)
    part = dataset.test if len(dataset.test.x) else dataset.train
    texts = [str(t) for t in part.x[:CHECK_BATCH]]
    expected = seq2seq.decode_all(decode, texts)
    with atomic_path(out) as tmp:
        module = tf.Module()
        module.model, module.lookup, module.serve = model, decode.lookup, decode
        tf.saved_model.save(module, str(tmp), signatures={"serving_default": decode})
        loaded = tf.saved_model.load(str(tmp))
        got = seq2seq.decode_all(loaded.signatures["serving_default"], texts)
        differ = sum(a != b for a, b in zip(got, expected, strict=True))
        if differ:
            raise NnctlError(
                f"export check failed: the SavedModel decodes {differ} of {len(texts)} inputs "
                f"differently from the model; nothing was written to {out}"
            )
        (tmp / METADATA).parent.mkdir(parents=True, exist_ok=True)
        (tmp / METADATA).write_text(json.dumps({"task": Task.SEQ2SEQ, "run": str(run.path)}))
        pause_point("export-write")
    return Exported(out, fmt, len(texts), 0.0, 0.0, strings=True)
