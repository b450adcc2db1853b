"""A GAN as one Keras model: ``Gan.train_step`` trains a generator against a discriminator, so
nnctl's loop, callbacks, checkpoints and resume drive it like any other model.

Real samples go through the data's preprocessing first; the generator makes samples in that same
space. Each training step updates the discriminator ``discriminator_steps`` times (real samples
against fresh fakes, real targets ``1 - label_smoothing``), then the generator once with the
non-saturating loss (make the discriminator call its samples real; Goodfellow et al., 2014).
With a scorer, a classifier of the real data, every step also scores the generated samples.
"""

from __future__ import annotations

from nnctl.keras_env import import_keras
from nnctl.spec.schema import GAN_LOGS

keras = import_keras()
ops = keras.ops


def _entropy(p):
    return -ops.sum(p * ops.log(ops.clip(p, 1e-12, 1.0)), axis=-1)


@keras.saving.register_keras_serializable(package="nnctl")
class SampleQuality(keras.metrics.Metric):
    """How a classifier sees a set of samples, from its class probabilities (an Inception Score
    analogue; Salimans et al., 2016):

    - ``confidence``: the mean top-class probability (high: each sample looks like some class);
    - ``class_entropy``: the entropy, in nats, of the mean predicted class distribution (at most
      ln K for K classes, reached when every class is generated equally often);
    - ``classifier_score``: exp(class_entropy - the mean entropy of each sample's prediction),
      the Inception Score with this classifier: from 1 to K, higher is better.
    """

    def __init__(self, classes: int, name: str = "sample_quality", **kwargs):
        super().__init__(name=name, **kwargs)
        self.classes = classes
        self.class_sum = self.add_variable((classes,), "zeros", name="class_sum")
        self.confidence_sum = self.add_variable((), "zeros", name="confidence_sum")
        self.entropy_sum = self.add_variable((), "zeros", name="entropy_sum")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, probabilities):
        p = ops.cast(probabilities, "float32")  # (batch, classes)
        self.class_sum.assign_add(ops.sum(p, axis=0))
        self.confidence_sum.assign_add(ops.sum(ops.max(p, axis=-1)))
        self.entropy_sum.assign_add(ops.sum(_entropy(p)))
        self.count.assign_add(ops.cast(ops.shape(p)[0], "float32"))

    def result(self):
        n = ops.maximum(self.count, 1.0)
        class_entropy = _entropy(self.class_sum / n)
        return {
            "confidence": self.confidence_sum / n,
            "class_entropy": class_entropy,
            "classifier_score": ops.exp(class_entropy - self.entropy_sum / n),
        }

    def get_config(self):
        return {"classes": self.classes, "name": self.name, "dtype": self.dtype}


NETWORKS = ("generator", "discriminator", "preprocess", "scorer")


@keras.saving.register_keras_serializable(package="nnctl")
class Gan(keras.Model):
    """Generator, discriminator, the data's preprocessing and an optional scorer; called on
    noise, it generates. ``compile`` takes an optimizer for each of the two adversaries."""

    def __init__(
        self,
        generator,
        discriminator,
        preprocess,
        scorer=None,
        *,
        latent_dim: int,
        label_smoothing: float = 0.0,
        discriminator_steps: int = 1,
        from_logits: bool = True,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.preprocess, self.scorer = preprocess, scorer
        self.latent_dim, self.label_smoothing = latent_dim, label_smoothing
        self.discriminator_steps, self.from_logits = discriminator_steps, from_logits
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.trackers = [keras.metrics.Mean(name=name) for name in GAN_LOGS]
        self.quality = SampleQuality(scorer.output.shape[-1]) if scorer is not None else None
        self.built = True  # every network is built already

    @property
    def inputs(self):
        """Noise, as the generator takes it (what ``nnctl predict`` feeds a run's model)."""
        return self.generator.inputs

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    # ------------------------------------------------------------------------------ training
    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(optimizer=discriminator_optimizer, **kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def optimizers(self) -> list:
        """Both optimizers, whose state a checkpoint holds."""
        return [self.generator_optimizer, self.discriminator_optimizer]

    @property
    def metrics(self):
        return [*self.trackers, *([self.quality] if self.quality is not None else [])]

    def train_step(self, data):
        import tensorflow as tf

        real = self.preprocess(_features(data), training=False)
        batch = ops.shape(real)[0]
        # Under a strategy each replica's gradients are summed: each replica's loss counts for
        # its share of the global batch (as Keras's own losses do).
        share = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        for _ in range(self.discriminator_steps):
            fake = self.generator(self._noise(batch), training=True)
            with tf.GradientTape() as tape:
                d_loss, real_out, fake_out = self._discriminate(real, fake, training=True)
                scaled = d_loss * share
            weights = self.discriminator.trainable_variables
            self.discriminator_optimizer.apply(tape.gradient(scaled, weights), weights)
        with tf.GradientTape() as tape:
            fake = self.generator(self._noise(batch), training=True)
            g_loss = self._loss(1.0, self.discriminator(fake, training=True))
            scaled = g_loss * share
        weights = self.generator.trainable_variables
        self.generator_optimizer.apply(tape.gradient(scaled, weights), weights)
        return self._track(d_loss, g_loss, real_out, fake_out, fake)

    def test_step(self, data):
        real = self.preprocess(_features(data), training=False)
        fake = self.generator(self._noise(ops.shape(real)[0]), training=False)
        d_loss, real_out, fake_out = self._discriminate(real, fake, training=False)
        return self._track(d_loss, self._loss(1.0, fake_out), real_out, fake_out, fake)

    def _discriminate(self, real, fake, training: bool):
        """The discriminator's loss on real and generated samples, and its outputs on both."""
        real_out = self.discriminator(real, training=training)
        fake_out = self.discriminator(fake, training=training)
        loss = self._loss(1.0 - self.label_smoothing, real_out) + self._loss(0.0, fake_out)
        return loss, real_out, fake_out

    def _noise(self, batch):
        """Latent noise for ``batch`` rows. Under a strategy, this replica's rows of one draw
        for the global batch: replicas generate different samples, and together what one
        device would."""
        import tensorflow as tf

        replica = tf.distribute.get_replica_context()
        replicas = replica.num_replicas_in_sync if replica else 1
        noise = keras.random.normal((batch * replicas, self.latent_dim), seed=self.noise_seed)
        if replicas == 1:
            return noise
        first = replica.replica_id_in_sync_group * batch
        return noise[first : first + batch]

    def _loss(self, target: float, output):
        """Binary cross-entropy of the discriminator's ``output`` against ``target``."""
        output = ops.reshape(output, (-1, 1))
        targets = ops.full(ops.shape(output), target, dtype=output.dtype)
        loss = keras.losses.binary_crossentropy(targets, output, from_logits=self.from_logits)
        return ops.mean(loss)

    def _probability(self, output):
        output = ops.reshape(output, (-1,))
        return ops.sigmoid(output) if self.from_logits else output

    def _track(self, d_loss, g_loss, real_out, fake_out, fake) -> dict:
        values = (d_loss, g_loss, self._probability(real_out), self._probability(fake_out))
        for tracker, value in zip(self.trackers, values, strict=True):
            tracker.update_state(value)
        if self.quality is not None:
            self.quality.update_state(self.scorer(fake, training=False))
        logs = {}
        for metric in self.metrics:
            result = metric.result()
            logs |= result if isinstance(result, dict) else {metric.name: result}
        return logs

    # ------------------------------------------------------------------------- serialization
    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        networks = {name: serialize(getattr(self, name)) for name in NETWORKS}
        settings = ("latent_dim", "label_smoothing", "discriminator_steps", "from_logits", "seed")
        return {"name": self.name, **networks, **{key: getattr(self, key) for key in settings}}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in NETWORKS:
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

    def get_compile_config(self):
        names = ("generator_optimizer", "discriminator_optimizer")
        return {name: keras.saving.serialize_keras_object(getattr(self, name)) for name in names}

    def compile_from_config(self, config):
        self.compile(**{k: keras.saving.deserialize_keras_object(v) for k, v in config.items()})


def _features(data):
    """The features of a batch: ``(x, y, weights)``, ``(x, y)`` or ``x``."""
    return data[0] if isinstance(data, tuple | list) else data
