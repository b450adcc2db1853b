"""The workbench (issue 14): --version, nnctl runs, nnctl compare, nnctl init, and the outcome
the error boundary records for nnctl runs. Most tests read fabricated run directories, so only
those marked slow import TensorFlow."""

from __future__ import annotations

import fcntl
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

from nnctl.cli.common import boundary, options
from nnctl.errors import Diverged, UserError
from nnctl.workbench.compare import ABSENT, differing
from nnctl.workbench.init import TEMPLATES

SPEC = {
    "name": "tiny",
    "data": {"source": "digits", "preprocess": {"scale": 0.0625}},
    "model": {"layers": [{"Dense": {"units": 32}}, {"Dense": {"units": 10}}]},
    "optimizer": {"name": "adam", "learning_rate": 0.001},
}


def fake_run(
    folder: Path,
    name: str,
    *,
    started: str,
    val_accuracy: float | None = None,
    sealed: bool = False,
    outcome: str | None = None,
    units: int = 32,
) -> Path:
    """A run directory as training leaves it: history.csv per epoch, and when ``sealed`` the
    final metrics.json and the manifest."""
    run = folder / name
    (run / "checkpoints").mkdir(parents=True)
    spec = json.loads(json.dumps(SPEC))
    spec["model"]["layers"][0]["Dense"]["units"] = units
    (run / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    info = {"spec": "spec.yaml", "seed": 42, "started": started}
    if outcome:
        info["outcome"] = {"status": outcome, "at": started, "message": "what happened"}
    (run / "run.json").write_text(json.dumps(info))
    if val_accuracy is not None:
        rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
        for e in (0, 1):
            rows.append(f"{e},0.5,{1.5 - e / 10},{val_accuracy - 0.1 * (1 - e)},{1.2 - e / 10}")
        (run / "history.csv").write_text("\n".join(rows) + "\n")
    if sealed:
        metrics = {
            "train": {"accuracy": 0.9, "loss": 0.3},
            "validation": {"accuracy": val_accuracy, "loss": 1.0 - val_accuracy},
            "test": {"accuracy": val_accuracy - 0.01, "loss": 1.1 - val_accuracy},
        }
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / "manifest.json").write_text(json.dumps({"sha256": {}}))
    return run


@pytest.fixture
def runs_dir(tmp_path):
    """Five runs, one per status; ``running`` holds its lock while the test runs."""
    folder = tmp_path / "runs"
    fake_run(folder, "good", started="2026-01-01T10:00:00+00:00", val_accuracy=0.9, sealed=True)
    fake_run(
        folder, "better", started="2026-01-01T11:00:00+00:00", val_accuracy=0.95, sealed=True,
        units=64,
    )  # fmt: skip
    fake_run(folder, "stopped", started="2026-01-01T12:00:00+00:00", val_accuracy=0.5)
    fake_run(folder, "nan", started="2026-01-01T13:00:00+00:00", outcome="diverged")
    fake_run(folder, "broken", started="2026-01-01T14:00:00+00:00", outcome="failed")
    running = fake_run(folder, "busy", started="2026-01-01T15:00:00+00:00", val_accuracy=0.2)
    (folder / "notes").mkdir()  # not a run: left out
    with open(running / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder


# ------------------------------------------------------------------------------ --version
def test_version_names_nnctl_tensorflow_keras_and_python(cli):
    code, out, _ = cli("--version")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "nnctl", "tensorflow", "keras", "python"
    ]  # fmt: skip


def test_workbench_commands_import_no_tensorflow(runs_dir, tmp_path):
    """--version, runs, compare and init answer without importing TensorFlow (seconds)."""
    code = (
        "import sys\n"
        "from nnctl.cli import main\n"
        f"runs = {str(runs_dir)!r}\n"
        "for args in (['--version'], ['runs', runs], ['compare', runs + '/good', runs + '/better'],"
        f" ['init', {str(tmp_path / 'new.yaml')!r}, '--source', 'iris']):\n"
        "    try:\n"
        "        assert main(args) == 0, args\n"
        "    except SystemExit as exit:\n"
        "        assert not exit.code, (args, exit.code)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------------- runs
def test_runs_status_read_from_each_run_directory(runs_dir, cli):
    code, out, _ = cli("runs", runs_dir, "--json")
    assert code == 0
    listed = {r["name"]: r for r in json.loads(out)}
    assert {name: r["status"] for name, r in listed.items()} == {
        "good": "finished", "better": "finished", "stopped": "interrupted", "nan": "diverged",
        "broken": "failed", "busy": "running",
    }  # fmt: skip
    assert listed["good"]["epochs"] == 2
    assert listed["good"]["metrics"]["val_accuracy"] == 0.9
    assert listed["good"]["metrics"]["test_loss"] == pytest.approx(0.2)
    assert listed["stopped"]["metrics"]["val_accuracy"] == pytest.approx(0.5)  # its last epoch
    assert [r["name"] for r in json.loads(out)][:2] == ["good", "better"]  # oldest first


@pytest.mark.parametrize(
    ("key", "order"),
    [("val_accuracy", ["better", "good", "stopped", "busy"]),  # highest first
     ("val_loss", ["better", "good", "stopped", "busy"]),  # lowest first
     ("name", ["better", "broken", "busy", "good", "nan", "stopped"])],
)  # fmt: skip
def test_runs_sort_puts_the_best_first(runs_dir, cli, key, order):
    code, out, _ = cli("runs", runs_dir, "--json", "--sort", key)
    assert code == 0
    assert [r["name"] for r in json.loads(out)][: len(order)] == order


def test_runs_plain_table_when_not_a_terminal(runs_dir, cli):
    code, out, _ = cli("runs", runs_dir, "--sort", "val_accuracy")
    lines = out.splitlines()
    assert code == 0
    assert len(lines) == 1 + 6
    assert lines[0].split()[:5] == ["name", "started", "status", "epochs", "val_accuracy"]
    assert lines[1].split()[0] == "better"
    assert "finished" in lines[1]
    assert not any(c in out for c in "│┃━─")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--sort", "val_acc"], "did you mean 'val_accuracy'"),
     (["--sort", "speed"], "there are: accuracy, epochs")],
)  # fmt: skip
def test_runs_unknown_sort_key_is_a_clear_error(runs_dir, cli, args, fragment):
    code, out, err = cli("runs", runs_dir, *args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert out == ""


def test_runs_of_a_missing_folder_exit_2(tmp_path, cli):
    code, _, err = cli("runs", tmp_path / "nothing")
    assert code == 2
    assert "no such folder of runs" in err


def test_runs_of_an_empty_folder_is_an_empty_list(tmp_path, cli):
    assert cli("runs", tmp_path, "--json")[:2] == (0, "[]\n")


# ---------------------------------------------------------------- the outcome of a run
def _raising(exc: BaseException, run: Path):
    def command():
        options.run = run
        raise exc

    return boundary(command)


@pytest.mark.parametrize(
    ("exc", "status"),
    [(Diverged("training diverged: loss became nan"), "diverged"),
     (RuntimeError("boom"), "failed"),
     (UserError("a refusal before training"), None)],
)  # fmt: skip
def test_the_error_boundary_records_how_training_ended(tmp_path, exc, status):
    import typer

    run = fake_run(tmp_path, "r", started="2026-01-01T10:00:00+00:00")
    with pytest.raises(typer.Exit):
        _raising(exc, run)()
    outcome = json.loads((run / "run.json").read_text()).get("outcome")
    assert (outcome or {}).get("status") == status
    if status:
        assert str(exc) in outcome["message"]


def test_a_sealed_run_is_never_rewritten_by_the_boundary(tmp_path):
    import typer

    run = fake_run(tmp_path, "r", started="2026-01-01T10:00", val_accuracy=0.9, sealed=True)
    before = (run / "run.json").read_text()
    with pytest.raises(typer.Exit):
        _raising(RuntimeError("boom"), run)()
    assert (run / "run.json").read_text() == before


# ------------------------------------------------------------------------------- compare
@pytest.mark.parametrize(
    ("specs", "expected"),
    [([{"a": 1, "b": 2}, {"a": 1, "b": 3}], {"b": [2, 3]}),
     ([{"a": {"x": [1, 2]}}, {"a": {"x": [1, 5]}}], {"a.x[1]": [2, 5]}),
     ([{"l": [1]}, {"l": [1, 2]}], {"l": [[1], [1, 2]]}),
     ([{"a": 1}, {}], {"a": [1, ABSENT]}),
     ([{"a": 1}, {"a": 1}, {"a": 1}], {})],
)  # fmt: skip
def test_differing_keeps_only_the_keys_whose_values_differ(specs, expected):
    assert differing(specs) == expected


def test_compare_json_marks_the_best_and_lists_the_differences(runs_dir, cli):
    code, out, _ = cli("compare", runs_dir / "good", runs_dir / "better", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["metrics"]["val_accuracy"] == {
        "values": {"good": 0.9, "better": 0.95}, "best": ["better"]
    }  # fmt: skip
    assert result["metrics"]["val_loss"]["best"] == ["better"]  # lowest loss
    assert result["metrics"]["accuracy"]["best"] == ["good", "better"]  # a tie
    assert result["spec_differences"] == {
        "model.layers[0].Dense.units": {"good": 32, "better": 64}
    }  # fmt: skip


def test_compare_table_marks_the_best_value(runs_dir, cli):
    code, out, _ = cli("compare", runs_dir / "good", runs_dir / "better", runs_dir / "stopped")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("val_accuracy"))
    assert row.split() == ["val_accuracy", "0.9000", "0.9500", "*", "0.5000"]
    assert "model.layers[0].Dense.units" in out


def test_compare_plot_overlays_the_curves_in_one_png(runs_dir, tmp_path, cli):
    target = tmp_path / "curves" / "both.png"
    code, _, err = cli("compare", runs_dir / "good", runs_dir / "better", "--plot", target)
    assert code == 0
    assert str(target) in err
    assert target.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [(["good"], "two run directories or more"),
     (["good", "notes"], "not a run directory"),
     (["good", "better", "--plot", "x.txt"], "ending in .png")],
)  # fmt: skip
def test_compare_mistakes_exit_2(runs_dir, cli, monkeypatch, extra, fragment):
    monkeypatch.chdir(runs_dir)
    code, _, err = cli("compare", *extra)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------- init
def write_csv(path: Path, target: str = "words", rows: int = 120) -> Path:
    """Four numeric features, a text column, and a target: words, few integers or numbers."""
    rng = random.Random(0)
    lines = ["height,width,depth,weight,colour,label"]
    for _ in range(rows):
        x = [round(rng.uniform(0, 10), 3) for _ in range(4)]
        label = {
            "words": "big" if sum(x) > 20 else "small",
            "integers": str(int(x[0] > 5) + int(x[1] > 5)),
            "numbers": f"{2 * x[0] - x[1] + rng.gauss(0, 0.1):.3f}",
        }[target]
        lines.append(",".join([*map(str, x), rng.choice(["red", "blue"]), label]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("target", "fragments"),
    [("words", ["target: label  # 2 classes: big, small", "units: 2, activation: softmax",
                "sparse_categorical_crossentropy"]),
     ("integers", ["3 classes: 0, 1, 2", "units: 3, activation: softmax"]),
     ("numbers", ["a number: regression", "Dense: {units: 1}", "loss: mse"])],
)  # fmt: skip
def test_init_reads_the_task_from_the_target_column(tmp_path, cli, target, fragments):
    data = write_csv(tmp_path / "data.csv", target)
    spec = tmp_path / "spec.yaml"
    code, out, err = cli("init", spec, "--data", data, "--target", "label")
    assert code == 0, err
    assert out.strip() == str(spec)
    text = spec.read_text()
    for fragment in fragments:
        assert fragment in text
    assert "features: [height, width, depth, weight]  # left out: colour" in text
    assert "standardize: true" in text
    assert "path: data.csv" in text
    assert cli("validate", spec)[0] == 0


def test_init_refuses_to_overwrite(tmp_path, cli):
    spec = tmp_path / "spec.yaml"
    spec.write_text("mine")
    code, _, err = cli("init", spec, "--source", "digits")
    assert code == 2
    assert "never overwrites" in err
    assert spec.read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [([], "init needs the data: --data FILE.csv --target COLUMN, or --source NAME"),
     (["--data", "{csv}"], "needs --target COLUMN, the column to predict (columns: height"),
     (["--data", "{csv}", "--target", "lable"], "did you mean 'label'"),
     (["--data", "{csv}", "--target", "label", "--task", "regression"], "holds words"),
     (["--data", "{dir}/missing.csv", "--target", "x"], "cannot read it"),
     (["--source", "digitz"], "not a source init knows"),
     (["--source", "iris", "--task", "regression"], "iris is a classification data set")],
)  # fmt: skip
def test_init_in_a_script_never_asks_and_says_what_is_missing(tmp_path, cli, args, fragment):
    csv_path = write_csv(tmp_path / "data.csv")
    args = [a.format(csv=csv_path, dir=tmp_path) for a in args]
    code, _, err = cli("init", tmp_path / "spec.yaml", *args)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert not (tmp_path / "spec.yaml").exists()


def test_init_regression_on_many_whole_numbers_is_refused_with_the_reason(tmp_path, cli):
    data = tmp_path / "counts.csv"
    data.write_text("x,count\n" + "".join(f"{i / 7:.3f},{i * 3}\n" for i in range(60)))
    code, _, err = cli("init", tmp_path / "spec.yaml", "--data", data, "--target", "count")
    assert code == 2
    assert "reads whole-number targets" in err
    assert "--task classification" in err


def test_init_asks_on_a_terminal(tmp_path, cli, monkeypatch):
    data = write_csv(tmp_path / "data.csv")
    answers = iter([str(data), "label", "cnn"])
    monkeypatch.setattr("nnctl.cli.init._interactive", lambda: True)
    monkeypatch.setattr("rich.prompt.Prompt.ask", lambda *a, **k: next(answers))
    code, _, err = cli("init", tmp_path / "spec.yaml")
    text = (tmp_path / "spec.yaml").read_text()
    assert code == 0, err
    assert "Conv1D" in text
    assert "target: label" in text


SOURCES = ["digits", "iris", "make_regression", "sunspots"]
DATA = ["csv-words", "csv-numbers", *SOURCES]


def init_template(tmp_path: Path, cli, template: str, data: str) -> Path:
    """``nnctl init`` of ``template`` for a generated CSV (``csv-TARGET``) or a source."""
    spec = tmp_path / "spec.yaml"
    if data.startswith("csv-"):
        csv_path = write_csv(tmp_path / "data.csv", data.removeprefix("csv-"))
        args = ["--data", csv_path, "--target", "label"]
    else:
        args = ["--source", data]
    assert cli("init", spec, *args, "--template", template)[0] == 0
    return spec


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("data", DATA)
def test_every_template_validates(tmp_path, cli, template, data):
    spec = init_template(tmp_path, cli, template, data)
    code, _, err = cli("validate", spec)
    assert code == 0, err + spec.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("data", DATA)
def test_every_template_builds(tmp_path, cli, template, data):
    spec = init_template(tmp_path, cli, template, data)
    code, _, err = cli("validate", "--build", spec)
    assert code == 0, err + spec.read_text()


# ------------------------------------------------------------------ a day, end to end
@pytest.mark.slow
def test_a_day_csv_init_train_two_variants_runs_compare(tmp_path, cli, monkeypatch):
    """CSV -> init -> train two variants -> runs -> compare, as README walks through it."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "shapes.csv", "words", rows=200)
    assert cli("init", "shapes.yaml", "--data", "shapes.csv", "--target", "label")[0] == 0
    quick = ["--set", "train.epochs=3", "-q"]
    assert cli("train", "shapes.yaml", "--out", "runs/base", *quick)[0] == 0
    wide = ["--set", "model.layers[0].Dense.units=128"]
    assert cli("train", "shapes.yaml", "--out", "runs/wide", *quick, *wide)[0] == 0
    code, out, _ = cli("runs", "--json", "--sort", "val_accuracy")
    listed = json.loads(out)
    assert code == 0
    assert {r["name"] for r in listed} == {"base", "wide"}
    assert all(r["status"] == "finished" and r["epochs"] == 3 for r in listed)
    code, out, _ = cli("compare", "runs/base", "runs/wide", "--json", "--plot", "both.png")
    assert code == 0
    assert (tmp_path / "both.png").is_file()
    assert json.loads(out)["spec_differences"] == {
        "model.layers[0].Dense.units": {"base": 64, "wide": 128}
    }  # fmt: skip


@pytest.mark.slow
def test_a_diverged_run_is_listed_as_diverged(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init", "spec.yaml", "--source", "iris")[0] == 0
    blow_up = ["--set", "optimizer={name: sgd, learning_rate: 1.0e+30}", "--set", "train.epochs=2"]
    assert cli("train", "spec.yaml", "--out", "runs/nan", "-q", *blow_up)[0] == 2
    code, out, _ = cli("runs", "--json")
    assert code == 0
    assert json.loads(out)[0]["status"] == "diverged"
