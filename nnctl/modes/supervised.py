"""``train.mode: supervised`` (the default): learn the data's targets."""

from __future__ import annotations

from nnctl.modes.base import Mode


class Supervised(Mode):
    name = "supervised"
    checks_targets = True
    word_labels = True

    def report_sections(self, spec, model, run, evaluation):
        """The learning curves; for a classifier, its confusion matrix and per-class scores."""
        sections = super().report_sections(spec, model, run, evaluation)
        if evaluation.confusion is not None:
            sections.append(classes_section(evaluation))
        return sections


def classes_section(evaluation):
    """A classifier's confusion matrix as a heatmap, and each class's precision and recall."""
    from nnctl.training.sections import Picture, Section, Table, confusion_heatmap

    names, confusion = evaluation.class_names, evaluation.confusion
    scores = zip(names, evaluation.precision, evaluation.recall, strict=True)
    rows = [
        [name, str(confusion[i].sum()), str(confusion[:, i].sum()), f"{p:.3f}", f"{r:.3f}"]
        for i, (name, p, r) in enumerate(scores)
    ]
    where = f"the {evaluation.split} split, {evaluation.samples} {evaluation.unit}"
    return Section(
        "Classes",
        [
            Picture(
                confusion_heatmap(confusion, names),
                "confusion matrix heatmap",
                f"Confusion matrix on {where}: rows are the true class, columns the predicted one.",
            ),
            Table(["class", "samples", "predicted", "precision", "recall"], rows, where),
        ],
    )
