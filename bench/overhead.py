"""nnctl's training overhead against the same network written in plain Keras, in one process.

    python bench/overhead.py [--repeats 5]

Both sides train the quick-start network (digits, 64-64 ReLU MLP, Adam, batch 32, 30 epochs, no
early stopping) on the same arrays; each repeat times nnctl's whole `train` (data, build, fit,
artifacts) and plain Keras's build + fit + evaluate, alternating. Reports medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnctl.keras_env import import_keras, set_seed  # noqa: E402

SPEC = ROOT / "specs" / "quickstart.yaml"
EPOCHS = 30


def nnctl_run(spec, base_dir) -> float:
    from nnctl.rundir import RunDir
    from nnctl.training.run import train

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        train(spec, base_dir, RunDir.create(Path(tmp) / "run"), quiet=True)
        return time.perf_counter() - started


def keras_run(dataset, seed: int) -> float:
    keras = import_keras()
    started = time.perf_counter()
    set_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Rescaling(1 / 16),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train, val, test = dataset.train, dataset.validation, dataset.test
    model.fit(
        train.x, train.y, batch_size=32, epochs=EPOCHS, validation_data=(val.x, val.y), verbose=0
    )
    model.evaluate(test.x, test.y, verbose=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import io
    from contextlib import redirect_stderr

    from nnctl.data import load_dataset
    from nnctl.spec.validate import load_spec

    spec, _ = load_spec(SPEC)
    spec = spec.model_copy(
        update={"train": spec.train.model_copy(update={"epochs": EPOCHS, "early_stopping": None})}
    )
    dataset = load_dataset(spec.data, spec.train.validation, spec.seed, SPEC.parent)
    keras_run(dataset, spec.seed)  # warm up both paths once
    nnctl_times, keras_times = [], []
    for _ in range(args.repeats):
        with redirect_stderr(io.StringIO()):
            nnctl_times.append(nnctl_run(spec, SPEC.parent))
        keras_times.append(keras_run(dataset, spec.seed))
    n, k = statistics.median(nnctl_times), statistics.median(keras_times)
    print(f"plain Keras  median {k:.2f} s  runs {[round(t, 2) for t in keras_times]}")
    print(f"nnctl train  median {n:.2f} s  runs {[round(t, 2) for t in nnctl_times]}")
    print(f"ratio nnctl / Keras: {n / k:.2f}")


if __name__ == "__main__":
    main()
