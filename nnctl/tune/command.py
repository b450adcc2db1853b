"""``nnctl tune``'s work: open the study, run one worker here or ``--workers N`` worker
processes, then write the results. Running the same command again continues the study."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from nnctl.errors import Interrupted, UserError
from nnctl.spec.schema import Spec
from nnctl.spec.search import describe, hand_set
from nnctl.tune import results
from nnctl.tune.study import STORAGE_ENV, open_study, redact, storage_url
from nnctl.tune.trial import Tune
from nnctl.tune.worker import HAND_SET, Worker, counts


@dataclass
class Request:
    """The command line of a tune, as given."""

    spec_path: Path
    overrides: list[str]
    tune_dir: Path
    storage: str | None
    workers: int
    quiet: bool

    def again(self) -> str:
        """The command that continues this tune (a storage URL's password hidden)."""
        parts = ["nnctl", "tune", str(self.spec_path), "--out", str(self.tune_dir)]
        parts += ["--workers", str(self.workers)] if self.workers > 1 else []
        parts += [f"--storage={redact(self.storage)}"] if self.storage else []
        for item in self.overrides:
            parts += ["--set", item]
        return shlex.join(parts)


def dry_run(spec: Spec) -> str:
    search = spec.search
    lines = [f"search of {spec.name}: {search.goal} {search.metric}"]
    lines += [f"  {row}" for row in describe(search)]
    budget = f"{search.trials} trials of at most {most_epochs(spec)} epochs each"
    lines.append(f"budget: {budget}; sampler {search.sampler}, pruner {search.pruner}")
    hand = hand_set(spec.resolved(), search)
    shown = ", ".join(f"{key}={value}" for key, value in hand.items()) or "none in the space"
    if search.sampler != "grid":  # a grid runs every combination, the hand-set one among them
        lines.append(f"first trial: the hand-set values ({shown})")
    return "\n".join(lines)


def most_epochs(spec: Spec) -> int:
    """The most epochs a trial trains (the pruners' scale): train.epochs, or its largest
    searched value."""
    searched = spec.search.parameters.get("train.epochs")
    return int(max(searched.values)) if searched else spec.train.epochs


def tune(spec: Spec, request: Request, say, show=None) -> object:
    """Run the study to its budget; write results.csv, best.yaml, plots and HParams; return
    the best trial (None if no trial completed)."""
    search = spec.search
    if spec.train.distribute and spec.train.distribute.strategy == "multi_worker":
        raise spec.error(
            ("train", "distribute", "strategy"),
            "nnctl tune runs its trials in processes of this machine, not on a cluster: tune "
            "with mirrored or without distribute, then train best.yaml on the cluster",
        )
    request.tune_dir.mkdir(parents=True, exist_ok=True)
    url = storage_url(request.tune_dir, request.storage)
    study = open_study(search, spec.name, url, spec.seed, most_epochs(spec))
    if not study.trials and search.sampler != "grid":  # first: the hand-set values in the space
        study.enqueue_trial(hand_set(spec.resolved(), search), user_attrs={HAND_SET: True})
    context = Tune(request.spec_path, request.overrides, request.tune_dir, search.metric)
    try:
        if request.workers == 1:
            Worker(study, search, context, say, show).run()
        else:
            _spawn(request, url, say)
    except (Interrupted, KeyboardInterrupt):
        raise Interrupted(
            f"interrupted: finished trials are kept and the running one resumes from its "
            f"checkpoint; continue with: {request.again()}",
            signal.SIGINT,
        ) from None
    finished, _, failed = counts(study)
    if finished < search.trials:
        raise UserError(
            f"{failed} trials failed and {finished} of {search.trials} finished; see the "
            f"failures above, then continue with: {request.again()}"
        )
    return finish(study, spec, context)


def finish(study, spec: Spec, context: Tune):
    search, tune_dir = spec.search, context.tune_dir
    results.write_results(study, search, tune_dir)
    best = results.write_best(study, search, tune_dir, context.run_dir)
    results.write_plots(study, search, tune_dir)
    results.write_hparams(study, search, tune_dir)
    return best


def worker(spec: Spec, request: Request, say) -> None:
    """One worker process of ``--workers N`` (the storage URL comes in the environment)."""
    url = storage_url(request.tune_dir, request.storage)
    study = open_study(spec.search, spec.name, url, spec.seed + os.getpid(), most_epochs(spec))
    context = Tune(request.spec_path, request.overrides, request.tune_dir, spec.search.metric)
    Worker(study, spec.search, context, say).run()


def _spawn(request: Request, url: str, say) -> None:
    """N worker processes of this command against the same storage; wait for them all."""
    command = [sys.executable, "-m", "nnctl", "tune", str(request.spec_path)]
    command += ["--out", str(request.tune_dir), "--worker"]
    for item in request.overrides:
        command += ["--set", item]
    env = {**os.environ, STORAGE_ENV: url}  # never on a command line, where ps shows it
    children = [subprocess.Popen(command, env=env) for _ in range(request.workers)]
    say(f"{request.workers} workers: pids {', '.join(str(c.pid) for c in children)}")
    try:
        codes = [child.wait() for child in children]
    except KeyboardInterrupt:
        for child in children:  # they got the SIGINT too: let them checkpoint and stop
            child.wait()
        raise
    if any(code == 130 for code in codes):
        raise KeyboardInterrupt
    if any(codes):
        raise UserError(f"a worker failed (exit codes {codes}); see its error above")
