"""`nnctl validate` wall time against `python -c "import tensorflow"`, in the same run.

    python bench/validate_speed.py [--repeats 7]

Validation must not import TensorFlow: the target is a ratio of at most 0.15. Each repeat runs
both commands as fresh processes, alternating; the report gives medians and their ratio. It also
times the refusal of a "billion laughs" spec and its peak Python memory (tracemalloc).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.15


def wall(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def billion_laughs() -> tuple[float, float]:
    """(seconds, peak MiB) for the loader to refuse a 10^9-element alias bomb."""
    import tracemalloc

    sys.path.insert(0, str(ROOT))
    from nnctl.errors import SpecError
    from nnctl.spec.loader import load_yaml

    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = "\n".join(lines)
    started = time.perf_counter()
    with contextlib.suppress(SpecError):
        load_yaml(text, "laughs.yaml")
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second pass for memory: tracing slows the first one down
    with contextlib.suppress(SpecError):
        load_yaml(text, "laughs.yaml")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    validate = [sys.executable, "-m", "nnctl", "validate", str(ROOT / "specs" / "quickstart.yaml")]
    tensorflow = [sys.executable, "-c", "import tensorflow"]
    wall(validate), wall(tensorflow)  # warm the file cache
    v_times, tf_times = [], []
    for _ in range(args.repeats):
        v_times.append(wall(validate))
        tf_times.append(wall(tensorflow))
    v, tf = statistics.median(v_times), statistics.median(tf_times)
    print(f"nnctl validate      median {v:.3f} s  runs {[round(t, 3) for t in v_times]}")
    print(f"import tensorflow   median {tf:.3f} s  runs {[round(t, 3) for t in tf_times]}")
    verdict = "within" if v / tf <= TARGET else "OVER"
    print(f"ratio validate / import tensorflow: {v / tf:.3f} ({verdict} the {TARGET} target)")
    seconds, peak = billion_laughs()
    print(f"billion laughs refused in {seconds:.3f} s, peak Python memory {peak:.1f} MiB")


if __name__ == "__main__":
    main()
