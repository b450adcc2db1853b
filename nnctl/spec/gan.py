"""Rules of ``train.mode: gan`` beyond its schema: what does not apply to a GAN, and each of its
networks checked as a model is (layer names, graph names), at its own place in the spec."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nnctl.spec.graph import check_graph
from nnctl.spec.loader import PathKey
from nnctl.spec.schema import ReduceOnPlateau, Spec

Issue = tuple[PathKey, str, bool]

NETWORKS = ("generator", "discriminator", "scorer")
NOT_FOR_GAN = {
    ("optimizer",): "each adversary has its own, gan.generator_optimizer and "
    "gan.discriminator_optimizer",
    ("metrics",): "a GAN logs its own: d_loss, g_loss, real_score, fake_score and, with a "
    "scorer, confidence, class_entropy, classifier_score",
    ("train", "class_weight"): "a GAN weighs no classes",
    ("export", "encoder"): "a GAN exports its generator",
    ("train", "mixed_precision"): "its train step keeps both networks in float32 (it has no "
    "loss scaling)",
}
REGRESSION_SOURCES = {"make_regression", "sunspots"}


def raw_networks(data: dict) -> Iterator[tuple[PathKey, Any]]:
    """``model`` and a GAN's networks, as written (for checks that run on raw data)."""
    yield ("model",), data.get("model")
    gan = data.get("gan")
    for name in NETWORKS if isinstance(gan, dict) else ():
        yield ("gan", name), gan.get(name)


def raw_optimizers(data: dict) -> Iterator[tuple[PathKey, Any]]:
    """A GAN's optimizer sections that are written, and where."""
    gan = data.get("gan")
    if not isinstance(gan, dict):
        return
    for key in ("generator_optimizer", "discriminator_optimizer"):
        if key in gan:
            yield ("gan", key), gan[key]
    if isinstance(gan.get("scorer"), dict) and "optimizer" in gan["scorer"]:
        yield ("gan", "scorer", "optimizer"), gan["scorer"]["optimizer"]


def check_gan(spec: Spec) -> Iterator[Issue]:
    """A GAN spec's cross-section rules (nothing for other modes)."""
    if spec.gan is None:
        return
    for path, why in NOT_FOR_GAN.items():
        section = spec if len(path) == 1 else getattr(spec, path[0])
        default = type(section).model_fields[path[-1]].get_default(call_default_factory=True)
        if getattr(section, path[-1]) != default:  # a run's spec.yaml holds the defaults
            yield path, f"{path[-1]!r} does not apply to train.mode gan: {why}", True
    for name in NETWORKS:
        if getattr(spec.gan, name) is not None:
            yield from _check_network(spec, name)
    gan = spec.gan
    optimizers = {("gan", "generator_optimizer"): gan.generator_optimizer}
    optimizers[("gan", "discriminator_optimizer")] = gan.discriminator_optimizer
    if gan.scorer is not None:
        optimizers[("gan", "scorer", "optimizer")] = gan.scorer.optimizer
    for path, optimizer in optimizers.items():
        if isinstance(optimizer.schedule, ReduceOnPlateau):
            message = (
                "reduce_on_plateau follows the validation loss of a single model; "
                "use step_decay, exponential_decay or cosine_decay here"
            )
            yield (*path, "schedule", "type"), message, False
    if gan.scorer is not None and spec.data.source in REGRESSION_SOURCES:
        message = f"the scorer is a classifier, but {spec.data.source} has no class labels"
        yield ("gan", "scorer"), message, True


def _check_network(spec: Spec, name: str) -> Iterator[Issue]:
    """Graph names are checked as a model's are, at the network's place in the spec."""
    view = spec.model_copy(update={"model": getattr(spec.gan, name).as_model()})
    for path, message, at_key in check_graph(view):
        yield ("gan", name, *path[1:]), message, at_key
