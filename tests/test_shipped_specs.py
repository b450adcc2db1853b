"""Every shipped spec trains, evaluates and exports on a small offline subset of its data."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import SPECS
from rich.console import Console
from text_data import write_csv

from nnctl.model_safety import check_saved_model
from nnctl.spec.compose import load_composed

pytestmark = pytest.mark.slow  # trains every spec; RichProgress imports Keras

FASHION = Path("/usr/share/datasets/fashion-mnist")
DOWNLOADS = {"mnist", "cifar10", "imdb"}


def small_copy(spec: Path, tmp_path: Path) -> Path:
    """The spec at a tiny size; MNIST (a download) becomes Fashion-MNIST, which has its shape."""
    data, _ = load_composed(spec)  # a spec that extends another, with the other merged in
    if "env" in data:  # actor_critic: a few short episodes instead of data
        data["env"]["max_episode_steps"] = 30
        data["agent"] |= {"episodes": 3, "evaluation_episodes": 2}
        (tmp_path / spec.name).write_text(yaml.safe_dump(data))
        return tmp_path / spec.name
    if (data.get("data") or {}).get("text"):  # IMDB's text downloads: generated reviews instead
        write_csv(tmp_path / "reviews.csv", 200)
        data["data"] = {"source": "csv", "path": "reviews.csv", "target": "label", "text": True}
        data["model"]["layers"][0]["TextVectorization"]["output_sequence_length"] = 32
    if data["data"]["source"] in DOWNLOADS or data["data"]["source"] == "fashion_mnist":
        if data["data"]["source"] not in ("mnist", "fashion_mnist"):
            pytest.skip(f"{spec.name}: {data['data']['source']} needs a download")
        if not FASHION.is_dir():
            pytest.skip(
                "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
            )
        data["data"]["source"] = "fashion_mnist"
        data["data"]["max_samples"] = 600
    if data["data"]["source"] in ("copy_task", "associative_recall"):
        data["data"]["n_samples"] = 200  # a DNC step is slow on a CPU
    if data["data"]["source"] in ("addition", "dates"):
        data["data"]["n_samples"] = 600  # seq2seq
    data["train"]["epochs"] = min(data["train"].get("epochs", 10), 2)
    if (data.get("gan") or {}).get("scorer"):
        data["gan"]["scorer"]["epochs"] = 1
    path = tmp_path / spec.name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_shipped_spec_runs(spec, tmp_path, cli):
    small = small_copy(spec, tmp_path)
    run = tmp_path / "run"
    code, _, err = cli("train", small, "--out", run, "--quiet")
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics.get("test") or metrics.get("evaluation")  # an agent plays evaluation episodes
    code, out, err = cli("evaluate", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    # a GAN's discriminator has the loss; an agent reports its evaluation episodes' returns
    assert {"loss", "d_loss", "mean_return"} & set(report)
    if "sunspots" in spec.stem:  # README's naive "next = last" forecast of the same test years
        assert report["baseline_naive_forecast_mse"] == pytest.approx(1101, abs=1)
    code, _, err = cli("export", run)
    assert code == 0, err
    assert (run / "export" / "saved_model.pb").is_file()
    for export in run.glob("export*"):  # nnctl's own exports pass the check predict applies
        assert list(check_saved_model(export)) == [], export


def test_rich_progress_draws_each_epoch():
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=120)
    from nnctl.training.progress import RichProgress

    progress = RichProgress(epochs=2, steps=5, console=console)
    progress.on_train_begin()
    for epoch in range(2):
        progress.on_epoch_begin(epoch)
        for batch in range(5):
            progress.on_train_batch_end(batch, {"loss": 1.0 / (batch + 1)})
        progress.on_epoch_end(epoch, {"loss": 0.25, "val_loss": 0.5})
    progress.on_train_end()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    assert "epoch 1/2" in text
    assert "epoch 2/2" in text
    assert "val_loss=0.5" in text
