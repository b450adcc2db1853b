"""nnctl's training engine against the same model in plain Keras ``fit()``, whole processes.

    python bench/engine.py [--repeats 3] [--only quickstart]

For each spec (quickstart, batch 32; fashion_mnist_mlp, batch 128; rotated_digits, a CNN, batch
32; lstm_sunspots, an LSTM, batch 16), four variants run as separate processes, alternated,
``--repeats`` times: nnctl at ``steps_per_call`` 1 and at its default,
plain Keras ``fit()`` at the default ``steps_per_execution`` (1) and at its best one (the fastest
of a short sweep run first). Each process reports its epoch times; the parent times the whole
process (interpreter start, imports, data, build, training, final metrics, model file) and
reads the process's peak resident memory. Steady-state epoch time: the median of every epoch but
the first (which traces the graphs).

Both sides train the same model on the same arrays: the Keras script loads them with nnctl's
loader (same splits), builds the model with nnctl's builder (same layers and preprocessing), then
compiles, fits without validation, evaluates the test split and saves a ``.keras`` file in plain
Keras, as a user's script would. Writes bench/results/engine.{json,md}; ``--only CASE`` measures
one case and replaces just its section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ALONE = {"validation": 0.0, "early_stopping": None}  # training only, a fixed number of epochs
CASES = {  # name: (spec, train overrides)
    "quickstart": ("quickstart.yaml", {"epochs": 20} | ALONE),
    "fashion_mnist_mlp": ("fashion_mnist_mlp.yaml", {"epochs": 4, "validation": 0.0}),
    "rotated_digits": ("rotated_digits.yaml", {"epochs": 10} | ALONE),  # a CNN
    "lstm_sunspots": ("lstm_sunspots.yaml", {"epochs": 30} | ALONE),  # an LSTM
}
SWEEP_K = (1, 2, 4, 8, 16, 32, 64)  # steps per call / per execution tried in the sweeps
SWEEP_EPOCHS = 3


# ------------------------------------------------------------------------------ child processes
def spec_file(case: str, directory: Path, **train) -> Path:
    """The case's spec with its overrides (and ``train``) as a file in ``directory``."""
    name, overrides = CASES[case]
    data = yaml.safe_load((ROOT / "specs" / name).read_text())
    data["train"] = {k: v for k, v in (data["train"] | overrides | train).items() if v is not None}
    path = directory / f"{case}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def child_nnctl(spec: Path, out: Path) -> dict:
    """``nnctl train SPEC`` in this process, with each epoch's time recorded."""
    from nnctl.cli import main
    from nnctl.training import progress

    times, begin = [], progress.PlainProgress.on_epoch_begin

    def on_epoch_begin(self, epoch, logs=None):
        self.clock = time.perf_counter()
        begin(self, epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.clock)

    progress.PlainProgress.on_epoch_begin = on_epoch_begin
    progress.PlainProgress.on_epoch_end = on_epoch_end
    assert main(["train", str(spec), "--out", str(out), "-q"]) == 0
    return {"epochs": times}


def child_keras(spec: Path, out: Path, per_execution: int, jit_compile="auto") -> dict:
    """The spec's model, built by nnctl's builder, compiled and fit in plain Keras on the same
    arrays."""
    from nnctl.build import build_model
    from nnctl.data import load_dataset
    from nnctl.keras_env import import_keras, set_seed
    from nnctl.spec.validate import load_spec

    keras = import_keras()
    loaded, _ = load_spec(spec)
    dataset = load_dataset(loaded.data, 0.0, loaded.seed, spec.parent)
    set_seed(loaded.seed)
    times = []
    train, test = dataset.train, dataset.test
    model = build_model(loaded, train.x)
    model.compile(
        optimizer=keras.optimizers.Adam(loaded.optimizer.learning_rate),
        loss=loaded.loss,
        metrics=loaded.metrics,
        steps_per_execution=per_execution,
        jit_compile=jit_compile,
    )
    clock = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: times.append(-time.perf_counter()),
        on_epoch_end=lambda epoch, logs: times.append(times.pop() + time.perf_counter()),
    )
    batch, epochs = loaded.train.batch_size, loaded.train.epochs
    model.fit(train.x, train.y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[clock])
    model.evaluate(test.x, test.y, batch_size=batch, verbose=0)
    model.save(out / "model.keras")
    return {"epochs": times}


def child_sweep(case: str, side: str, directory: Path) -> dict:
    """Steady-state epoch time at each of ``SWEEP_K``, one short run each, in this process."""
    result = {}
    for k in SWEEP_K:
        out = directory / f"{side}-{k}"
        out.mkdir()
        if side == "keras":
            spec = spec_file(case, directory, epochs=SWEEP_EPOCHS)
            times = child_keras(spec, out, k)["epochs"]
        else:
            spec = spec_file(case, directory, epochs=SWEEP_EPOCHS, steps_per_call=k)
            times = child_nnctl(spec, out / "run")["epochs"]
        result[k] = statistics.median(times[1:])
    return result


def child(args: list[str]) -> None:
    """``engine.py child KIND ...``: one measured process; its result as JSON on stdout's end."""
    kind, *rest = args
    if kind == "nnctl":
        result = child_nnctl(Path(rest[0]), Path(rest[1]))
    elif kind == "keras":
        result = child_keras(Path(rest[0]), Path(rest[1]), int(rest[2]))
    else:
        result = child_sweep(rest[0], rest[1], Path(rest[2]))
    from nnctl.training.run import peak_memory_mib  # VmHWM: not the parent's size at fork

    print("RESULT " + json.dumps(result | {"peak_mib": peak_memory_mib()}), flush=True)


# ---------------------------------------------------------------------------------- the parent
def measure(args: list) -> dict:
    """Run ``engine.py child ARGS``; its result with the whole process's wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "child", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line.removeprefix("RESULT ")) | {"wall": wall}


def sweep(case: str, side: str) -> dict[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(["sweep", case, side, tmp])
    return {int(k): v for k, v in result.items() if k not in ("wall", "peak_mib")}


def run_case(case: str, repeats: int, default_k) -> dict:
    """The four variants of one case, alternated ``repeats`` times."""
    keras_sweep = sweep(case, "keras")
    best = min(keras_sweep, key=keras_sweep.get)
    nnctl_sweep = sweep(case, "nnctl")
    variants = {
        "nnctl steps_per_call=1": ("nnctl", 1),
        f"nnctl steps_per_call={default_k} (default)": ("nnctl", default_k),
        "keras fit steps_per_execution=1": ("keras", 1),
        f"keras fit steps_per_execution={best} (best)": ("keras", best),
    }
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (side, k) in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                if side == "nnctl":
                    spec = spec_file(case, tmp, steps_per_call=k)
                    runs[name].append(measure(["nnctl", spec, tmp / "run"]))
                else:
                    runs[name].append(measure(["keras", spec_file(case, tmp), tmp, k]))
    summary = {
        name: {
            "epoch_s": statistics.median(statistics.median(r["epochs"][1:]) for r in rs),
            "wall_s": statistics.median(r["wall"] for r in rs),
            "peak_mib": statistics.median(r["peak_mib"] for r in rs),
            "runs_wall_s": [round(r["wall"], 2) for r in rs],
            "runs_epoch_s": [round(statistics.median(r["epochs"][1:]), 4) for r in rs],
        }
        for name, rs in runs.items()
    }
    return {
        "sweep_keras_epoch_s": keras_sweep,
        "sweep_nnctl_epoch_s": nnctl_sweep,
        "best_steps_per_execution": best,
        "variants": summary,
    }


def markdown(results: dict) -> str:
    lines = [
        "# Training engine: nnctl against plain Keras `fit()`",
        "",
        f"Measured on {results['machine']} ({results['cpus']} CPUs, shared "
        "with other engineers' jobs: figures are noisy; medians of "
        f"{results['repeats']} alternated repetitions). Reproduce: `python bench/engine.py`.",
        "",
        "Epoch: steady-state epoch time (median of epochs 2..N). Wall: the whole process "
        "(start, imports, data, build, train, final metrics, model file). Ratios against "
        "Keras at its best `steps_per_execution` (lower is better for nnctl).",
    ]
    for case, result in results["cases"].items():
        variants = result["variants"]
        best = next(v for name, v in variants.items() if name.endswith("(best)"))
        lines += [
            "",
            f"## {case} ({results['settings'][case]})",
            "",
            f"Measured {result.get('when', 'before peak memory was recorded')}.",
            "",
            "| variant | epoch (s) | wall (s) | peak memory (MiB) | epoch / Keras best "
            "| wall / Keras best | memory / Keras best |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, v in variants.items():
            peak, best_peak = v.get("peak_mib"), best.get("peak_mib")
            memory = f"{peak:.0f} | " if peak else "– | "
            ratio = f"{peak / best_peak:.2f}" if peak and best_peak else "–"
            lines.append(
                f"| {name} | {v['epoch_s']:.4f} | {v['wall_s']:.2f} | {memory}"
                f"{v['epoch_s'] / best['epoch_s']:.2f} | {v['wall_s'] / best['wall_s']:.2f} | "
                f"{ratio} |"
            )
        for side in ("nnctl", "keras"):
            sweep_result = result[f"sweep_{side}_epoch_s"]
            shown = ", ".join(f"{k}: {t:.4f}" for k, t in sweep_result.items())
            lines.append("")
            what = "steps_per_call" if side == "nnctl" else "steps_per_execution"
            lines.append(f"Sweep, {side} epoch time (s) by {what} (one run each): {shown}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CASES))
    parser.add_argument("--default", default="auto", help="nnctl's default steps_per_call")
    args = parser.parse_args()
    default_k = args.default if args.default == "auto" else int(args.default)
    path = RESULTS / "engine.json"
    results = json.loads(path.read_text()) if path.is_file() else {"cases": {}}
    results |= {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "shared": True,
        "repeats": args.repeats,
        "settings": {
            case: ", ".join(f"{k}={v}" for k, v in overrides.items())
            for case, (_, overrides) in CASES.items()
        },
    }
    for case in [args.only] if args.only else CASES:
        measured = run_case(case, args.repeats, default_k) | {"when": time.strftime("%Y-%m-%d")}
        results["cases"][case] = measured
        print(json.dumps(measured["variants"], indent=1), flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1) + "\n")  # each case as soon as it is done
        (RESULTS / "engine.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
