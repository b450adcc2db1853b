"""What a ``train.mode: gan`` run does around the training loop: the model and data it trains on,
the scorer trained before the first step, a grid of samples every epoch, and the reference
figures ``nnctl evaluate`` sets the generated samples' quality against.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib
import numpy as np

from nnctl.build.optimizer import make_optimizer
from nnctl.data import Dataset, Split
from nnctl.keras_env import import_keras, set_seed
from nnctl.modes.gan.build import build_gan, build_generator, compile_gan, image_shape, noise_batch
from nnctl.rundir import SAMPLES, atomic_path
from nnctl.spec.schema import Spec

matplotlib.use("Agg")
import matplotlib.pyplot as plt

keras = import_keras()

RANGE_SAMPLES = 1024  # real samples whose value range the grids are drawn in
GRID_PIXELS = 512  # grids are enlarged to about this width


def prepare(spec: Spec, dataset: Dataset, steps_per_epoch: int):
    """The compiled Gan, with every variable created."""
    if spec.gan.scorer is not None and dataset.num_classes is None:
        raise spec.error(
            ("gan", "scorer"),
            "the scorer is a classifier of the real data, but this data has no class labels",
        )
    model = build_gan(spec, dataset.train.x, dataset.num_classes)
    compile_gan(model, spec, steps_per_epoch)
    return model


def train_scorer(spec: Spec, model, dataset: Dataset) -> None:
    """Fit the scorer to the real training split (preprocessed) before the GAN's first step."""
    if model.scorer is None:
        return
    scorer, train = spec.gan.scorer, dataset.train
    judge = keras.Model(model.preprocess.inputs, model.scorer(model.preprocess.outputs[0]))
    steps = math.ceil(len(train.x) / scorer.batch_size)
    one_hot = train.y.ndim > 1
    judge.compile(
        optimizer=make_optimizer(scorer.optimizer, steps, scorer.epochs),
        loss="categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    _say(f"training the scorer on the real training split ({scorer.epochs} epochs)")
    judge.fit(train.x, train.y, batch_size=scorer.batch_size, epochs=scorer.epochs, verbose=0)
    parts = {"train": train, "validation": dataset.validation}
    accuracy = {
        name: judge.evaluate(part.x, part.y, verbose=0, return_dict=True)["accuracy"]
        for name, part in parts.items()
        if part is not None and len(part.x)
    }
    _say("scorer accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in accuracy.items()))


def callbacks(spec: Spec, model, dataset: Dataset, run_path: Path) -> list:
    """The sample grid, written after every epoch."""
    real = model.preprocess.predict(dataset.train.x[:RANGE_SAMPLES], verbose=0)
    grid = spec.gan.samples
    shape = image_shape(spec, real.shape[1:])
    noise = noise_batch(spec, grid.rows * grid.columns)
    span = (float(real.min()), float(real.max()))
    return [SampleGrid(run_path / SAMPLES, noise, grid.columns, shape, span)]


class SampleGrid(keras.callbacks.Callback):
    """The generator's samples from fixed noise, after each epoch: ``epoch-NNNN.png``."""

    def __init__(self, directory: Path, noise, columns: int, shape: tuple, span: tuple):
        super().__init__()
        self.directory, self.noise, self.columns = directory, noise, columns
        self.shape, self.span = shape, span

    def on_epoch_end(self, epoch, logs=None):
        samples = np.asarray(self.model.generator(self.noise, training=False))
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.directory / f"epoch-{epoch + 1:04d}.png") as tmp:
            save_grid(samples, self.columns, self.shape, self.span, tmp)


def save_grid(samples: np.ndarray, columns: int, shape: tuple, span: tuple, target: Path) -> None:
    """Samples drawn as images of ``shape``, ``columns`` to a row, values ``span`` -> black..white,
    one pixel of grey between them, enlarged to about GRID_PIXELS wide."""
    images = samples.reshape((len(samples), *shape))
    images = images[..., None] if images.ndim == 3 else images  # (n, height, width, channels)
    low, high = span
    images = np.clip((images - low) / max(high - low, 1e-12), 0.0, 1.0)
    count, height, width, channels = images.shape
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (height + 1) + 1, columns * (width + 1) + 1, channels), 0.5)
    for index, image in enumerate(images):
        top, left = 1 + (index // columns) * (height + 1), 1 + (index % columns) * (width + 1)
        canvas[top : top + height, left : left + width] = image
    scale = max(1, GRID_PIXELS // canvas.shape[1])
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    if channels == 1:
        plt.imsave(target, canvas[..., 0], cmap="gray", vmin=0.0, vmax=1.0, format="png")
    else:
        plt.imsave(target, canvas, format="png")


# ------------------------------------------------------------------------------- evaluation
def quality(scorer, samples: np.ndarray, batch_size: int) -> dict[str, float]:
    """The scorer's view of ``samples``: confidence, class entropy, classifier score."""
    from nnctl.layers.gan import SampleQuality

    probabilities = scorer.predict(samples, batch_size=batch_size, verbose=0)
    metric = SampleQuality(probabilities.shape[-1])
    metric.update_state(probabilities)
    return {name: float(value) for name, value in metric.result().items()}


def baselines(spec: Spec, model, part: Split) -> dict[str, float]:
    """What the generated samples' quality is measured against, on ``part``: the scorer's
    accuracy and figures on its real samples, and the figures of as many samples from the
    untrained generator (the one training started from: rebuilt from the seed)."""
    if model.scorer is None:
        return {}
    batch = spec.train.batch_size
    real = model.preprocess.predict(part.x, batch_size=batch, verbose=0)
    predicted = model.scorer.predict(real, batch_size=batch, verbose=0).argmax(-1)
    truth = part.y.argmax(-1) if part.y.ndim > 1 else part.y.reshape(-1)
    figures = {"scorer_accuracy": float(np.mean(predicted == truth))}
    figures |= {f"real_{k}": v for k, v in quality(model.scorer, real, batch).items()}
    set_seed(spec.seed, spec.train.deterministic)
    untrained = build_generator(spec, real.shape[1:])
    fakes = untrained.predict(noise_batch(spec, len(real)), batch_size=batch, verbose=0)
    figures |= {f"untrained_{k}": v for k, v in quality(model.scorer, fakes, batch).items()}
    return figures


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
