"""What a tune leaves in its directory: ``results.csv`` (a row per trial), ``best.yaml`` (the
full spec of the best finished trial), Optuna's plots as PNG, and TensorBoard HParams."""

from __future__ import annotations

import csv
import io
import shutil
import warnings
from pathlib import Path

from nnctl.rundir import SPEC, write_text
from nnctl.spec.schema import SearchSpec
from nnctl.tune.trial import PRUNED_EPOCH
from nnctl.tune.worker import EPOCHS, SECONDS, SURPLUS

RESULTS, BEST, PLOTS, HPARAMS = "results.csv", "best.yaml", "plots", "hparams"


def trials(study) -> list:
    """The study's trials in order, surplus ones (never run) left out."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS)]


def table(study, search: SearchSpec) -> tuple[list[str], list[list]]:
    """(headers, a row per trial): trial, state (pruned with its epoch), the metric, each
    parameter, epochs, seconds."""
    keys = list(search.parameters)
    headers = ["trial", "state", search.metric, *keys, "epochs", "seconds"]
    rows = []
    for t in trials(study):
        value = "" if t.value is None else t.value
        params = [t.params.get(key, "") for key in keys]
        attrs = t.user_attrs
        rows.append(
            [t.number, _state(t), value, *params, attrs.get(EPOCHS, ""), attrs.get(SECONDS, "")]
        )
    return headers, rows


def _state(trial) -> str:
    state = trial.state.name.lower()
    pruned = trial.user_attrs.get(PRUNED_EPOCH)
    return f"pruned at epoch {pruned}" if state == "pruned" and pruned else state


def write_results(study, search: SearchSpec, tune_dir: Path) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    headers, rows = table(study, search)
    writer.writerows([headers, *rows])
    write_text(tune_dir / RESULTS, text.getvalue())


def best(study):
    """The best complete trial, or None (pruned, failed and running trials never count)."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    done = [t for t in done if t.value is not None]
    if not done:
        return None
    pick = max if study.direction.name == "MAXIMIZE" else min
    return pick(done, key=lambda t: t.value)


def write_best(study, search: SearchSpec, tune_dir: Path, run_dir) -> object:
    """best.yaml: the best trial's resolved spec (its values, its seed), with a header."""
    trial = best(study)
    if trial is None:
        return None
    resolved = (run_dir(trial.number) / SPEC).read_text()
    body = "\n".join(line for line in resolved.splitlines() if not line.startswith("#"))
    header = (
        f"# The best of nnctl tune's {len(trials(study))} trials: trial {trial.number} "
        f"({run_dir(trial.number)}), {search.metric} = {trial.value:.6g}.\n"
        f"# Values: {', '.join(f'{k}={v!r}' for k, v in trial.params.items())}\n"
    )
    write_text(tune_dir / BEST, header + body + "\n")
    return trial


def write_plots(study, search: SearchSpec, tune_dir: Path) -> list[Path]:
    """Optuna's optimisation history, parameter importances and a slice per parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    folder = tune_dir / PLOTS
    folder.mkdir(exist_ok=True)
    figures = {"history": lambda: plots.plot_optimization_history(study)}
    figures["importances"] = lambda: plots.plot_param_importances(study)
    for key in search.parameters:
        figures[f"slice-{key}"] = lambda key=key: plots.plot_slice(study, params=[key])
    written = []
    for name, draw in figures.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = draw()
            except (ValueError, RuntimeError):  # too few finished trials for this plot
                continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        target = folder / f"{_file_name(name)}.png"
        figure.savefig(target, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(target)
    return written


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_hparams(study, search: SearchSpec, tune_dir: Path) -> None:
    """TensorBoard's HParams dashboard: one run per finished trial under TUNE_DIR/hparams."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    folder = tune_dir / HPARAMS
    shutil.rmtree(folder, ignore_errors=True)  # written afresh from the study each time
    metric = search.metric
    params = [hp.HParam(key) for key in search.parameters]
    with tf.summary.create_file_writer(str(folder)).as_default():
        hp.hparams_config(hparams=params, metrics=[hp.Metric(metric)])
    for t in trials(study):
        if t.value is None or t.state.name not in ("COMPLETE", "PRUNED"):
            continue
        with tf.summary.create_file_writer(str(folder / f"trial-{t.number:04d}")).as_default():
            hp.hparams({key: _hparam(v) for key, v in t.params.items()}, trial_id=str(t.number))
            tf.summary.scalar(metric, t.value, step=1)


def _hparam(value):
    return "null" if value is None else value
