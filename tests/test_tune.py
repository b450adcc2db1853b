"""nnctl tune: the search section's checks, the dry run, storage passwords, and (slow) real
studies: a small tune, two worker processes on one study, kill -9 and Ctrl-C mid-trial."""

from __future__ import annotations

import csv
import json
import signal
import socket
import sqlite3
import time

import pytest
from conftest import DIGITS, DIGITS_TRAINING, interrupted, spawn

from nnctl.tune.study import redact

SEARCH = """
search:
  metric: val_accuracy
  goal: maximize
  trials: 3
  pruner: none
  parameters:
    optimizer.learning_rate: {loguniform: [1.0e-3, 1.0e-1]}
    model.layers[0].units: {choice: [8, 16]}
"""
TUNED = DIGITS_TRAINING.replace("epochs: 1", "epochs: 2") + SEARCH


def _rows(tune_dir) -> list[dict]:
    with open(tune_dir / "results.csv") as handle:
        return list(csv.DictReader(handle))


def _study_trials(tune_dir) -> list[tuple]:
    """(number, state) of every trial the study's database holds."""
    with sqlite3.connect(tune_dir / "study.db") as db:
        return db.execute("select number, state from trials order by number").fetchall()


# ------------------------------------------------------------------ the search section (quick)
BROKEN = {
    "unknown path": (
        "    optimizer.learnin_rate: {choice: [0.1]}\n",
        ["search.parameters.optimizer.learnin_rate", "did you mean 'learning_rate'?"],
    ),
    "unknown section": (
        "    trian.epochs: {choice: [1, 2]}\n",
        ["search.parameters.trian.epochs", "did you mean 'train'?"],
    ),
    "choice the schema refuses": (
        "    model.layers[0].units: {choice: [8, 0]}\n",
        ["choice[1]: with model.layers[0].units = 0", "expected a positive integer, got 0"],
    ),
    "range end the schema refuses": (
        "    train.validation: {uniform: [0.1, 1.5]}\n",
        ["uniform[1]: with train.validation = 1.5"],
    ),
    "no such layer": (
        "    model.layers[7].units: {choice: [8]}\n",
        ["search.parameters.model.layers[7].units", "model.layers[7]: no such list item"],
    ),
    "two distributions": (
        "    train.epochs: {choice: [1], uniform: [1, 2]}\n",
        ["expected exactly one of choice, uniform, loguniform, intuniform"],
    ),
    "log scale from zero": (
        "    optimizer.learning_rate: {loguniform: [0, 0.1]}\n",
        ["a log scale needs low > 0. Received: [0.0, 0.1]"],
    ),
    "empty range": (
        "    optimizer.learning_rate: {uniform: [0.1, 0.1]}\n",
        ["a range [low, high] needs low < high. Received: [0.1, 0.1]"],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_a_broken_search_section_gets_located_errors(case, write_spec, cli):
    parameter, expected = BROKEN[case]
    search = "search:\n  metric: val_accuracy\n  goal: maximize\n  parameters:\n" + parameter
    path = write_spec(DIGITS + search)
    code, out, err = cli("validate", path)
    assert (code, out) == (2, "")
    assert f"{path}:13:" in err  # the line of the parameter
    for words in expected:
        assert words in err
    assert "Traceback" not in err


def test_a_search_metric_training_never_computes_is_refused(write_spec, cli):
    path = write_spec(DIGITS + SEARCH.replace("val_accuracy", "val_acc"))
    code, _, err = cli("validate", path)
    assert code == 2
    assert "search.metric: 'val_acc' is never computed; Keras 3 calls it val_accuracy" in err


def test_grid_takes_choices_only(write_spec, cli):
    path = write_spec(DIGITS + SEARCH.replace("pruner: none", "sampler: grid"))
    code, _, err = cli("validate", path)
    assert code == 2
    assert "search.parameters.optimizer.learning_rate: sampler grid takes choices only" in err


def test_tune_refuses_a_broken_search_before_any_trial(write_spec, cli, tmp_path):
    path = write_spec(DIGITS + SEARCH.replace("units: {choice: [8, 16]}", "units: {choice: [-1]}"))
    code, _, err = cli("tune", path, "--out", tmp_path / "tune")
    assert code == 2
    assert "with model.layers[0].units = -1" in err
    assert not (tmp_path / "tune").exists()


def test_a_valid_search_section_validates_and_dry_runs(write_spec, cli):
    path = write_spec(TUNED)
    assert cli("validate", path)[0] == 0
    code, out, _ = cli("tune", path, "--dry-run", "--trials", "5")
    assert code == 0
    assert "optimizer.learning_rate  loguniform [0.001, 0.1]" in out
    assert "model.layers[0].units    choice [8, 16]" in out
    assert "budget: 5 trials of at most 2 epochs each" in out
    assert "first trial: the hand-set values (optimizer.learning_rate=0.001, " in out


def test_the_hand_set_values_inside_the_space_are_the_first_trial(write_spec):
    from nnctl.spec.search import hand_set
    from nnctl.spec.validate import load_spec

    spec, _ = load_spec(write_spec(TUNED.replace("[8, 16]", "[32, 64]")))
    assert hand_set(spec.resolved(), spec.search) == {"optimizer.learning_rate": 0.001}


def test_tune_needs_a_search_section(digits_spec, cli):
    code, _, err = cli("tune", digits_spec, "--dry-run")
    assert code == 2
    assert "no search section" in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://tuner:s3cret@db.example:5432/nnctl", "postgresql://tuner:***@db.example"),
        ("mysql+pymysql://root:s3cret@127.0.0.1/optuna", "mysql+pymysql://root:***@127.0.0.1"),
        ("sqlite:///tmp/study.db", "sqlite:///tmp/study.db"),
    ],
)
def test_redact_hides_a_storage_password(url, shown):
    assert redact(url).startswith(shown)
    assert "s3cret" not in redact(f"could not connect to {url}")


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_storage_password_is_never_printed_or_written(
    how, write_spec, cli, tmp_path, monkeypatch
):
    url = "postgresql://tuner:s3cret@127.0.0.1:9/nnctl"
    path = write_spec(TUNED)
    tune_dir = tmp_path / "tune"
    args = ["tune", path, "--out", tune_dir]
    if how == "option":
        args += ["--storage", url]
    else:
        monkeypatch.setenv("NNCTL_TUNE_STORAGE", url)
    code, out, err = cli(*args)
    assert code == 2  # no PostgreSQL (or driver) here: refused, with the URL redacted
    assert "postgresql://tuner:***@127.0.0.1" in err
    assert "s3cret" not in out + err
    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != path]
    assert not any(b"s3cret" in content for content in written)


# ------------------------------------------------------------------ real studies (slow)
@pytest.mark.slow
def test_a_small_tune_writes_trials_results_best_and_plots(write_spec, cli, tmp_path):
    path = write_spec(TUNED)
    tune_dir = tmp_path / "tune"
    code, out, err = cli("tune", path, "--out", tune_dir, "-q")
    assert code == 0, err
    assert out.strip() == str(tune_dir / "best.yaml")
    rows = _rows(tune_dir)
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    assert {r["state"] for r in rows} == {"complete"}
    hand_set = {"optimizer.learning_rate": "0.001", "model.layers[0].units": "16"}
    assert hand_set.items() <= rows[0].items()  # the first trial: the spec's own values
    assert list(rows[0]) == [
        "trial", "state", "val_accuracy", "optimizer.learning_rate", "model.layers[0].units",
        "epochs", "seconds",
    ]  # fmt: skip
    from nnctl.rundir import RunDir

    for row in rows:  # each trial: a finished run directory holding its values
        run = RunDir.open(tune_dir / "trials" / f"{int(row['trial']):04d}")
        spec = (run.path / "spec.yaml").read_text()
        assert f"units: {row['model.layers[0].units']}\n" in spec
        assert "search:" not in spec
    best = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert f"trial {best['trial']}" in err
    assert cli("validate", tune_dir / "best.yaml")[0] == 0
    again = tmp_path / "again"
    assert cli("train", tune_dir / "best.yaml", "--out", again, "-q")[0] == 0
    trial_run = tune_dir / "trials" / f"{int(best['trial']):04d}"
    reproduced = json.loads((again / "metrics.json").read_text())
    assert reproduced == json.loads((trial_run / "metrics.json").read_text())
    plots = {p.name for p in (tune_dir / "plots").glob("*.png")}
    assert {"history.png", "importances.png", "slice-optimizer.learning_rate.png"} <= plots
    assert list((tune_dir / "hparams").rglob("events.out.tfevents.*"))
    code, out, err = cli("tune", path, "--out", tune_dir, "-q")  # the budget is met: no trial
    assert code == 0
    assert "starting" not in err
    assert len(_study_trials(tune_dir)) == 3


@pytest.mark.slow
def test_pruning_callback_reports_each_epoch_and_stops_a_hopeless_trial():
    from nnctl.tune.trial import HEARTBEAT, PRUNED_EPOCH, pruning

    class Trial:  # the part of optuna.Trial the callback uses
        def __init__(self):
            self.reported, self.user_attrs = [], {}

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return len(self.reported) >= 2

        def set_user_attr(self, key, value):
            self.user_attrs[key] = value

    class Model:
        stop_training = False

    trial, model = Trial(), Model()
    last = pruning(Trial(), "val_accuracy")
    last.set_model(model)
    last.set_params({"epochs": 2})
    last.on_epoch_end(0, {"val_accuracy": 0.5})
    last.on_epoch_end(1, {"val_accuracy": 0.6})  # the last epoch: finished, not pruned
    assert not model.stop_training
    callback = pruning(trial, "val_accuracy")
    callback.set_model(model)
    callback.set_params({"epochs": 5})
    callback.on_epoch_end(0, {"val_accuracy": 0.5, "loss": 1.0})
    assert not model.stop_training
    callback.on_epoch_end(1, {"val_accuracy": 0.6})
    assert trial.reported == [(1, 0.5), (2, 0.6)]
    assert model.stop_training
    assert callback.pruned_at == 2
    assert trial.user_attrs[PRUNED_EPOCH] == 2
    assert trial.user_attrs[HEARTBEAT] > 0  # each epoch says the worker is alive


@pytest.mark.slow
def test_two_worker_processes_share_one_study_and_run_no_trial_twice(write_spec, tmp_path):
    path = write_spec(TUNED.replace("epochs: 2", "epochs: 1").replace("trials: 3", "trials: 4"))
    tune_dir = tmp_path / "tune"
    process = spawn("tune", path, "--out", tune_dir, "--workers", "2", "-q")
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert len(_study_trials(tune_dir)) == 4  # none asked past the budget
    rows = _rows(tune_dir)
    assert sorted(r["trial"] for r in rows) == ["0", "1", "2", "3"]
    assert {r["state"] for r in rows} == {"complete"}
    for number in range(4):
        assert err.count(f"trial {number}: starting") == 1
        info = json.loads((tune_dir / "trials" / f"{number:04d}" / "run.json").read_text())
        assert "resumed" not in info
    import optuna

    study = optuna.load_study(study_name="digits", storage=f"sqlite:///{tune_dir / 'study.db'}")
    assert len({t.user_attrs["worker"] for t in study.trials}) == 2


@pytest.mark.slow
def test_kill_9_mid_trial_then_the_same_command_counts_every_trial_once(write_spec, tmp_path):
    path = write_spec(TUNED)
    tune_dir = tmp_path / "tune"
    args = ["tune", path, "--out", tune_dir, "-q"]
    # epoch 3 of this process: trial 1's first epoch, its checkpoint committed
    killed = interrupted(args, "epoch:3", signal.SIGKILL, tmp_path / "ready")
    assert killed["rc"] == -signal.SIGKILL
    assert [r[1] for r in _study_trials(tune_dir)] == ["COMPLETE", "RUNNING"]
    process = spawn(*args)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "trial 1: resuming" in err
    assert [r[1] for r in _study_trials(tune_dir)] == ["COMPLETE"] * 3
    rows = _rows(tune_dir)
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    resumed = json.loads((tune_dir / "trials" / "0001" / "run.json").read_text())
    assert len(resumed["resumed"]) == 1  # continued from its checkpoint, not started over
    best = (tune_dir / "best.yaml").read_text()
    assert "# The best of nnctl tune's 3 trials" in best


@pytest.mark.slow
def test_ctrl_c_stops_a_tune_cleanly_with_the_command_to_continue(write_spec, tmp_path):
    path = write_spec(TUNED.replace("trials: 3", "trials: 1"))
    tune_dir = tmp_path / "tune"
    args = ["tune", path, "--out", tune_dir, "-q"]
    stopped = interrupted(args, "epoch:1", signal.SIGINT, tmp_path / "ready")
    assert stopped["rc"] == 130, stopped["err"]
    assert f"continue with: nnctl tune {path} --out {tune_dir}" in stopped["err"]
    assert "Traceback" not in stopped["err"]
    process = spawn(*args)
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "trial 0: resuming" in err
    assert [r["state"] for r in _rows(tune_dir)] == ["complete"]


def test_another_machines_silent_trial_is_failed_and_not_counted(write_spec, tmp_path):
    from optuna.trial import TrialState

    from nnctl.spec.validate import load_spec
    from nnctl.tune.study import open_study, storage_url
    from nnctl.tune.trial import HEARTBEAT, Tune
    from nnctl.tune.worker import HOST_ATTR, TUNE_DIR_ATTR, Worker, counts

    spec, _ = load_spec(write_spec(TUNED))
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    study = open_study(spec.search, "digits", storage_url(tune_dir, None), 0, 2)
    for host, beat in [("elsewhere", 0.0), ("elsewhere", time.time()), ("", 0.0)]:
        trial = study.ask()
        trial.set_user_attr(HOST_ATTR, host or socket.gethostname())
        trial.set_user_attr(TUNE_DIR_ATTR, "/far/away" if host else str(tmp_path / "other"))
        trial.set_user_attr(HEARTBEAT, beat)
    context = Tune(tmp_path / "spec.yaml", [], tune_dir, "val_accuracy")
    said = []
    assert Worker(study, spec.search, context, said.append)._orphan() is None
    states = [t.state for t in study.trials]
    # silent for longer than SILENT_S: failed (another trial takes its place); alive: left
    assert states == [TrialState.FAIL, TrialState.RUNNING, TrialState.FAIL]
    assert counts(study) == (0, 1, 2)
    assert said == [
        "trial 0: failed (its worker on another machine is silent)",
        "trial 2: failed (its worker on another machine is silent)",
    ]


def test_a_grid_study_told_outside_optimize_runs_its_grid_once(write_spec, tmp_path):
    from nnctl.spec.validate import load_spec
    from nnctl.tune.study import open_study, storage_url, suggest

    grid = SEARCH.replace("pruner: none", "sampler: grid").replace(
        "{loguniform: [1.0e-3, 1.0e-1]}", "{choice: [0.001, 0.01]}"
    )
    spec, _ = load_spec(write_spec(DIGITS + grid))
    study = open_study(spec.search, "digits", storage_url(tmp_path, None), 0, 2)
    seen = []
    for _ in range(4):  # Optuna's own grid sampler calls Study.stop here, outside optimize
        trial = study.ask()
        seen.append(tuple(suggest(trial, spec.search).values()))
        study.tell(trial, 0.5)
    assert sorted(seen) == [(0.001, 8), (0.001, 16), (0.01, 8), (0.01, 16)]
