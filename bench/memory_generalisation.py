"""Bit error of trained memory-task models on sequences larger than they were trained on.

    python bench/memory_generalisation.py copy [RUN_DIR ...] [--sizes 5,10,15,20] [--samples 500]
    python bench/memory_generalisation.py recall [RUN_DIR ...] [--sizes 4,6,8,10] [--samples 500]

`copy`: copy-task runs, sized by sequence length; `recall`: associative-recall runs, sized by
the number of items to remember. Default runs: bench/runs/dnc_TASK and bench/runs/lstm_TASK,
written by `bench/run_specs.py specs/NAME.yaml`. For each size, `--samples` fresh sequences of
exactly that size are generated (from a seed apart from the training data's) and each run's model
answers them. Reported per size:
the bit error rate on the answer steps, the bits wrong per sequence, and the share of sequences
answered without a single wrong bit. The models must take any sequence length
(`model.input_shape: [null, channels]`). Results go to bench/results/TASK_generalisation.json
and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnctl.data.memory_tasks import associative_recall, copy_task  # noqa: E402
from nnctl.rundir import RunDir, load_run  # noqa: E402

RUNS = ROOT / "bench" / "runs"
EVAL_SEED = 2**20  # apart from any spec seed's training data


def _copy(data, size: int, samples: int, rng):
    return copy_task(data.bits, size, size, samples, rng)


def _recall(data, size: int, samples: int, rng):
    return associative_recall(data.bits, data.item_length, size, size, samples, rng)


# task: (data source, what a size counts, trained sizes of a data section, generator, defaults)
TASKS = {
    "copy": ("copy_task", "length", ("min_length", "max_length"), _copy, "5,10,15,20"),
    "recall": ("associative_recall", "items", ("min_items", "max_items"), _recall, "4,6,8,10"),
}


def score(model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Bit error rate, bits wrong per sequence and perfect-answer share on the answer steps
    (the targets' last channel marks them)."""
    predicted = np.asarray(model.predict(x, batch_size=100, verbose=0)) > 0.5
    mask = y[..., -1:] > 0.5
    wrong = (predicted != (y[..., :-1] > 0.5)) & mask
    per_sequence = wrong.sum(axis=(1, 2))
    return {
        "bit_error": float(wrong.sum() / (mask.sum() * (y.shape[-1] - 1))),
        "bits_wrong_per_sequence": float(per_sequence.mean()),
        "perfect": float(np.mean(per_sequence == 0)),
    }


def measure(task: str, run_path: Path, sizes: list[int], samples: int) -> dict:
    source, _, trained, generate, _ = TASKS[task]
    spec, model = load_run(RunDir.open(run_path))
    if spec.data.source != source:
        raise SystemExit(f"{run_path}: not a {source} run (data.source is {spec.data.source})")
    if model.inputs[0].shape[1] is not None:
        raise SystemExit(
            f"{run_path}: the model takes only sequences of {model.inputs[0].shape[1]} steps; "
            f"set model.input_shape: [null, {model.inputs[0].shape[2]}] in its spec"
        )
    by_size = {}
    for size in sizes:
        x, y = generate(spec.data, size, samples, np.random.default_rng([EVAL_SEED, size]))
        by_size[str(size)] = score(model, x, y)
    return {
        "run": str(run_path),
        "spec": spec.name,
        "parameters": int(model.count_params()),
        "trained": [getattr(spec.data, key) for key in trained],
        "by_size": by_size,
    }


def table(task: str, results: list[dict], sizes: list[int]) -> str:
    unit = TASKS[task][1]
    head = f"| spec | parameters | trained {unit} | " + " | ".join(f"{unit} {n}" for n in sizes)
    lines = [head + " |", "|---" * (3 + len(sizes)) + "|"]
    for result in results:
        low, high = result["trained"]
        cells = []
        for n in sizes:
            r = result["by_size"][str(n)]
            cells.append(
                f"{r['bit_error']:.4f} ({r['bits_wrong_per_sequence']:.2f} bits/seq, "
                f"{r['perfect']:.1%} perfect)"
            )
        lines.append(f"| {result['spec']} | {result['parameters']:,} | {low}-{high} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--sizes", help="comma-separated sizes (lengths or item counts)")
    parser.add_argument("--samples", type=int, default=500, help="sequences per size")
    args = parser.parse_args()
    runs = args.runs or [RUNS / f"dnc_{args.task}", RUNS / f"lstm_{args.task}"]
    sizes = [int(n) for n in (args.sizes or TASKS[args.task][4]).split(",")]
    results = [measure(args.task, run, sizes, args.samples) for run in runs]
    print(table(args.task, results, sizes))
    payload = {"samples_per_size": args.samples, "sizes": sizes, "results": results}
    target = ROOT / "bench" / "results" / f"{args.task}_generalisation.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
