"""source: image_folder: one subfolder of images per class, decoded and resized as batches need
them; a damaged or missing folder or image gets a located error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnctl.data.images import load_image_folder
from nnctl.errors import UserError
from nnctl.spec.validate import load_spec

SPEC = """
name: stripes
seed: 1
data:
  source: image_folder
  path: stripes
  image_size: [16, 16]
  color: grayscale
  preprocess: {scale: 1/255}
model:
  layers:
    - Conv2D: {filters: 8, kernel_size: 3, activation: relu}
    - MaxPooling2D: 2
    - Flatten
    - Dense: {units: 2, activation: softmax}
loss: sparse_categorical_crossentropy
optimizer: {name: adam, learning_rate: 0.01}
metrics: [accuracy]
train: {epochs: 12, batch_size: 16, validation: 0.1}
"""


def stripes(folder: Path, per_class: int = 40) -> Path:
    """Noisy 20x24 colour images with one bright horizontal or vertical stripe, PNG and JPEG."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("horizontal", "vertical"):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, (20, 24, 3)).astype(np.uint8)
            at = rng.integers(2, 17)
            if name == "horizontal":
                pixels[at : at + 3] = 250
            else:
                pixels[:, at : at + 3] = 250
            Image.fromarray(pixels).save(folder / name / f"{i:03d}.{'png' if i % 2 else 'jpg'}")
    return folder


def _load(tmp_path, text: str = SPEC):
    (tmp_path / "spec.yaml").write_text(text)
    spec, _ = load_spec(tmp_path / "spec.yaml")
    return load_image_folder(spec.data, tmp_path, "data")


def test_classes_are_the_subfolders_and_images_are_read_as_batches_ask(tmp_path):
    stripes(tmp_path / "stripes", per_class=5)
    raw = _load(tmp_path)
    assert raw.class_names == ["horizontal", "vertical"]
    assert raw.y.tolist() == [0] * 5 + [1] * 5
    assert raw.x.shape == (10, 16, 16, 1)
    batch = raw.x.read(np.array([7, 2]))
    assert batch.shape == (2, 16, 16, 1)
    assert batch.dtype == np.float32
    assert batch.max() > 200  # the stripe, at 0-255


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: None, r"data.path: no such file or directory"),
        (lambda root: root.write_text("not a folder"), r"data.path: .* is not a folder"),
        (lambda root: root.mkdir(), r"data.path: .* has no subfolders"),
        (lambda root: (root / "empty").mkdir(parents=True), r"data.path: no images"),
        (
            lambda root: stripes(root, 2) and (root / "vertical" / "bad.png").write_text("no"),
            r"data.path: .*bad.png is not a readable image",
        ),
    ],
)
def test_a_broken_folder_is_refused_at_its_key(tmp_path, damage, message):
    damage(tmp_path / "stripes")
    with pytest.raises(UserError, match=message):
        _load(tmp_path)


def test_a_test_folder_with_an_unknown_class_is_refused(tmp_path):
    stripes(tmp_path / "stripes", per_class=2)
    (tmp_path / "held_out" / "diagonal").mkdir(parents=True)
    text = SPEC.replace("path: stripes", "path: stripes\n  test_path: held_out")
    with pytest.raises(UserError, match=r"data.test_path: .* has classes the training folder "):
        _load(tmp_path, text)


@pytest.mark.slow
def test_a_cnn_learns_the_folder_and_predicts_a_folder_as_it_was_trained(tmp_path, cli):
    stripes(tmp_path / "stripes")
    (tmp_path / "spec.yaml").write_text(SPEC)
    run = tmp_path / "run"
    code, _, err = cli("train", tmp_path / "spec.yaml", "--out", run, "-q")
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= 0.9
    code, out, err = cli("predict", run, "-i", tmp_path / "stripes" / "vertical")
    assert code == 0, err
    labels = [line.split(",")[1] for line in out.splitlines()[1:]]
    assert labels.count("vertical") >= 0.9 * len(labels)
