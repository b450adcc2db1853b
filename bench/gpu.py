"""Samples a second on a GPU: nnctl against plain Keras ``fit()``, with and without
``mixed_float16`` and XLA, on the same model and data.

    python bench/gpu.py [--epochs 4] [--rows 60000]      (bench/gpu.sh runs it on a GPU machine)

Data: random 28x28 images and 10 labels generated into a temporary ``.npz`` (the GPU machine
has no datasets), so the figures are speed, not accuracy. Models: a 512-512 MLP at batch 128
(the course's MNIST MLP) and a small CNN at batch 128. Each variant is a whole process; the
steady-state samples a second are the training rows over the median epoch time of epochs 2..N.
Keras runs at ``steps_per_execution`` 16 (nnctl's ``auto``), the same policy and XLA setting.
Writes bench/results/gpu.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODELS = {
    "mlp": [
        {"Flatten": {}},
        {"Dense": {"units": 512, "activation": "relu"}},
        {"Dropout": 0.2},
        {"Dense": {"units": 512, "activation": "relu"}},
        {"Dropout": 0.2},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
    "cnn": [
        {"Reshape": [28, 28, 1]},
        {"Conv2D": {"filters": 32, "kernel_size": 3, "activation": "relu"}},
        {"MaxPooling2D": 2},
        {"Conv2D": {"filters": 64, "kernel_size": 3, "activation": "relu"}},
        {"MaxPooling2D": 2},
        {"Flatten": {}},
        {"Dense": {"units": 128, "activation": "relu"}},
        {"Dense": {"units": 10, "activation": "softmax"}},
    ],
}
TEST_SPLIT = 0.1  # held out: the training rows are the rest
SETTINGS = {  # name: (mixed_precision, jit_compile)
    "float32": ("none", False),
    "mixed_float16": ("mixed_float16", False),
    "xla": ("none", True),
    "mixed_float16 + xla": ("mixed_float16", True),
}


def spec_file(directory: Path, data: Path, model: str, setting: str, epochs: int) -> Path:
    precision, xla = SETTINGS[setting]
    spec = {
        "name": f"gpu_{model}",
        "seed": 1,
        "data": {
            "source": "npz",
            "path": str(data),
            "test_split": TEST_SPLIT,
            "preprocess": {"scale": "1/255"},
        },
        "model": {"layers": MODELS[model]},
        "loss": "sparse_categorical_crossentropy",
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "metrics": ["accuracy"],
        "train": {
            "epochs": epochs,
            "batch_size": 128,
            "validation": 0.0,
            "mixed_precision": precision,
            "jit_compile": xla,
            "deterministic": False,
        },
    }
    path = directory / f"{model}-{setting.replace(' ', '')}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def child(side: str, spec: Path, out: Path) -> dict:
    """One measured process: nnctl's loop or Keras ``fit()``, each epoch timed."""
    sys.path.insert(0, str(ROOT / "bench"))
    from engine import child_keras, child_nnctl

    if side == "nnctl":
        return child_nnctl(spec, out / "run")
    from nnctl.spec.validate import load_spec

    loaded, _ = load_spec(spec)
    keras = __import__("keras")
    if loaded.train.mixed_precision != "none":  # Keras's own way: the global policy
        keras.mixed_precision.set_global_policy(loaded.train.mixed_precision)
    return child_keras(spec, out, 16, jit_compile=loaded.train.jit_compile)


def measure(side: str, spec: Path, rows: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, __file__, "child", side, str(spec), tmp],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    if done.returncode:
        return {"error": done.stderr[-1500:]}
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    epochs = json.loads(line.removeprefix("RESULT "))["epochs"]
    trained = round(rows * (1 - TEST_SPLIT))
    return {"samples_per_s": trained / statistics.median(epochs[1:]), "epochs_s": epochs}


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        side, spec, out = sys.argv[2:5]
        result = child(side, Path(spec), Path(out))
        print("RESULT " + json.dumps(result), flush=True)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rows", type=int, default=60000)
    args = parser.parse_args()
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    results: dict = {"gpus": gpus, "when": time.strftime("%Y-%m-%d %H:%M"), "cases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rng = np.random.default_rng(0)
        data = tmp / "data.npz"
        x = rng.integers(0, 256, size=(args.rows, 28, 28), dtype=np.uint8)
        np.savez(data, x=x, y=rng.integers(0, 10, size=args.rows))
        for model in MODELS:
            for setting in SETTINGS:
                spec = spec_file(tmp, data, model, setting, args.epochs)
                row = {side: measure(side, spec, args.rows) for side in ("nnctl", "keras")}
                results["cases"][f"{model}, {setting}"] = row
                print(model, setting, json.dumps(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gpu.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "gpu.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    lines = [
        "# Samples a second on a GPU: nnctl against Keras fit()",
        "",
        f"Measured {results['when']} on {', '.join(results['gpus']) or 'no GPU'} "
        "(`bench/gpu.sh`); batch 128, steady-state epochs, random data.",
        "",
        "| model, setting | nnctl samples/s | Keras samples/s | nnctl / Keras |",
        "|---|---:|---:|---:|",
    ]
    for case, row in results["cases"].items():
        ours, theirs = row["nnctl"].get("samples_per_s"), row["keras"].get("samples_per_s")
        ratio = f"{ours / theirs:.2f}" if ours and theirs else "failed"
        shown = [f"{v:.0f}" if v else "failed" for v in (ours, theirs)]
        lines.append(f"| {case} | {shown[0]} | {shown[1]} | {ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
