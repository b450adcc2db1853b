"""Training modes: one home each (``supervised``, ``autoencoder``, ``seq2seq``, ``gan``,
``actor_critic``) behind the ``Mode`` interface of ``base.py``, and the registry below, the one
place that maps ``train.mode`` to its mode. Adding a mode is a new module and one line here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nnctl.modes.actor_critic import ActorCritic
from nnctl.modes.autoencoder import Autoencoder
from nnctl.modes.base import Mode
from nnctl.modes.gan import Gan
from nnctl.modes.seq2seq import Seq2Seq
from nnctl.modes.supervised import Supervised

if TYPE_CHECKING:
    from nnctl.spec.schema import Spec

REGISTRY: dict[str, Mode] = {
    mode.name: mode for mode in (Supervised(), Autoencoder(), Seq2Seq(), Gan(), ActorCritic())
}

__all__ = ["REGISTRY", "Mode", "mode_of", "placeholder"]


def mode_of(spec: Spec) -> Mode:
    """The mode of ``spec.train.mode``."""
    return REGISTRY[spec.train.mode]


def placeholder(spec: Spec, base_dir: Path | None):
    """The spec's model built on placeholder data and checked, as its mode builds it (None:
    the data must be read for it and ``base_dir`` is None)."""
    return mode_of(spec).placeholder(spec, base_dir)
