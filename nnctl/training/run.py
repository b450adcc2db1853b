"""``nnctl train``: data -> model -> fit -> a complete run directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nnctl.build import build_model, compile_model
from nnctl.data import load_dataset
from nnctl.evaluate import SPLITS, split_metrics
from nnctl.keras_env import set_seed
from nnctl.rundir import (
    CURVES,
    METRICS,
    MODEL,
    RUN_INFO,
    RunDir,
    atomic_path,
    environment,
    now,
    write_json,
)
from nnctl.spec.schema import Spec
from nnctl.training.curves import plot_curves
from nnctl.training.supervised import fit, steps_per_epoch

PATH_KEYS = ("path", "target_path", "images", "labels", "test_images", "test_labels")


def train(spec: Spec, base_dir: Path, run: RunDir, *, quiet: bool = False) -> dict[str, Any]:
    """Train the spec's model into ``run``; return the final metrics per split."""
    started, clock = now(), time.perf_counter()
    set_seed(spec.seed)
    dataset = load_dataset(spec.data, spec.train.validation, spec.seed, base_dir)
    model = build_model(spec, dataset.train.x)
    compile_model(model, spec, steps_per_epoch(spec, dataset))
    run.write_spec(absolute_paths(spec.resolved(), base_dir), spec.file)
    info = {
        "spec": spec.file,
        "seed": spec.seed,
        "started": started,
        "data_fingerprint": dataset.fingerprint,
    }
    info["environment"] = environment()
    write_json(run.file(RUN_INFO), info)

    history = fit(spec, dataset, model, run, quiet=quiet)
    with atomic_path(run.file(MODEL)) as tmp:
        model.save(tmp)
    metrics = {
        name: split_metrics(model, part, spec.train.batch_size)
        for name in SPLITS
        if (part := getattr(dataset, name)) is not None and len(part.x)
    }
    write_json(run.file(METRICS), metrics)
    with atomic_path(run.file(CURVES)) as tmp:
        plot_curves(history, tmp)
    info |= {
        "finished": now(),
        "seconds": round(time.perf_counter() - clock, 2),
        "epochs": len(history["loss"]),
    }
    write_json(run.file(RUN_INFO), info)
    return metrics


def absolute_paths(resolved: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Data file paths made absolute, so the run directory's spec works from anywhere."""
    sections = [resolved["data"], resolved["train"].get("validation")]
    for section in sections:
        if not isinstance(section, dict):
            continue
        for key in PATH_KEYS:
            if section.get(key):
                section[key] = str((base_dir / Path(section[key]).expanduser()).resolve())
    return resolved
