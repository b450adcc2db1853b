"""``train.mode: autoencoder``: reconstruct the input as the model sees it after preprocessing
(``GaussianNoise`` first makes it a denoising autoencoder); judged against the mean image."""

from __future__ import annotations

import dataclasses

from nnctl.modes.base import Mode

RECONSTRUCTIONS = 8  # test inputs shown beside their reconstructions in nnctl report


class Autoencoder(Mode):
    name = "autoencoder"
    checks_targets = True

    def prepare(self, spec, dataset, model):
        """Each split's target is its input after the model's preprocessing layers."""
        import numpy as np

        from nnctl.build.model import preprocessed_view
        from nnctl.data import Split
        from nnctl.task import Task

        view = preprocessed_view(model)
        parts = {}
        for name in ("train", "validation", "test"):
            part = getattr(dataset, name)
            if part is not None:
                target = view.predict(part.x, batch_size=1024, verbose=0) if len(part.x) else part.x
                parts[name] = Split(part.x, np.asarray(target, dtype=np.float32))
        return dataclasses.replace(dataset, **parts, task=Task.RECONSTRUCTION, num_classes=None,
                                   class_names=None)  # fmt: skip

    def expected_targets(self, model, data):
        """The target is the input after preprocessing, not the data's labels."""
        from nnctl.build.model import preprocessed_view

        return None, tuple(preprocessed_view(model).outputs[0].shape[1:])

    def add_figures(self, report, spec, model, data):
        """The mean image's error, and a few inputs with their reconstructions for the report."""
        import numpy as np

        part = data["part"]
        report.baselines["mean_image_mse"] = mean_baseline_mse(data["dataset"].train, part)
        if isinstance(part.x, np.ndarray) and part.x.dtype.kind in "fiu":  # numbers, one input
            shown = slice(RECONSTRUCTIONS)
            rebuilt = np.asarray(model.predict(part.x[shown], verbose=0))
            report.kept["reconstructions"] = (np.asarray(part.y[shown]), rebuilt)

    def report_sections(self, spec, model, run, evaluation):
        """The learning curves, and inputs above their reconstructions where they are images."""
        from nnctl.training.sections import Picture, Section, image_rows

        sections = super().report_sections(spec, model, run, evaluation)
        inputs, rebuilt = evaluation.kept.get("reconstructions", (None, None))
        drawing = None if inputs is None else image_rows([inputs, rebuilt])
        if drawing is None:  # not images
            return sections
        caption = (
            f"The first {len(inputs)} inputs of the {evaluation.split} split as the model sees "
            "them (top) and their reconstructions (bottom)."
        )
        picture = Picture(drawing, "inputs and their reconstructions", caption)
        return [*sections, Section("Reconstructions", [picture])]


def mean_baseline_mse(train, test) -> float:
    """MSE of predicting every test sample as the mean training sample ("the mean image")."""
    import numpy as np

    mean = train.y.mean(axis=0, keepdims=True)
    return float(np.mean((test.y - mean) ** 2))
