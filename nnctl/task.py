"""What a model predicts, as the data (or the training mode) decides it: a module of its own,
importing nothing, so that commands that need no data (``nnctl init``) can name tasks too."""

from __future__ import annotations

from enum import StrEnum


class Task(StrEnum):
    """Stored as its value in ``run.json`` and export metadata (``"classification"``, ...)."""

    CLASSIFICATION = "classification"  # class labels (or one-hot rows)
    REGRESSION = "regression"  # numbers
    RECONSTRUCTION = "reconstruction"  # an autoencoder's input after preprocessing
    GENERATION = "generation"  # a GAN's samples
    SEQ2SEQ = "seq2seq"  # strings to strings
    MULTIPLE = "multiple"  # several named inputs or targets: each taken as given
    POLICY = "policy"  # an actor-critic's action probabilities

    @property
    def labelled(self) -> bool:
        """Whether outputs are scores per class (or action), read as a label and its scores."""
        return self in (Task.CLASSIFICATION, Task.POLICY)
