"""What each training mode asks of a spec: the sections it needs and its rules across keys.

This is the spec layer's half of a mode (no TensorFlow); the rest of each mode — how it builds,
trains, evaluates, exports and predicts — is its home in ``nnctl/modes/``, whose registry lives
above this layer. A new mode adds its name to ``Mode`` in ``schema/train.py`` and a row here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from nnctl.spec.actor_critic import check_actor_critic
from nnctl.spec.loader import PathKey
from nnctl.spec.schema import Spec

Issue = tuple[PathKey, str, bool]  # as checks.py: (path, message, point at the key)


@dataclass(frozen=True)
class ModeRules:
    sections: tuple[str, ...]  # the top-level sections it needs (others of MODE_ONLY do not apply)
    string_pairs: bool = False  # learns from string pairs: token ids, vocabulary sizes as args
    check: Callable[[Spec], Iterable[Issue]] | None = None  # its rules across keys


RULES: dict[str, ModeRules] = {
    "supervised": ModeRules(("data", "model", "loss")),
    "autoencoder": ModeRules(("data", "model", "loss")),
    "seq2seq": ModeRules(("data", "model", "loss"), string_pairs=True),
    "gan": ModeRules(("data", "gan")),  # its rules (spec/gan.py) apply wherever a gan: is written
    "actor_critic": ModeRules(("env", "model", "agent"), check=check_actor_critic),
}
MODE_SECTIONS = {name: rules.sections for name, rules in RULES.items()}
MODE_ONLY_SECTIONS = ("data", "model", "loss", "gan", "env", "agent")


def rules_of(spec: Spec) -> ModeRules:
    return RULES[spec.train.mode]
