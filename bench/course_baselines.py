"""What the course specs are compared with, measured on the same data.

    python bench/course_baselines.py SPEC [--seeds 42 7 1]

bench/run_specs.py calls ``MEASURED[name](spec, run)`` after training a spec into ``run`` and
shows the figures in its reference column. From the command line, each seed trains the spec and
the variants it is compared with afresh; the figures per seed and their means are printed and
merged into bench/results/course_baselines.json.

- neuron_moons: logistic regression (a straight boundary) on the same training split.
- regularized_digits: the same layers without the weight penalties, Dropout and
  BatchNormalization, trained for all the spec's epochs with no early stopping.
- rotated_digits: accuracy on the test digits turned 15 degrees each way, for the spec's model
  and for the same CNN trained without its augmentation layers.
- rnn_sunspots: lstm_sunspots.yaml's test MSE as bench/results/specs.json last recorded it
  (the naive "next = last" forecast is nnctl evaluate's own baseline).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "bench" / "runs"
SPECS_RESULTS = ROOT / "bench" / "results" / "specs.json"
RESULTS = ROOT / "bench" / "results" / "course_baselines.json"
ROTATION_DEGREES = (-15.0, 15.0)  # the rotated test set: every test image turned each way
AUGMENTATION = {"RandomRotation", "GaussianNoise"}
REGULARIZATION = {"Dropout", "BatchNormalization"}
PENALTIES = {"kernel_regularizer", "bias_regularizer", "activity_regularizer"}


def logistic_regression(spec: Path, run: Path) -> dict[str, float]:
    """Test accuracy of logistic regression on standardized features: a linear boundary."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = _dataset(run)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.train.x, data.train.y)
    return {"baseline_logistic_regression_accuracy": float(model.score(data.test.x, data.test.y))}


def without_regularization(spec: Path, run: Path) -> dict[str, float]:
    """The spec's net with no penalties, Dropout, BatchNormalization or early stopping."""
    layers = _strip(_layers(spec), REGULARIZATION, PENALTIES)
    plain = _train(
        spec,
        run.parent / f"{run.name}-unregularized",
        [f"model.layers={json.dumps(layers)}", "train.early_stopping=null", _seed(run)],
    )
    test = _test_metrics(plain)
    return {
        "baseline_unregularized_accuracy": test["accuracy"],
        "baseline_unregularized_loss": test["loss"],
    }


def rotation(spec: Path, run: Path) -> dict[str, float]:
    """Rotated-test accuracy of the spec's model, and of the same CNN trained unaugmented."""
    layers = _strip(_layers(spec), AUGMENTATION)
    plain = _train(
        spec,
        run.parent / f"{run.name}-unaugmented",
        [f"model.layers={json.dumps(layers)}", _seed(run)],
    )
    return {
        "baseline_rotated_accuracy": rotated_accuracy(run),
        "baseline_unaugmented_accuracy": _test_metrics(plain)["accuracy"],
        "baseline_unaugmented_rotated_accuracy": rotated_accuracy(plain),
    }


def forecasts(spec: Path, run: Path) -> dict[str, float]:
    """lstm_sunspots' recorded test MSE (NaN if none); ``nnctl evaluate`` reports the naive
    forecast's."""
    recorded = json.loads(SPECS_RESULTS.read_text())["results"] if SPECS_RESULTS.exists() else []
    lstm = [r["test"]["loss"] for r in recorded if r["spec"] == "lstm_sunspots" and r["ran"]]
    return {"baseline_lstm_mse": lstm[0] if lstm else float("nan")}


MEASURED: dict[str, Callable[[Path, Path], dict[str, float]]] = {
    "neuron_moons": logistic_regression,
    "regularized_digits": without_regularization,
    "rotated_digits": rotation,
    "rnn_sunspots": forecasts,
}


def rotated_accuracy(run: Path) -> float:
    """Accuracy of the run's model on its test images turned by each of ROTATION_DEGREES."""
    from scipy import ndimage

    from nnctl.rundir import RunDir, load_run

    spec, model = load_run(RunDir.open(run))
    data = _dataset(run)
    side = int(np.sqrt(data.test.x[0].size))  # 8x8 digits, given as 64 values
    images = data.test.x.reshape(-1, side, side)
    turned = [
        ndimage.rotate(images, angle, axes=(1, 2), reshape=False, order=1, mode="constant")
        for angle in ROTATION_DEGREES
    ]
    x = np.concatenate(turned).reshape(-1, *data.test.x.shape[1:])
    labels = np.concatenate([data.test.y] * len(ROTATION_DEGREES))
    scores = model.predict(x, batch_size=spec.train.batch_size, verbose=0)
    return float(np.mean(scores.argmax(-1) == labels))


def _dataset(run: Path):
    """The splits the run trained and was tested on (its resolved spec, so its seed)."""
    sys.path.insert(0, str(ROOT))
    from nnctl.data import load_dataset
    from nnctl.spec.validate import load_spec

    spec, _ = load_spec(run / "spec.yaml")
    return load_dataset(spec.data, spec.train.validation, spec.seed, run)


def _layers(spec: Path) -> list:
    return yaml.safe_load(spec.read_text())["model"]["layers"]


def _strip(
    layers: list, names: set[str], arguments: frozenset[str] | set[str] = frozenset()
) -> list:
    """``layers`` without the layers called ``names`` and without the ``arguments`` given."""
    kept = []
    for layer in layers:
        name = layer if isinstance(layer, str) else next(iter(layer))
        if name in names:
            continue
        if isinstance(layer, dict) and isinstance(layer[name], dict):
            layer = {name: {k: v for k, v in layer[name].items() if k not in arguments}}
        kept.append(layer)
    return kept


def _test_metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())["test"]


def _seed(run: Path) -> str:
    return f"seed={yaml.safe_load((run / 'spec.yaml').read_text())['seed']}"


def _train(spec: Path, out: Path, overrides: list[str]) -> Path:
    """``nnctl train spec --out out`` with ``--set`` overrides, in a fresh process."""
    sets = [a for o in overrides for a in ("--set", o)]
    cmd = [sys.executable, "-m", "nnctl", "train", str(spec), "--out", str(out), "--force"]
    proc = subprocess.run([*cmd, "--quiet", *sets], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return out


def main() -> None:
    args = sys.argv[1:]
    seeds = [int(s) for s in args[args.index("--seeds") + 1 :]] if "--seeds" in args else []
    name = Path(args[0]).stem if args else ""
    if name not in MEASURED:
        raise SystemExit(f"usage: course_baselines.py {{{','.join(MEASURED)}}} [--seeds N ...]")
    spec = ROOT / "specs" / f"{name}.yaml"
    seeds = seeds or [yaml.safe_load(spec.read_text())["seed"]]
    rows = []
    for seed in seeds:
        print(f"{spec.stem}, seed {seed} ...", file=sys.stderr, flush=True)
        run = _train(spec, RUNS / f"{spec.stem}-seed{seed}", [f"seed={seed}"])
        figures = MEASURED[spec.stem](spec, run)
        rows.append({"seed": seed, "test": _test_metrics(run), "baselines": figures})
    figures = [{**r["test"], **r["baselines"]} for r in rows]
    means = {k: statistics.fmean(f[k] for f in figures) for k in figures[0]}
    report = {"seeds": seeds, "runs": rows, "mean": means}
    print(json.dumps(report, indent=2))
    earlier = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(earlier | {spec.stem: report}, indent=2) + "\n")


if __name__ == "__main__":
    main()
