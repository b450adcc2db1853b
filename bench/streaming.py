"""Peak memory against file size for streamed data: ``.npy`` (``data.stream: true``), TFRecord
(``source: tfrecord``) and CSV (``data.stream: true``), and the same ``.npy`` file loaded.

    python bench/streaming.py [--sizes 64,256,1024] [--csv-sizes 64,256] [--only csv] ...

For each size (MB) a file of random rows (1,024 float32 features; the class is the sign of their
sum) is generated in a temporary folder, a small MLP (1024-16-2, batch 256) trains on it for one
epoch in a process of its own (``nnctl train``), and run.json's ``peak_memory_mib`` (the
process's VmHWM: file pages read through the page cache do not count) is recorded with the
process's wall time and the test accuracy; the file is deleted after. The goal: memory flat in
file size when streamed, and growing with it when loaded. Writes
bench/results/streaming.{json,md}; ``--only FORMAT`` measures one format again and keeps the
others' rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FEATURES = 1024
CHUNK = 4096  # rows generated at a time
SPEC = {  # the data section is added per format
    "name": "streaming",
    "seed": 1,
    "model": {"layers": [{"Dense": {"units": 16, "activation": "relu"}},
                         {"Dense": {"units": 2, "activation": "softmax"}}]},
    "loss": "sparse_categorical_crossentropy",
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "metrics": ["accuracy"],
    "train": {"epochs": 1, "batch_size": 256, "validation": 0.05},
}  # fmt: skip
DATA = {  # format: data section
    "npy": "{source: npy, path: x.npy, target_path: y.npy, stream: true}",
    "npy loaded": "{source: npy, path: x.npy, target_path: y.npy}",
    "tfrecord": "{source: tfrecord, path: x.tfrecord, features: {x: {shape: [FEATURES]}}, "
    "target: {name: y}}".replace("FEATURES", str(FEATURES)),
    "csv": "{source: csv, path: x.csv, target: y, stream: true}",
    "csv loaded": "{source: csv, path: x.csv, target: y}",
}


def chunks(rows: int):
    """``rows`` random rows, a chunk at a time: (features, classes)."""
    rng = np.random.default_rng(0)
    for first in range(0, rows, CHUNK):
        x = rng.standard_normal((min(CHUNK, rows - first), FEATURES), dtype="float32")
        yield x, (x.sum(axis=1) > 0).astype("int64")


def write_npy(directory: Path, size: int) -> Path:
    rows = size // (4 * FEATURES)
    x = np.lib.format.open_memmap(directory / "x.npy", "w+", "float32", (rows, FEATURES))
    y = np.empty(rows, "int64")
    for first, (chunk, labels) in zip(range(0, rows, CHUNK), chunks(rows), strict=True):
        x[first : first + len(chunk)], y[first : first + len(chunk)] = chunk, labels
    x.flush()
    del x
    np.save(directory / "y.npy", y)
    return directory / "x.npy"


def write_tfrecord(directory: Path, size: int) -> Path:
    from nnctl.keras_env import import_keras

    import_keras()
    import tensorflow as tf

    path = directory / "x.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for x, y in chunks(size // (4 * FEATURES + 40)):  # a record: the floats and 40 bytes
            for row, label in zip(x, y, strict=True):
                feature = {
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=row.tolist())),
                    "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
    return path


def write_csv(directory: Path, size: int) -> Path:
    """Values with 6 significant digits: about 2.5 times the bytes of float32, so fewer rows."""
    path = directory / "x.csv"
    with path.open("w") as file:
        file.write(",".join([*(f"x{i}" for i in range(FEATURES)), "y"]) + "\n")
        for x, y in chunks(size // (10 * FEATURES)):  # "-0.123457," a value
            table = np.column_stack([x, y]).astype("float64")
            np.savetxt(file, table, fmt=["%.6g"] * FEATURES + ["%d"], delimiter=",")
    return path


WRITERS = {"npy": write_npy, "tfrecord": write_tfrecord, "csv": write_csv}


def measure(directory: Path, kind: str) -> dict:
    """One epoch of ``nnctl train`` in its own process: run.json's figures and the wall time."""
    spec = directory / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC | {"data": yaml.safe_load(DATA[kind])}))
    run = directory / f"run-{kind.replace(' ', '-')}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "nnctl", "train", str(spec), "--out", str(run), "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    info = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    shutil.rmtree(run)
    return {
        "peak_memory_mib": info["peak_memory_mib"],
        "wall_s": round(wall, 1),
        "test_accuracy": round(metrics["test"]["accuracy"], 4),
    }


def bench(sizes: dict[str, list[int]], forms: list[str], scratch: Path | None) -> list[dict]:
    """Each format at each of its sizes (MB): the file written, each kind measured, deleted."""
    rows = []
    for form in forms:
        writer = WRITERS[form]
        for size in sizes[form]:
            with tempfile.TemporaryDirectory(dir=scratch) as folder:
                directory = Path(folder)
                path = writer(directory, size * 2**20)
                kinds = [form] + ([f"{form} loaded"] if size in sizes[f"{form} loaded"] else [])
                for kind in kinds:
                    row = {"data": kind, "file_mb": round(path.stat().st_size / 2**20, 1)}
                    rows.append(row | measure(directory, kind))
                    print(json.dumps(rows[-1]), flush=True)
    return rows


def cpu() -> str:
    """The CPU's model name and its widest vector instructions, from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("model name")), platform.machine())  # fmt: skip
    flags = set(next((line for line in text.splitlines() if line.startswith("flags")), "").split())
    vectors = "AVX-512" if "avx512f" in flags else "AVX2, no AVX-512" if "avx2" in flags else ""
    return f"{name}, {os.cpu_count()} cores, {vectors}".rstrip(", ")


def markdown(results: dict) -> str:
    lines = [
        "# Streamed data: peak memory against file size",
        "",
        f"Measured {results['when']} on {results['cpu']}; the cores were shared with other "
        "jobs, so the times are rough (one run each). Reproduce: `python bench/streaming.py`.",
        "",
        f"Each run: `nnctl train`, one epoch, a 1024-16-2 MLP at batch 256 on random rows of "
        f"{FEATURES} float32 features (class: the sign of their sum), in a process of its own. "
        "Peak memory: run.json's `peak_memory_mib`, the process's peak resident memory (VmHWM); "
        "file pages read through the page cache are not in it. Wall: the whole process (imports, "
        "the scan pass, training, final metrics on every split, the model file).",
        "",
        "| data | file (MiB) | peak memory (MiB) | wall (s) | test accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in results["runs"]:
        lines.append(
            f"| {row['data']} | {row['file_mb']} | {row['peak_memory_mib']:.0f} | "
            f"{row['wall_s']} | {row['test_accuracy']} |"
        )
    lines += ["", "Peak memory as the file grows:", ""]
    for kind in dict.fromkeys(row["data"] for row in results["runs"]):
        rows = sorted((r for r in results["runs"] if r["data"] == kind), key=lambda r: r["file_mb"])
        if len(rows) > 1:
            peaks = " -> ".join(f"{row['peak_memory_mib']:.0f}" for row in rows)
            files = " -> ".join(f"{row['file_mb']:.0f}" for row in rows)
            grew = rows[-1]["peak_memory_mib"] - rows[0]["peak_memory_mib"]
            more = rows[-1]["file_mb"] - rows[0]["file_mb"]
            lines.append(
                f"- {kind}: {peaks} MiB for files of {files} MiB ({grew:+.0f} MiB for "
                f"{more:.0f} MiB more file)"
            )
    return "\n".join(lines).rstrip() + "\n"


def sizes_of(text: str) -> list[int]:
    return [int(size) for size in text.split(",") if size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="64,256,1024", help="MB, for .npy and TFRecord")
    parser.add_argument("--csv-sizes", default="64,256", help="MB, for CSV streamed")
    parser.add_argument(
        "--loaded-sizes", default="64,256,1024", help="MB at which the file is also loaded"
    )
    parser.add_argument("--csv-loaded-sizes", default="64", help="MB at which CSV is loaded")
    parser.add_argument("--scratch", type=Path, help="where the files are written [a temp dir]")
    parser.add_argument("--only", choices=sorted(WRITERS), help="measure one format again")
    args = parser.parse_args()
    sizes = {
        "npy": sizes_of(args.sizes),
        "tfrecord": sizes_of(args.sizes),
        "csv": sizes_of(args.csv_sizes),
        "npy loaded": sizes_of(args.loaded_sizes),
        "tfrecord loaded": [],
        "csv loaded": sizes_of(args.csv_loaded_sizes),
    }
    path = RESULTS / "streaming.json"
    kept = json.loads(path.read_text())["runs"] if args.only and path.is_file() else []
    kept = [row for row in kept if row["data"].split()[0] != args.only]
    results = {"when": time.strftime("%Y-%m-%d"), "cpu": cpu(), "shared": True}
    runs = bench(sizes, [args.only] if args.only else list(WRITERS), args.scratch)
    order = list(WRITERS)  # formats in their order, each format's rows as measured
    results["runs"] = sorted(kept + runs, key=lambda row: order.index(row["data"].split()[0]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "streaming.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
