"""The ``Mode`` interface: everything that differs between training modes, asked of one object.

Above the spec layer nnctl never compares mode names: it asks ``mode_of(spec)`` (``nnctl.modes``)
and calls these methods. The defaults are what a mode that learns from a dataset does; a mode
overrides what it does differently. Importing a mode imports no TensorFlow: its methods import
what they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from nnctl.data import Dataset
    from nnctl.rundir import RunDir
    from nnctl.spec.schema import Spec
    from nnctl.training.evaluation import Report
    from nnctl.training.run import Trainer
    from nnctl.training.sections import Section


@dataclass(frozen=True)
class ExportTarget:
    """What a run exports: a Keras model, and what its export is checked on."""

    model: Any
    sample: Any = None  # inputs to compare the export with the model on (None: the run's data)
    named: bool = True  # a model of several named inputs or outputs takes and gives them by name
    strings: bool = False  # strings in, greedily decoded strings out (one SavedModel)


class Mode:
    """A training mode. Subclasses set ``name`` and override the steps they do differently."""

    name: ClassVar[str]
    advice: ClassVar[str] = (
        "Lower optimizer.learning_rate, add gradient clipping (optimizer.clipnorm) or "
        "standardize the data"
    )  # what to try when training diverges
    checks_targets: ClassVar[bool] = False  # the model's output is checked against the targets
    word_labels: ClassVar[bool] = False  # classes read from words are this mode's labels

    # ------------------------------------------------------------------ training
    def trainer(self, spec: Spec, base_dir: Path, run: RunDir) -> Trainer:
        """The trainer of a run (built inside the run's lock): a dataset session by default."""
        from nnctl.training.session import Session

        return Session.create(spec, base_dir, run, self)

    def encode(self, spec: Spec, dataset: Dataset, vocab=None) -> tuple[Dataset, Any]:
        """The dataset as the model takes it, before the model exists, and the vocabularies
        its token ids come from (None: the data is not text turned into ids)."""
        return dataset, None

    def build(self, spec: Spec, dataset: Dataset, vocab, steps_per_epoch: int):
        """(the compiled model with every variable created, the dataset as this mode trains on
        it): the spec's model by default."""
        from nnctl.training.session import compiled_model

        return compiled_model(self, spec, dataset, vocab, steps_per_epoch)

    def prepare(self, spec: Spec, dataset: Dataset, model) -> Dataset:
        """The dataset as the mode trains on and evaluates it, once the model exists."""
        return dataset

    def begin(self, spec: Spec, model, dataset: Dataset) -> None:
        """Before a fresh run's first step."""

    def callbacks(self, spec: Spec, model, dataset: Dataset, run_path: Path) -> list:
        """The mode's own callbacks in the training loop."""
        return []

    def conclude(self, session, metrics: dict[str, dict[str, float]]) -> None:
        """Add the mode's own final figures to ``metrics`` (by split) and write its artifacts."""

    # ------------------------------------------------------------------ checks and builds
    def placeholder(self, spec: Spec, base_dir: Path | None):
        """The model built on placeholder data, to check shapes and sizes before training, and
        checked against the targets where the mode learns them (None: it cannot be built
        without reading data and ``base_dir`` is None)."""
        from nnctl.build import build_model, build_symbolic
        from nnctl.build.model import placeholder_data
        from nnctl.build.targets import check_targets

        data = placeholder_data(spec, base_dir)
        if data is None:
            return None
        if data.sample is not None:  # several named inputs
            return build_model(spec, data.sample)
        model = build_symbolic(spec, data.shape, data.dtype)
        if self.checks_targets:
            check_targets(spec, model, *self.expected_targets(model, data))
        return model

    def expected_targets(self, model, data) -> tuple[int | None, tuple | None]:
        """(classes, one target's shape) the model's output must fit, from placeholder data."""
        return data.classes, data.target

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, spec: Spec, model, run: RunDir, split: str) -> Report:
        """Metrics of the trained ``model`` on ``split``, with the baselines that give them
        meaning."""
        from nnctl.training.evaluation import evaluate_split

        return evaluate_split(self, spec, model, run, split)

    def vocabularies(self, run: RunDir):
        """The vocabularies a trained run's token ids come from (None: no text as ids)."""
        return None

    def add_figures(self, report: Report, spec: Spec, model, data: dict[str, Any]) -> None:
        """The mode's own figures for an evaluation report; ``data`` holds ``dataset``,
        ``part`` (the split evaluated), ``strings`` and ``vocab``."""

    # ------------------------------------------------------------------ report
    def report_sections(self, spec: Spec, model, run: RunDir, evaluation: Report) -> list[Section]:
        """The mode's own sections of ``nnctl report``, from the trained run and its evaluation
        on the test split (or the mode's own evaluation): the learning curves by default."""
        from nnctl.training.sections import curves_section

        return curves_section(
            run, "Learning curves", "Loss and each metric per epoch: training against validation."
        )

    # ------------------------------------------------------------------ export and predict
    def export_target(self, spec: Spec, model, fmt: str, samples: int) -> ExportTarget:
        """What ``nnctl export`` writes in ``fmt``, and ``samples`` inputs to check it on: the
        whole model on the run's data by default."""
        return ExportTarget(model)

    def predictor(self, run: RunDir):
        """(predict function, task) for ``nnctl predict RUN_DIR``; None: the saved model's."""
        return None
