"""``train.mode: gan``: the spec's generator, discriminator and scorer as Keras models, joined in a
``Gan`` (nnctl/layers/gan.py) with an optimizer for each adversary.

Each network is built by the code that builds a supervised model, on a view of the spec whose
``model`` is that network, so its shape and size errors point at ``gan.generator...``. The data's
preprocessing is a model of its own, applied to real samples: the generator makes samples as the
discriminator and the scorer see real ones, after preprocessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nnctl.build.model import _preprocess, build_model
from nnctl.build.optimizer import make_optimizer
from nnctl.build.paths import in_spec
from nnctl.build.targets import last_layer
from nnctl.keras_env import import_keras
from nnctl.spec.loader import PathKey, SourceMap
from nnctl.spec.schema import INPUT_NAME, Preprocess, Spec

NOISE = "noise"  # the generator's input, as its export names it


def build_gan(spec: Spec, train_x: np.ndarray, classes: int | None = None):
    """The uncompiled ``Gan``: preprocessing, then the generator (built first after seeding, so
    an untrained one can be rebuilt), discriminator and scorer. ``classes``: the number of
    classes the scorer must tell apart (None: not known yet, not checked)."""
    from nnctl.layers.gan import Gan

    keras = import_keras()
    raw = keras.Input(shape=train_x.shape[1:], dtype="float32", name=INPUT_NAME)
    preprocess = keras.Model(raw, _preprocess(spec, raw, train_x), name="preprocess")
    shape = tuple(preprocess.output.shape[1:])
    image_shape(spec, shape)  # the sample grid can draw them
    generator = build_generator(spec, shape)
    discriminator = _network(spec, "discriminator", shape)
    _check_output(spec, "discriminator", discriminator, [(1,), ()], "one score (e.g. - Dense: 1)")
    scorer = None
    if spec.gan.scorer is not None:
        scorer = _network(spec, "scorer", shape)
        _check_scorer(spec, scorer, classes)
    networks = {"generator": generator, "discriminator": discriminator, "preprocess": preprocess}
    for key, network in (networks | {"scorer": scorer}).items():
        if network is not None:
            in_spec(network, key)  # checkpoint paths: gan.generator..., not the spec's name
    return Gan(
        generator,
        discriminator,
        preprocess,
        scorer,
        latent_dim=spec.gan.latent_dim,
        label_smoothing=spec.gan.label_smoothing,
        discriminator_steps=spec.gan.discriminator_steps,
        from_logits=not _ends_in(discriminator, "sigmoid"),
        seed=spec.seed,
        name=spec.name,
    )


def build_generator(spec: Spec, sample_shape: tuple[int, ...]):
    """The generator, noise in, a sample of ``sample_shape`` out."""
    keras = import_keras()
    core = _network(spec, "generator", (spec.gan.latent_dim,))
    expected = f"a sample of the data's shape after preprocessing, {sample_shape}"
    _check_output(spec, "generator", core, [sample_shape], expected)
    noise = keras.Input(shape=(spec.gan.latent_dim,), name=NOISE)
    # the same layers on an input named for what it takes
    return keras.models.clone_model(core, input_tensors=noise, clone_function=lambda layer: layer)


def compile_gan(model, spec: Spec, steps_per_epoch: int) -> None:
    """An optimizer for each adversary; epoch-based schedules count each one's own steps."""
    gan, epochs = spec.gan, spec.train.epochs
    model.compile(
        generator_optimizer=make_optimizer(gan.generator_optimizer, steps_per_epoch, epochs),
        discriminator_optimizer=make_optimizer(
            gan.discriminator_optimizer, steps_per_epoch * gan.discriminator_steps, epochs
        ),
    )


def noise_batch(spec: Spec, size: int) -> np.ndarray:
    """Fixed noise, a function of the seed alone: the sample grids' and the export check's."""
    rng = np.random.default_rng([spec.seed, size])
    return rng.standard_normal((size, spec.gan.latent_dim)).astype("float32")


# ---------------------------------------------------------------------------------- networks
@dataclass(frozen=True)
class _Located:
    """A spec's source map as a network's view sees it: ``model...`` is ``gan.NETWORK...``."""

    source: SourceMap | None
    section: PathKey

    @property
    def file(self) -> str:
        return self.source.file if self.source else "<spec>"

    def problem(self, path: PathKey, message: str, *, at_key: bool = False):
        source = self.source or SourceMap("<spec>")
        return source.problem((*self.section, *path[1:]), message, at_key=at_key)


def network_view(spec: Spec, network: str) -> Spec:
    """The spec with ``gan.NETWORK`` as its model, taking samples as they are (preprocessed)."""
    data = spec.data.model_copy(update={"preprocess": Preprocess()})
    model = getattr(spec.gan, network).as_model()
    view = spec.model_copy(update={"model": model, "data": data, "name": f"{spec.name}_{network}"})
    view._source = _Located(spec._source, ("gan", network))
    return view


def _network(spec: Spec, network: str, input_shape: tuple[int, ...]):
    return build_model(network_view(spec, network), np.zeros((1, *input_shape), dtype="float32"))


def _last(spec: Spec, network: str) -> PathKey:
    return last_layer(getattr(spec.gan, network), ("gan", network))


def _check_output(spec: Spec, network: str, model, shapes: list[tuple], expected: str) -> None:
    outputs = model.outputs
    got = tuple(outputs[0].shape[1:]) if len(outputs) == 1 else f"{len(outputs)} outputs"
    if got not in shapes:
        message = f"the {network} must output {expected}, but it outputs shape {got}"
        raise spec.error(_last(spec, network), message)


def _check_scorer(spec: Spec, scorer, classes: int | None) -> None:
    expected = "class probabilities (a softmax over the data's classes)"
    width = scorer.outputs[0].shape[-1] if len(scorer.outputs) == 1 else None
    if len(scorer.outputs) != 1 or len(scorer.outputs[0].shape) != 2 or width in (None, 1):
        raise spec.error(_last(spec, "scorer"), f"the scorer must output {expected}")
    if classes is not None and width != classes:
        message = f"the scorer outputs {width} values, but the data has {classes} classes"
        raise spec.error(_last(spec, "scorer"), message)
    if not _ends_in(scorer, "softmax"):
        message = f"the scorer must output {expected}: end it with activation: softmax"
        raise spec.error(_last(spec, "scorer"), message)


def _ends_in(model, activation: str) -> bool:
    """Whether the model's last layer applies ``activation`` (an argument or its own layer)."""
    last = model.layers[-1]
    if type(last).__name__.lower() == activation:  # Softmax
        return True
    return getattr(getattr(last, "activation", None), "__name__", None) == activation


def image_shape(spec: Spec, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """How one sample is drawn in the sample grid: ``gan.samples.image_shape``, else the
    sample's own shape ((height, width) or (height, width, 1 or 3)), else a square."""
    size = int(np.prod(sample_shape))
    given = spec.gan.samples.image_shape
    where = ("gan", "samples", "image_shape")
    if given is not None:
        if int(np.prod(given)) != size or (len(given) == 3 and given[2] not in (1, 3)):
            message = (
                f"cannot draw samples of shape {tuple(sample_shape)} ({size} values) as images "
                f"of shape {tuple(given)}; give [height, width] or [height, width, 1 or 3]"
            )
            raise spec.error(where, message)
        return tuple(given)
    if len(sample_shape) == 2 or (len(sample_shape) == 3 and sample_shape[2] in (1, 3)):
        return tuple(sample_shape)
    side = math.isqrt(size)
    if side * side == size:
        return (side, side)
    message = f"samples of shape {tuple(sample_shape)} are not images; give their image_shape"
    raise spec.error(("gan", "samples"), message)
