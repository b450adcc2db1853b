"""``train.mode: gan``: a generator and a discriminator trained against each other through the
checkpointed loop, a frozen scorer of generated samples, a grid of samples every epoch; the
export is the generator.

The mode's home: ``build`` (the spec's networks as Keras models, joined in a ``Gan``),
``training`` (the scorer, sample grids, quality figures). The ``Gan`` model itself, with its
train step, is a registered Keras class in the layers layer (``nnctl/layers/gan.py``), so that
a saved model loads in safe mode; its spec rules are ``nnctl/spec/gan.py``.
"""

from __future__ import annotations

import dataclasses

from nnctl.modes.base import ExportTarget, Mode


class Gan(Mode):
    name = "gan"
    advice = (
        "Lower gan.generator_optimizer.learning_rate and "
        "gan.discriminator_optimizer.learning_rate, or clip their gradients (clipnorm)"
    )

    def build(self, spec, dataset, vocab, steps_per_epoch):
        from nnctl.modes.gan import training as gan

        model = gan.prepare(spec, dataset, steps_per_epoch)
        return model, self.prepare(spec, dataset, model)

    def prepare(self, spec, dataset, model):
        """The task is generation: class labels serve only the scorer."""
        from nnctl.task import Task

        return dataclasses.replace(dataset, task=Task.GENERATION)

    def begin(self, spec, model, dataset):
        from nnctl.modes.gan import training as gan

        gan.train_scorer(spec, model, dataset)

    def callbacks(self, spec, model, dataset, run_path):
        from nnctl.modes.gan import training as gan

        return gan.callbacks(spec, model, dataset, run_path)

    def placeholder(self, spec, base_dir):
        """Generator, discriminator and scorer, on the data's sample shape."""
        import numpy as np

        from nnctl.build.model import placeholder_data
        from nnctl.modes.gan.build import build_gan

        data = placeholder_data(spec, base_dir)
        if data is None:
            return None
        return build_gan(spec, np.zeros((1, *data.shape), dtype=data.dtype), data.classes)

    def add_figures(self, report, spec, model, data):
        """The scorer on real samples and on an untrained generator's."""
        from nnctl.modes.gan import training as gan

        report.baselines |= gan.baselines(spec, model, data["part"])

    def report_sections(self, spec, model, run, evaluation):
        """The learning curves, and the generator's samples after the first and last epochs
        (the same noise each epoch)."""
        from nnctl.rundir import SAMPLES
        from nnctl.training.sections import Section, picture_file

        grids = sorted(run.file(SAMPLES).glob("epoch-*.png"))
        shown = grids[:1] + grids[1:][-1:]  # the first and the last
        pictures = [
            picture_file(path, f"generated samples, {path.stem}", f"After {path.stem}.")
            for path in shown
        ]
        sections = super().report_sections(spec, model, run, evaluation)
        return [*sections, Section("Samples", pictures)]

    def export_target(self, spec, model, fmt, samples):
        """The generator: noise in, samples out."""
        from nnctl.modes.gan.build import noise_batch

        return ExportTarget(model.generator, noise_batch(spec, samples))
