"""The CLI end to end: train -> evaluate -> export -> reload, exit codes, the --json contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DIGITS_TRAINING, ROOT, SPECS, train_once

# With dropout (random state for the same-seed test) and three epochs.
TINY = DIGITS_TRAINING.replace(
    "    - Dense: {units: 16, activation: relu}\n",
    "    - Dense: {units: 32, activation: relu}\n    - Dropout: 0.1\n",
).replace("train: {epochs: 1, batch_size: 128}", "train: {epochs: 3, batch_size: 64}")

RUN_FILES = {
    "spec.yaml",
    "model.keras",
    "history.csv",
    "metrics.json",
    "run.json",
    "curves.png",
    "logs",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests that only read it."""
    return train_once(tmp_path_factory, "tiny", TINY)


@pytest.mark.slow
def test_run_directory_contents(trained):
    assert {p.name for p in trained.iterdir()} >= RUN_FILES
    history = (trained / "history.csv").read_text().splitlines()
    assert history[0].split(",") == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert len(history) == 1 + 3
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation", "test"}
    info = json.loads((trained / "run.json").read_text())
    assert info["seed"] == 11
    assert len(info["data_fingerprint"]) == 64
    assert {"nnctl", "tensorflow", "keras", "python"} <= set(info["environment"])
    assert (trained / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert any((trained / "logs").rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_evaluate_json_is_one_object_matching_metrics(trained, cli):
    code, out, _ = cli("evaluate", trained, "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"loss", "accuracy", "baseline_majority_class_accuracy", "classes"}
    assert 0.05 < result["baseline_majority_class_accuracy"] < 0.15  # ten classes, balanced
    saved = json.loads((trained / "metrics.json").read_text())["test"]
    assert {k: result[k] for k in saved} == pytest.approx(saved, abs=1e-6)
    classes = result["classes"]  # per class, in class order: scores and its confusion row
    assert list(classes) == [str(i) for i in range(10)]
    right = sum(c["predicted"][i] for i, c in enumerate(classes.values()))
    assert right / sum(c["samples"] for c in classes.values()) == pytest.approx(result["accuracy"])


@pytest.mark.slow
def test_evaluate_table_has_confusion_matrix(trained, cli):
    code, out, _ = cli("evaluate", trained, "--split", "validation")
    assert code == 0
    assert "accuracy" in out
    assert "confusion matrix" in out
    assert "recall" in out


@pytest.mark.slow
def test_export_saved_model_reproduces_model(trained, tmp_path, cli):
    import tensorflow as tf

    from nnctl.rundir import RunDir, load_run

    code, out, err = cli("export", trained, "--out", tmp_path / "sm")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "sm")
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    assert "serving_default" in loaded.signatures
    _, model = load_run(RunDir.open(trained))
    x = np.random.default_rng(0).uniform(0, 16, size=(20, 64)).astype("float32")  # raw pixels
    exported = next(iter(loaded.signatures["serving_default"](features=tf.constant(x)).values()))
    np.testing.assert_allclose(np.asarray(exported), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_export_keras_format(trained, tmp_path, cli):
    code, _out, err = cli("export", trained, "--format", "keras", "--out", tmp_path / "m.keras")
    assert code == 0, err
    assert (tmp_path / "m.keras").is_file()
    code, _, err = cli("export", trained, "--format", "keras", "--out", tmp_path / "m.bin")
    assert code == 2
    assert ".keras" in err


@pytest.mark.slow
def test_quickstart_reaches_stated_accuracy(tmp_path, cli):
    """README promises at least 0.97 test accuracy for the offline quick start."""
    code, _out, err = cli(
        "train", ROOT / "specs" / "quickstart.yaml", "--out", tmp_path / "q", "--quiet"
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "q" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.97


@pytest.mark.slow
def test_same_seed_same_result(tmp_path, write_spec, cli):
    spec = write_spec(TINY)
    for name in ("a", "b"):
        assert cli("train", spec, "--out", tmp_path / name, "--quiet")[0] == 0
    a, b = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    assert a == b


@pytest.mark.slow
def test_plain_progress_line_per_epoch(tmp_path, write_spec, cli):
    code, out, err = cli("train", write_spec(TINY), "--out", tmp_path / "r")
    assert code == 0
    assert [line.split()[:2] for line in err.splitlines() if line.startswith("epoch")] == [
        ["epoch", "1/3"], ["epoch", "2/3"], ["epoch", "3/3"]
    ]  # fmt: skip
    assert out.strip() == str(tmp_path / "r")


@pytest.mark.slow
def test_summary_prints_layers_and_totals(cli):
    code, out, _ = cli("summary", ROOT / "specs" / "quickstart.yaml")
    assert code == 0
    assert "preprocess_scale" in out
    assert "Dense" in out
    assert "total parameters: 8,970" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["validate", "missing.yaml"], "missing.yaml: no such file"),
        (["train", "missing.yaml"], "missing.yaml: no such file"),
        (["evaluate", "no-such-run"], "no such run directory"),
        (["export", "no-such-run"], "no such run directory"),
        (["summary", "missing.yaml"], "no such file"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(tmp_path, monkeypatch, cli, args, fragment):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(*args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


def test_invalid_spec_reports_located_errors(write_spec, cli):
    spec = write_spec(TINY.replace("units: 32", "units: -32").replace("epochs: 3", "epochs: 0"))
    code, out, err = cli("train", spec)
    assert code == 2
    assert f"{spec}:6:" in err  # the first layer
    assert f"{spec}:11:" in err  # train
    assert "Traceback" not in err
    assert out == ""


def test_validate_ok_lines(cli):
    code, out, _ = cli("validate", *sorted((ROOT / "specs").glob("*.yaml")))
    assert code == 0
    assert len(out.strip().splitlines()) == len(list((ROOT / "specs").glob("*.yaml")))
    assert all(line.endswith(": OK") for line in out.strip().splitlines())


@pytest.mark.slow
def test_existing_run_directory_is_refused(tmp_path, write_spec, cli):
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    code, _, err = cli("train", write_spec(TINY), "--out", run)
    assert code == 2
    assert "not empty" in err
    assert (run / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_internal_error_exits_1_and_debug_shows_traceback(tmp_path, write_spec, cli, monkeypatch):
    import nnctl.training.run

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(nnctl.training.run, "train", broken)
    code, _, err = cli("train", write_spec(TINY), "--out", tmp_path / "r")
    assert code == 1
    assert "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err
    code, _, err = cli("--debug", "train", write_spec(TINY), "--out", tmp_path / "r2")
    assert code == 1
    assert "Traceback" in err


@pytest.mark.slow
def test_diverging_training_is_reported(tmp_path, write_spec, cli):
    text = TINY.replace(
        "metrics: [accuracy]", "metrics: [accuracy]\noptimizer: {name: sgd, learning_rate: 1.0e+30}"
    )
    code, _, err = cli("train", write_spec(text), "--out", tmp_path / "r", "--quiet")
    assert code == 2
    assert "training diverged" in err
    assert "epoch 1" in err


def test_help_and_validate_import_no_tensorflow():
    """Importing TensorFlow takes seconds: help and plain validation of every shipped spec stay
    without it (and without Keras and matplotlib)."""
    code = (
        "import sys\n"
        "from nnctl.cli import main\n"
        "for args in (['--help'], ['validate', *sys.argv[1:]]):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, exit.code\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, SPECS)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("command", "metavar"),
    [("evaluate", "RUN_DIR"), ("export", "RUN_DIR"), ("resume", "RUN_DIR"), ("train", "SPEC"),
     ("predict", "RUN_DIR|EXPORT"), ("validate", "SPEC")],
)  # fmt: skip
def test_usage_lines_name_arguments_as_the_readme_does(cli, command, metavar):
    code, out, _ = cli(command, "--help")
    usage = out.splitlines()[0]
    assert code == 0, usage
    assert metavar in usage, usage
    assert "_path" not in usage, usage
