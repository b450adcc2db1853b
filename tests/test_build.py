"""Each shipped spec compiles to the layers and parameter count its network should have."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from nnctl.build import build_model, compile_model
from nnctl.spec.validate import load_spec

EXPECTED = {
    # spec: (sample shape, layer types after the input, parameter count)
    "quickstart": (
        (64,),
        ["Rescaling", "Dense", "Dense", "Dense"],
        64 * 64 + 64 + 64 * 64 + 64 + 650,
    ),
    "linear_regression": ((1,), ["Normalization", "Dense"], 2),  # y = w*x + b
    "mnist_mlp": (
        (28, 28),
        ["Rescaling", "Flatten", "Dense", "Dense", "Dense"],
        784 * 256 + 256 + 256 * 256 + 256 + 2570,
    ),
    "mnist_keras_mlp": (
        (28, 28),
        ["Rescaling", "Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"],
        784 * 512 + 512 + 512 * 512 + 512 + 5130,
    ),
    "cnn_fashion_mnist": (
        (28, 28),
        ["Rescaling", "Reshape", "RandomTranslation", "RandomZoom"]
        + ["Conv2D", "MaxPooling2D", "Dropout"] * 2
        + ["Conv2D", "Dropout", "Flatten", "Dense", "Dropout", "Dense"],
        320 + 18496 + 73856 + (2048 + 1) * 128 + 1290,
    ),
    # bias-free 3x3 convolutions (9 * in * out) and batch normalization (4 per channel)
    "resnet_fashion_mnist": ((28, 28), None, 144 + 64 + 9472 + 4736 + 37376 + 18688 + 74240 + 650),
    "resnet_cifar10": ((32, 32, 3), None, 432 + 64 + 9472 + 4736 + 37376 + 18688 + 74240 + 650),
    "lstm_sunspots": (
        (12, 1),
        ["Rescaling", "LSTM", "Dense", "Rescaling"],
        4 * (1 + 32 + 1) * 32 + 33,
    ),
    "autoencoder_digits": ((64,), ["Rescaling"] + ["Dense"] * 4, 2080 + 264 + 288 + 2112),
    # a SimpleRNN's state: units * (inputs + units + 1)
    "rnn_sunspots": ((12, 1), ["Rescaling", "SimpleRNN", "Dense", "Rescaling"], 32 * 34 + 33),
    "neuron_moons": ((2,), ["Normalization", "Dense", "Dense", "Dense"], 48 + 272 + 17),
    # batch normalization: 4 per unit (scale, shift, moving mean and variance)
    "regularized_digits": (
        (64,),
        ["Rescaling"] + ["Dense", "BatchNormalization", "Dropout"] * 2 + ["Dense"],
        64 * 256 + 256 + 4 * 256 + 256 * 256 + 256 + 4 * 256 + 2570,
    ),
    # regularized_digits with a search section: trains the hand-set values, the same net
    "tuned_digits": (
        (64,),
        ["Rescaling"] + ["Dense", "BatchNormalization", "Dropout"] * 2 + ["Dense"],
        64 * 256 + 256 + 4 * 256 + 256 * 256 + 256 + 4 * 256 + 2570,
    ),
    "rotated_digits": (
        (64,),
        [
            "Rescaling",
            "Reshape",
            "RandomRotation",
            "GaussianNoise",
            "Conv2D",
            "Conv2D",
            "MaxPooling2D",
            "Conv2D",
            "MaxPooling2D",
            "Flatten",
            "Dropout",
            "Dense",
        ],
        320 + 9 * 32 * 32 + 32 + 9 * 32 * 64 + 64 + 4 * 64 * 10 + 10,
    ),
    "denoising_autoencoder_fashion_mnist": (
        (28, 28),
        [
            "Rescaling",
            "Reshape",
            "GaussianNoise",
            "Conv2D",
            "Conv2D",
            "Conv2DTranspose",
            "Conv2DTranspose",
            "Conv2D",
        ],
        320 + 2312 + 2336 + 9248 + 289,
    ),
    "fashion_mnist_mlp": (
        (28, 28),
        ["Rescaling", "Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"],
        784 * 512 + 512 + 512 * 512 + 512 + 5130,
    ),
    # fashion_mnist_mlp with a search section: trains the hand-set values, the same net
    "tuned_fashion_mnist": (
        (28, 28),
        ["Rescaling", "Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"],
        784 * 512 + 512 + 512 * 512 + 512 + 5130,
    ),
    # LSTM controller on 6 bits + delimiter + one 16-wide read vector; interface of
    # R*W + 3W + 5R + 3 = 72; output Dense on controller (64) and read vector (16)
    "dnc_copy": (
        (21, 7),
        ["DNC", "Dense"],
        4 * (7 + 16 + 64 + 1) * 64 + 65 * 72 + (64 + 16 + 1) * 6,
    ),
    "lstm_copy": ((21, 7), ["LSTM", "Dense"], 4 * (7 + 80 + 1) * 80 + 81 * 6),
    # associative recall: 6 bits + item and query flags in; 6 items of 2 vectors, query, answer
    "dnc_recall": (
        (24, 8),
        ["DNC", "Dense"],
        4 * (8 + 16 + 64 + 1) * 64 + 65 * 72 + (64 + 16 + 1) * 6,
    ),
    "lstm_recall": ((24, 8), ["LSTM", "Dense"], 4 * (8 + 80 + 1) * 80 + 81 * 6),
    # a 20,000-word embedding, then two bidirectional LSTMs of 64 units each way
    "bilstm_text": (
        (1,),
        ["TextVectorization", "Embedding", "Bidirectional", "Bidirectional", "Dense"],
        20000 * 128 + 2 * (2 * 4 * (128 + 64 + 1) * 64) + 129,
    ),
}
TEXT_INPUT = {"bilstm_text"}  # built on texts: the model takes strings


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_spec_compiles(name):
    spec, _ = load_spec(ROOT / "specs" / f"{name}.yaml")
    shape, types, params = EXPECTED[name]
    sample = np.ones((4, *shape), dtype="float32")
    if name in TEXT_INPUT:
        sample = np.full((4, *shape), "a short review", dtype=object)
    model = build_model(spec, sample)
    compile_model(model, spec, steps_per_epoch=10)
    if types is not None:
        assert [type(layer).__name__ for layer in model.layers[1:]] == types
    assert model.count_params() == params


GAN_EXPECTED = {
    # spec: (sample shape, {network: (layer types after the input, parameter count)})
    "gan_digits": (
        (64,),
        {
            "generator": (
                ["Dense", "LeakyReLU", "Dense", "LeakyReLU", "Dense"],
                4224 + 33024 + 16448,
            ),
            "discriminator": (
                ["Dense", "LeakyReLU", "Dropout", "Dense", "LeakyReLU", "Dropout", "Dense"],
                16640 + 32896 + 129,
            ),
            "scorer": (["Dense", "Dense", "Dense"], 4160 + 4160 + 650),
        },
    ),
    "dcgan_fashion_mnist": (
        (28, 28),
        {
            # bias-free Dense 64 -> 7*7*128 and 4x4 transposed convolutions; BN: 4 per channel
            "generator": (
                [
                    "Dense",
                    "BatchNormalization",
                    "LeakyReLU",
                    "Reshape",
                    "Conv2DTranspose",
                    "BatchNormalization",
                    "LeakyReLU",
                    "Conv2DTranspose",
                ],
                64 * 6272 + 4 * 6272 + 16 * 128 * 64 + 4 * 64 + 16 * 64 + 1,
            ),
            "discriminator": (
                [
                    "Conv2D",
                    "LeakyReLU",
                    "Conv2D",
                    "BatchNormalization",
                    "LeakyReLU",
                    "Flatten",
                    "Dense",
                ],
                (16 + 1) * 32 + 16 * 32 * 64 + 4 * 64 + 3137,
            ),
            "scorer": (["Flatten", "Dense", "Dense", "Dense"], 200960 + 32896 + 1290),
        },
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GAN_EXPECTED))
def test_shipped_gan_spec_builds(name):
    from nnctl.modes.gan.build import build_gan, compile_gan

    spec, _ = load_spec(ROOT / "specs" / f"{name}.yaml")
    shape, networks = GAN_EXPECTED[name]
    model = build_gan(spec, np.ones((4, *shape), dtype="float32"), classes=10)
    compile_gan(model, spec, steps_per_epoch=10)
    for network, (types, params) in networks.items():
        built = getattr(model, network)
        assert [type(layer).__name__ for layer in built.layers[1:]] == types
        assert built.count_params() == params


def _seq2seq_parameters(source: int, target: int, hidden: bool, target_dim: int) -> int:
    """Embeddings (32 wide source), a bidirectional LSTM of 64, an LSTM decoder of 128,
    parameter-free dot attention, then (a tanh Dense of 128 and) the output Dense."""
    encoder = source * 32 + 2 * 4 * (32 + 64 + 1) * 64
    decoder = target * target_dim + 4 * (target_dim + 128 + 1) * 128
    head = (256 * 128 + 128 + 128 * target + target) if hidden else 256 * target + target
    return encoder + decoder + head


SEQ2SEQ_EXPECTED = {
    # spec: (layer types after the two inputs, parameters from the vocabulary sizes)
    "seq2seq_addition": (
        [
            "Embedding",
            "Bidirectional",
            "Embedding",
            "LSTM",
            "Attention",
            "Concatenate",
            "Dense",
            "Dense",
        ],
        lambda s, t: _seq2seq_parameters(s, t, hidden=True, target_dim=32),
    ),
    "seq2seq_dates": (
        ["Embedding", "Bidirectional", "Embedding", "LSTM", "Attention", "Concatenate", "Dense"],
        lambda s, t: _seq2seq_parameters(s, t, hidden=False, target_dim=16),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SEQ2SEQ_EXPECTED))
def test_shipped_seq2seq_spec_builds(name):
    from nnctl.modes import placeholder

    spec, _ = load_spec(ROOT / "specs" / f"{name}.yaml")
    types, parameters = SEQ2SEQ_EXPECTED[name]
    model = placeholder(spec, ROOT / "specs")
    compile_model(model, spec, steps_per_epoch=10)
    assert [type(model.get_layer(node.name)).__name__ for node in spec.model.nodes] == types
    nodes = spec.model.nodes  # the source's embedding first, the output's third
    source, target = (model.get_layer(nodes[i].name).input_dim for i in (0, 2))
    assert model.count_params() == parameters(source, target)


ACTOR_CRITIC_EXPECTED = {
    # spec: (layer types after the observation, parameters): keras.io's 128-unit trunk with
    # a softmax over CartPole's 2 actions and a value head
    "actor_critic_cartpole": (["Dense"] * 3, (4 * 128 + 128) + (128 * 2 + 2) + (128 + 1)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ACTOR_CRITIC_EXPECTED))
def test_shipped_actor_critic_spec_builds(name):
    from nnctl.modes import placeholder

    spec, _ = load_spec(ROOT / "specs" / f"{name}.yaml")
    types, parameters = ACTOR_CRITIC_EXPECTED[name]
    model = placeholder(spec, None)  # its input: the environment's observation
    assert [type(layer).__name__ for layer in model.layers[1:]] == types
    assert model.count_params() == parameters


def test_every_shipped_spec_is_covered():
    shipped = {p.stem for p in (ROOT / "specs").glob("*.yaml")}
    covered = set(EXPECTED) | set(GAN_EXPECTED) | set(SEQ2SEQ_EXPECTED)
    assert shipped == covered | set(ACTOR_CRITIC_EXPECTED)


@pytest.mark.slow
def test_standardize_uses_training_statistics(write_spec):
    spec, _ = load_spec(
        write_spec("""
        name: s
        data: {source: make_regression, preprocess: {standardize: true}}
        model: {layers: [Dense: 1]}
        loss: mse
        """)
    )
    x = np.array([[1.0], [3.0], [5.0]], dtype="float32")
    model = build_model(spec, x)
    standardized = model.get_layer("preprocess_standardize")(x)
    np.testing.assert_allclose(np.asarray(standardized).ravel(), [-1.2247, 0, 1.2247], atol=1e-4)


@pytest.mark.slow
def test_shape_error_points_at_the_layer(write_spec):
    from nnctl.errors import SpecError

    spec, _ = load_spec(
        write_spec("""
        name: s
        data: {source: digits}
        model:
          layers:
            - Dense: 8
            - Conv2D: {filters: 4, kernel_size: 3}
        loss: mse
        """)
    )
    with pytest.raises(SpecError) as caught:
        build_model(spec, np.ones((2, 64), dtype="float32"))
    problem = caught.value.problems[0]
    assert problem.path == "model.layers[1]"
    assert problem.line == 6
    assert "Conv2D" in problem.message
    assert "(None, 8)" in problem.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("schedule", "epoch_rates"),
    [
        ({"type": "step_decay", "factor": 0.5, "every_epochs": 2}, [1.0, 1.0, 0.5, 0.5, 0.25]),
        (
            {"type": "exponential_decay", "rate": 0.5, "every_epochs": 1},
            [1.0, 0.5, 0.25, 0.125, 0.0625],
        ),
        ({"type": "cosine_decay", "alpha": 0.0}, [1.0, 0.9045, 0.6545, 0.3455, 0.0955]),
    ],
)
def test_schedules_follow_epochs(schedule, epoch_rates):
    from nnctl.build.optimizer import learning_rate
    from nnctl.spec.schema import OptimizerSpec

    spec = OptimizerSpec.model_validate({"name": "sgd", "learning_rate": 1.0, "schedule": schedule})
    rate = learning_rate(spec, steps_per_epoch=10, epochs=5)
    got = [float(rate(epoch * 10)) for epoch in range(5)]
    np.testing.assert_allclose(got, epoch_rates, atol=1e-3)
