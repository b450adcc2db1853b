"""Bit error of trained copy-task models on sequences longer than they were trained on.

    python bench/copy_generalisation.py [RUN_DIR ...] [--lengths 5,10,15,20] [--samples 500]

Default runs: bench/runs/dnc_copy and bench/runs/lstm_copy (written by `bench/run_specs.py
specs/dnc_copy.yaml specs/lstm_copy.yaml`). For each length, `--samples` fresh sequences of
exactly that length are generated (from a seed apart from the training data's) and each run's model
answers them. Reported per length: the bit error rate on the answer steps, the bits wrong per
sequence, and the share of sequences copied without a single wrong bit. The models must take any
sequence length (`model.input_shape: [null, bits + 1]`). Results go to
bench/results/copy_generalisation.json and a Markdown table to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnctl.data.memory_tasks import copy_task  # noqa: E402
from nnctl.evaluate import load_run  # noqa: E402
from nnctl.rundir import RunDir  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "copy_generalisation.json"
DEFAULT_RUNS = [ROOT / "bench" / "runs" / "dnc_copy", ROOT / "bench" / "runs" / "lstm_copy"]
EVAL_SEED = 2**20  # apart from any spec seed's training data


def score(model, bits: int, length: int, samples: int) -> dict[str, float]:
    """Bit error rate, bits wrong per sequence and perfect-copy share at one sequence length."""
    rng = np.random.default_rng([EVAL_SEED, length])
    x, y = copy_task(bits, length, length, samples, rng)
    predicted = np.asarray(model.predict(x, batch_size=100, verbose=0)) > 0.5
    mask = y[..., -1:] > 0.5
    wrong = (predicted != (y[..., :-1] > 0.5)) & mask
    per_sequence = wrong.sum(axis=(1, 2))
    return {
        "bit_error": float(wrong.sum() / (mask.sum() * bits)),
        "bits_wrong_per_sequence": float(per_sequence.mean()),
        "perfect": float(np.mean(per_sequence == 0)),
    }


def measure(run_path: Path, lengths: list[int], samples: int) -> dict:
    spec, model = load_run(RunDir.open(run_path))
    if spec.data.source != "copy_task":
        raise SystemExit(f"{run_path}: not a copy_task run (data.source is {spec.data.source})")
    if model.inputs[0].shape[1] is not None:
        raise SystemExit(
            f"{run_path}: the model takes only sequences of {model.inputs[0].shape[1]} steps; "
            f"set model.input_shape: [null, {spec.data.bits + 1}] in its spec"
        )
    by_length = {str(n): score(model, spec.data.bits, n, samples) for n in lengths}
    return {
        "run": str(run_path),
        "spec": spec.name,
        "parameters": int(model.count_params()),
        "trained_lengths": [spec.data.min_length, spec.data.max_length],
        "by_length": by_length,
    }


def table(results: list[dict], lengths: list[int]) -> str:
    head = "| spec | parameters | trained lengths | " + " | ".join(f"length {n}" for n in lengths)
    lines = [head + " |", "|---" * (3 + len(lengths)) + "|"]
    for result in results:
        low, high = result["trained_lengths"]
        cells = []
        for n in lengths:
            r = result["by_length"][str(n)]
            cells.append(
                f"{r['bit_error']:.4f} ({r['bits_wrong_per_sequence']:.2f} bits/seq, "
                f"{r['perfect']:.1%} perfect)"
            )
        lines.append(f"| {result['spec']} | {result['parameters']:,} | {low}-{high} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=DEFAULT_RUNS)
    parser.add_argument("--lengths", default="5,10,15,20", help="comma-separated lengths")
    parser.add_argument("--samples", type=int, default=500, help="sequences per length")
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    results = [measure(run, lengths, args.samples) for run in args.runs]
    print(table(results, lengths))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"samples_per_length": args.samples, "lengths": lengths, "results": results}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
