"""``train.mode: supervised`` (the default): learn the data's targets."""

from __future__ import annotations

from nnctl.modes.base import Mode


class Supervised(Mode):
    name = "supervised"
    checks_targets = True
    word_labels = True
