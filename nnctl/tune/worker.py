"""A worker: asks the study for trials and runs them until the budget of finished (complete or
pruned) trials is met.

Counting is exact under ``kill -9``: a worker holds a claim (an flock on
``TUNE_DIR/claims/NNNN``) for each trial it runs, and asks for a trial, or takes over an
unclaimed one, only while holding ``TUNE_DIR/claims/ask``. A RUNNING trial of this tune
directory whose claim is free lost its worker: the next worker resumes it from its checkpoint
(or trains it again) under the same trial number, so it is counted once. A worker asks for a new
trial only while finished and running trials together are fewer than the budget.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from nnctl.errors import Diverged, Interrupted
from nnctl.spec.schema import SearchSpec
from nnctl.tune.study import suggest
from nnctl.tune.trial import HEARTBEAT, Tune, run_trial

CLAIMS = "claims"
TUNE_DIR_ATTR, HOST_ATTR = "tune_dir", "host"
SECONDS, EPOCHS = "seconds", "epochs"
HAND_SET = "hand_set"  # the trial of the spec's own values
WORKER = "worker"  # the process that ran (or last resumed) the trial
SURPLUS = "surplus"  # a trial another machine's worker asked for past the budget: never run
WAIT_S = 2.0
UNNAMED_S = 60  # a RUNNING trial without a tune directory this old lost its worker at birth
SILENT_S = 3600  # another machine's RUNNING trial silent this long (no epoch ended) lost its worker


@dataclass
class Claim:
    number: int
    handle: IO
    resumed: bool


def finished_states():
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def counts(study) -> tuple[int, int, int]:
    """(finished, running, failed) trials of the study, surplus ones left out."""
    from optuna.trial import TrialState

    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS)]
    finished = sum(t.state in finished_states() for t in trials)
    running = sum(t.state == TrialState.RUNNING for t in trials)  # WAITING: asked for next
    failed = sum(t.state == TrialState.FAIL for t in trials)
    return finished, running, failed


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[IO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_claim(path: Path) -> IO | None:
    """The claim's file, locked by this process; None if a live worker holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 -- held open for the trial's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class Worker:
    def __init__(self, study, search: SearchSpec, tune: Tune, say, show=None):
        """``say``: a line to show; ``show``: called with the study after each trial."""
        self.study, self.search, self.tune, self.say = study, search, tune, say
        self.show = show or (lambda study: None)
        self.home = str(tune.tune_dir.resolve())
        self.host = socket.gethostname()
        self.claims = tune.tune_dir / CLAIMS

    def run(self) -> None:
        """Run trials until the budget is met (waiting while other workers' trials may still
        fail and need another)."""
        while True:
            with _locked(self.claims / "ask"):
                claim = self._orphan() or self._ask()
            if claim is None:
                finished, _, failed = counts(self.study)
                if finished >= self.search.trials or failed >= self.search.trials:
                    return
                time.sleep(WAIT_S)  # others' trials are running; one may fail or be killed
                continue
            self._run(claim)

    def _ask(self) -> Claim | None:
        finished, running, failed = counts(self.study)
        if finished + running >= self.search.trials or failed >= self.search.trials:
            return None
        trial = self.study.ask()
        trial.set_user_attr(TUNE_DIR_ATTR, self.home)
        trial.set_user_attr(HOST_ATTR, self.host)
        handle = _try_claim(self.claims / f"{trial.number:04d}")
        if self._past_budget(trial.number):  # another machine's worker asked at the same time
            trial.set_user_attr(SURPLUS, True)
            self.study.tell(trial, state=_fail())
            handle.close()
            return None
        return Claim(trial.number, handle, resumed=False)

    def _past_budget(self, number: int) -> bool:
        """Whether trials numbered below this one, failed ones aside, already fill the budget."""
        trials = self.study.get_trials(deepcopy=False)
        alive = [t for t in trials if t.number < number and t.state != _fail()]
        return len(alive) >= self.search.trials

    def _orphan(self) -> Claim | None:
        """A RUNNING trial of this tune directory whose worker is gone, claimed for this one.
        Another machine's trial silent for ``SILENT_S`` is failed, so another takes its place."""
        from optuna.trial import TrialState

        for frozen in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if self._silent(frozen):
                self.study.tell(frozen.number, state=_fail(), skip_if_finished=True)
                self.say(f"trial {frozen.number}: failed (its worker on another machine is silent)")
                continue
            if not self._ours(frozen):
                continue
            handle = _try_claim(self.claims / f"{frozen.number:04d}")
            if handle is not None:
                return Claim(frozen.number, handle, resumed=True)
        return None

    def _silent(self, frozen) -> bool:
        attrs = frozen.user_attrs
        elsewhere = attrs.get(HOST_ATTR, self.host) != self.host
        elsewhere = elsewhere or attrs.get(TUNE_DIR_ATTR, self.home) != self.home
        last = attrs.get(HEARTBEAT)
        if last is None:
            last = (frozen.datetime_start or datetime.now()).timestamp()
        return elsewhere and time.time() - last > SILENT_S

    def _ours(self, frozen) -> bool:
        """A trial this tune directory's workers ran, or one whose worker died between asking
        for it and naming itself (a minute ago or more)."""
        attrs = frozen.user_attrs
        if TUNE_DIR_ATTR in attrs:
            return attrs[TUNE_DIR_ATTR] == self.home and attrs.get(HOST_ATTR) == self.host
        started = frozen.datetime_start
        return started is None or (datetime.now() - started).total_seconds() > UNNAMED_S

    def _run(self, claim: Claim) -> None:
        import optuna

        trial = optuna.trial.Trial(self.study, self._trial_id(claim.number))
        trial.set_user_attr(TUNE_DIR_ATTR, self.home)
        trial.set_user_attr(HOST_ATTR, self.host)
        trial.set_user_attr(WORKER, os.getpid())
        trial.set_user_attr(HEARTBEAT, time.time())
        values = suggest(trial, self.search)  # a resumed trial's: the values it was given
        verb = "resuming" if claim.resumed else "starting"
        self.say(f"trial {claim.number}: {verb} ({_shown(values)})")
        clock = time.perf_counter()
        try:
            outcome = run_trial(self.tune, trial, values, resume=claim.resumed)
        except Diverged as exc:
            self._tell(trial, claim, clock, None, state=_fail())
            self.say(f"trial {claim.number}: failed: {exc}")
            return
        except (Interrupted, KeyboardInterrupt):
            claim.handle.close()  # left RUNNING: the next run of the command resumes it
            raise
        state = optuna.trial.TrialState.PRUNED if outcome.pruned else None
        self._tell(trial, claim, clock, outcome, state=state)

    def _tell(self, trial, claim: Claim, clock: float, outcome, state) -> None:
        seconds = round(time.perf_counter() - clock, 1)
        seconds += trial.user_attrs.get(SECONDS, 0.0) if claim.resumed else 0.0
        trial.set_user_attr(SECONDS, round(seconds, 1))
        if outcome is not None:
            trial.set_user_attr(EPOCHS, outcome.epochs)
        value = None if outcome is None or state is not None else outcome.value
        frozen = self.study.tell(trial, value, state=state, skip_if_finished=True)
        claim.handle.close()
        self.say(line(frozen, self.search.metric))
        self.show(self.study)

    def _trial_id(self, number: int) -> int:
        return next(
            t._trial_id for t in self.study.get_trials(deepcopy=False) if t.number == number
        )


def _fail():
    from optuna.trial import TrialState

    return TrialState.FAIL


def _shown(values: dict) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in values.items())


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def line(trial, metric: str) -> str:
    """``trial 3: complete  val_accuracy=0.9511  12 epochs  18.2 s``."""
    state = trial.state.name.lower()
    value = f"{metric}={_number(trial.value)}" if trial.value is not None else f"{metric}=–"
    epochs = trial.user_attrs.get(EPOCHS, "?")
    pruned = trial.user_attrs.get("pruned_epoch")
    at = f" at epoch {pruned}" if pruned and state == "pruned" else ""
    seconds = trial.user_attrs.get(SECONDS, 0)
    return f"trial {trial.number}: {state}{at}  {value}  {epochs} epochs  {seconds} s"
