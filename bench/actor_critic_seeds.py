"""Episodes to solve CartPole, over several seeds: nnctl's actor_critic spec against keras.io's.

    python bench/actor_critic_seeds.py [--seeds 1,2,3,4,5] [--jobs 2] [--reference]
                                       [--spec SPEC] [--set KEY=VALUE ...]

Each seed is a full ``nnctl train SPEC --set seed=N`` in its own process (``--jobs`` at a time);
its run directory reports the episode at which the running reward passed ``agent.solved_at``
and the mean return of the trained policy over ``agent.evaluation_episodes`` evaluation
episodes. ``--reference`` trains keras.io's actor-critic settings instead (the same network,
the same task: returns standardized per episode, no advantage normalization, no entropy bonus,
Huber critic loss weighted 1, Adam 0.01). Results print as a Markdown table and are kept in
bench/results/actor_critic_seeds.json under the run's label (spec, reference, or the --set's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "actor_critic_cartpole.yaml"
RESULTS = ROOT / "bench" / "results" / "actor_critic_seeds.json"
RUNS = ROOT / "bench" / "runs" / "actor_critic_seeds"
# keras.io's examples/rl/actor_critic_cartpole.py, in the spec's words
REFERENCE = [
    "agent.normalize_returns=true",
    "agent.normalize_advantages=false",
    "agent.entropy=0.0",
    "agent.value_loss=huber",
    "agent.value_weight=1.0",
    "agent.gae_lambda=1.0",
    "optimizer={name: adam, learning_rate: 0.01}",
]


def train(spec: Path, seed: int, overrides: list[str], label: str) -> dict:
    """One full training run; what its run directory reports."""
    out = RUNS / f"{label}-seed{seed}"
    sets = [a for o in [f"seed={seed}", *overrides] for a in ("--set", o)]
    cmd = [sys.executable, "-m", "nnctl", "train", str(spec), "--out", str(out), "--force", "-q"]
    started = time.perf_counter()
    proc = subprocess.run([*cmd, *sets], capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        return {"seed": seed, "error": proc.stderr.strip().splitlines()[-1:], "seconds": seconds}
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "seed": seed,
        "solved_at_episode": metrics["train"].get("solved_at_episode"),
        "trained_episodes": metrics["train"]["episodes"],
        **{k: v for k, v in metrics["evaluation"].items() if k != "episodes"},
        "seconds": seconds,
    }


def summary(runs: list[dict]) -> dict:
    solved = [r["solved_at_episode"] for r in runs if r.get("solved_at_episode")]
    returns = [r["mean_return"] for r in runs if "mean_return" in r]
    return {
        "seeds": len(runs),
        "solved": len(solved),
        "median_episodes_to_solve": statistics.median(solved) if solved else None,
        "worst_episodes_to_solve": max(solved) if len(solved) == len(runs) else None,
        "mean_evaluation_return": statistics.mean(returns) if returns else None,
    }


def table(label: str, runs: list[dict], figures: dict) -> str:
    rows = [f"### {label}", "", "| seed | solved at episode | evaluation return (mean ± std) |"]
    rows.append("|---|---|---|")
    for r in runs:
        if "error" in r:
            rows.append(f"| {r['seed']} | failed: {' '.join(r['error'])} | |")
            continue
        solved = r["solved_at_episode"] or f"not in {r['trained_episodes']}"
        rows.append(f"| {r['seed']} | {solved} | {r['mean_return']:.1f} ± {r['std_return']:.1f} |")
    rows.append("")
    rows.append(f"median episodes to solve: {figures['median_episodes_to_solve']} "
                f"({figures['solved']} of {figures['seeds']} seeds solved); mean evaluation "
                f"return: {figures['mean_evaluation_return']}")  # fmt: skip
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, default=SPEC)
    parser.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--reference", action="store_true", help="keras.io's settings")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--label", help="name of this configuration in the results")
    args = parser.parse_args()
    overrides = (REFERENCE if args.reference else []) + args.overrides
    label = args.label or ("reference" if args.reference else "spec")
    seeds = [int(s) for s in args.seeds.split(",")]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda s: train(args.spec, s, overrides, label), seeds))
    figures = summary(runs)
    print(table(label, runs, figures))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[label] = {"spec": str(args.spec), "overrides": overrides,
                      "summary": figures, "runs": runs}  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
