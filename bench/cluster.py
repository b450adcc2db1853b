"""``train.distribute`` on one machine: one process against two replicas (``mirrored`` on two
logical CPU devices) and two worker processes on 127.0.0.1 (``multi_worker``), same spec.

    python bench/cluster.py [--repeats 3] [--epochs 3] [--spec fashion_mnist_mlp]

Each variant is a whole ``nnctl train`` (for the cluster, the two workers at once), alternated
``--repeats`` times. Reported: the steady-state epoch time (median of epochs 2..N, as the chief
prints them), the whole command's wall time, the test accuracy and the workers' weight digests
(equal: they trained in lockstep). On a machine with fewer cores than replicas need, this
measures the engine's overhead, not a speed-up. Writes bench/results/cluster.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nnctl.training.distribute import local_cluster

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
EPOCH = re.compile(r"^epoch (\d+)/\d+ .*\((\d+(?:\.\d+)?)s\)$", re.M)
DIGEST = re.compile(r"weights sha256 ([0-9a-f]{64})")
VARIANTS = {
    "one process": [],
    "mirrored, 2 CPU devices": ["train.distribute.strategy=mirrored", "train.distribute.devices=2"],
    "multi_worker, 2 processes": ["train.distribute.strategy=multi_worker"],
}


def run_variant(spec: Path, sets: list[str], out: Path, workers: int) -> dict:
    """One ``nnctl train`` (on each worker, with its TF_CONFIG); the chief's epochs, the wall
    time of the whole, test accuracy and digests."""
    args = [sys.executable, "-m", "nnctl", "train", str(spec), "--out", str(out), "-q"]
    args += [a for s in sets for a in ("--set", s)]
    configs = local_cluster(workers) if workers > 1 else [None]
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"}
    started = time.perf_counter()
    processes = []
    for config in configs:
        extra = {"TF_CONFIG": config} if config else {}
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        processes.append(subprocess.Popen(args, cwd=ROOT, env=env | extra, **pipes))
    outputs = [p.communicate() for p in processes]
    wall = time.perf_counter() - started
    for p, (_, err) in zip(processes, outputs, strict=True):
        if p.returncode:
            raise SystemExit(f"{args} failed:\n{err[-3000:]}")
    chief = outputs[0][1]
    epochs = [float(seconds) for _, seconds in EPOCH.findall(chief)]
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "epochs": epochs,
        "wall": wall,
        "test_accuracy": metrics["test"]["accuracy"],
        "digests": sorted({d for _, err in outputs for d in DIGEST.findall(err)}),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--spec", default="fashion_mnist_mlp")
    args = parser.parse_args()
    spec = ROOT / "specs" / f"{args.spec}.yaml"
    base = [f"train.epochs={args.epochs}", "train.validation=0", "train.early_stopping=null"]
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeats):
        for name, sets in VARIANTS.items():
            workers = 2 if "multi_worker" in name else 1
            with tempfile.TemporaryDirectory() as tmp:
                result = run_variant(spec, base + sets, Path(tmp) / "run", workers)
            runs[name].append(result)
            print(name, json.dumps(result), flush=True)
    summary = {
        name: {
            "epoch_s": statistics.median(statistics.median(r["epochs"][1:]) for r in rs),
            "wall_s": statistics.median(r["wall"] for r in rs),
            "test_accuracy": statistics.median(r["test_accuracy"] for r in rs),
            "workers_agree": all(len(r["digests"]) <= 1 for r in rs),
            "runs_wall_s": [round(r["wall"], 2) for r in rs],
        }
        for name, rs in runs.items()
    }
    results = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "spec": args.spec,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "when": time.strftime("%Y-%m-%d"),
        "variants": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "cluster.md").write_text(markdown(results))
    print(markdown(results))


def markdown(results: dict) -> str:
    one = results["variants"]["one process"]
    lines = [
        "# train.distribute on one machine: one process, two replicas, two workers",
        "",
        f"`{results['spec']}`, {results['epochs']} epochs, no validation; measured "
        f"{results['when']} on {results['machine']} ({results['cpus']} CPUs, shared with other "
        f"jobs), medians of {results['repeats']} alternated repetitions. Reproduce: "
        "`python bench/cluster.py`. With two cores for two replicas (each also running "
        "TensorFlow's own threads), these figures are the engine's overhead, not a speed-up.",
        "",
        "| variant | epoch (s) | wall (s) | epoch / one | wall / one | test accuracy "
        "| workers' weights equal |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, v in results["variants"].items():
        agree = "yes" if "multi_worker" in name and v["workers_agree"] else "–"
        lines.append(
            f"| {name} | {v['epoch_s']:.2f} | {v['wall_s']:.1f} | "
            f"{v['epoch_s'] / one['epoch_s']:.2f} | {v['wall_s'] / one['wall_s']:.2f} | "
            f"{v['test_accuracy']:.4f} | {agree} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
