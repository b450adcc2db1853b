"""The spec language, version 1: every section, key, type, range and default, in one place.

Pydantic checks structure (unknown keys, types, ranges) and reports every problem with its path;
``checks.py`` adds the rules that need Keras's names or span several sections. The JSON Schema
for editors (``nnctl schema``) and README's key reference come from these classes too.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_serializer, model_validator
from pydantic.functional_validators import BeforeValidator
from pydantic.json_schema import WithJsonSchema

from nnctl.errors import SpecError
from nnctl.spec.catalog import catalog, layer_class, layer_names, layer_params
from nnctl.spec.loader import PathKey, SourceMap


class Section(BaseModel):
    """A spec mapping: unknown keys are errors and values are not coerced (``"5"`` is no int)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=False, allow_inf_nan=False
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def _fraction_string(value: Any) -> Any:
    """Let ``scale: 1/255`` mean 1/255."""
    if isinstance(value, str) and "/" in value:
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction like 1/255, got {value!r}") from None
    return value


Finite = Annotated[float, BeforeValidator(_finite)]
PositiveFinite = Annotated[float, BeforeValidator(_finite), Field(gt=0)]
Rate = Annotated[float, Field(ge=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Column = str | int


# --------------------------------------------------------------------------------------- data
class Preprocess(Section):
    """Feature preprocessing, compiled into the model's first layers so an export takes raw data."""

    scale: Annotated[
        PositiveFinite | None,
        BeforeValidator(_fraction_string),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "number", "exclusiveMinimum": 0},
                    {"type": "string", "pattern": r"^\s*\d+\s*/\s*\d+\s*$"},
                    {"type": "null"},
                ]
            }
        ),  # fmt: skip
    ] = Field(None, description="multiply features by this (e.g. 1/255)")
    standardize: bool = Field(
        False, description="subtract the mean, divide by the std (training-split statistics)"
    )
    flatten: bool = Field(False, description="flatten each sample to a vector")
    reshape: list[PositiveInt] | None = Field(None, description="reshape each sample to this shape")
    one_hot: bool = Field(False, description="one-hot encode integer class labels (targets)")


class DataCommon(Section):
    test_split: Rate = Field(
        0.2, description="fraction held out for test, for sources without a test set of their own"
    )
    max_samples: PositiveInt | None = Field(
        None, description="keep at most this many samples of each split (quick runs)"
    )
    preprocess: Preprocess = Field(default_factory=Preprocess, description="see below")


class Digits(DataCommon):
    source: Literal["digits"] = Field(description="scikit-learn's 8x8 handwritten digits (offline)")


class Iris(DataCommon):
    source: Literal["iris"] = Field(description="scikit-learn's iris flowers (offline)")


class BreastCancer(DataCommon):
    source: Literal["breast_cancer"] = Field(description="scikit-learn's breast cancer (offline)")


class MakeRegression(DataCommon):
    source: Literal["make_regression"] = Field(description="scikit-learn's generated regression")
    n_samples: PositiveInt = Field(100, description="number of samples generated")
    n_features: PositiveInt = Field(1, description="number of features")
    n_informative: PositiveInt | None = Field(None, description="features that carry signal")
    noise: Annotated[Finite, Field(ge=0)] = Field(0.0, description="std of Gaussian noise added")
    bias: Finite = Field(0.0, description="intercept of the true model")


class MakeClassification(DataCommon):
    source: Literal["make_classification"] = Field(description="scikit-learn's generated classes")
    n_samples: PositiveInt = Field(100, description="number of samples generated")
    n_features: PositiveInt = Field(20, description="number of features")
    n_informative: PositiveInt = Field(2, description="features that carry signal")
    n_redundant: NonNegativeInt = Field(
        2, description="linear combinations of informative features"
    )
    n_classes: Annotated[int, Field(ge=2)] = Field(2, description="number of classes")
    class_sep: PositiveFinite = Field(1.0, description="larger spreads classes apart")
    flip_y: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01, description="fraction of labels flipped at random"
    )


class MakeMoons(DataCommon):
    source: Literal["make_moons"] = Field(description="two interleaving half circles")
    n_samples: PositiveInt = Field(100, description="number of samples generated")
    noise: Annotated[Finite, Field(ge=0)] = Field(0.0, description="std of Gaussian noise added")


class Sunspots(DataCommon):
    source: Literal["sunspots"] = Field(
        description="statsmodels' yearly sunspot numbers, 1700-2008, as a forecasting series"
    )
    window: PositiveInt = Field(12, description="past years given as input to predict the next")


class KerasImages(DataCommon):
    source: Literal["mnist", "fashion_mnist", "cifar10"] = Field(
        description="Keras image sets (download; fashion_mnist also from Debian's package)"
    )
    path: str | None = Field(
        None, description="local copy: a directory of the files Keras downloads, or mnist.npz"
    )


class Imdb(DataCommon):
    source: Literal["imdb"] = Field(
        description="IMDB movie reviews (download): word ids, or text with text: true"
    )
    path: str | None = Field(
        None, description="local copy of imdb.npz; with text: aclImdb_v1.tar.gz or aclImdb/"
    )
    num_words: PositiveInt = Field(10000, description="keep the most frequent words")
    maxlen: PositiveInt = Field(200, description="pad or cut reviews to this many words")
    text: bool = Field(False, description="the reviews as raw text, for a TextVectorization layer")


class Csv(DataCommon):
    source: Literal["csv"] = Field(
        description="a CSV file of numeric columns, or of text with text: true"
    )
    path: str = Field(description="the file, relative to the spec")
    target: Column = Field(description="target column: a header name or a 0-based index")
    features: list[Column] | None = Field(None, description="feature columns; default all others")
    delimiter: str = Field(",", description="field separator")
    header: bool = Field(True, description="first row names the columns")
    text: bool = Field(
        False, description="the features are text: kept as strings, for a TextVectorization layer"
    )


class Npz(DataCommon):
    source: Literal["npz"] = Field(description="a NumPy .npz archive")
    path: str = Field(description="the file, relative to the spec")
    x: str | dict[str, str] = Field(
        "x", description="key of the features, or model input name -> key (several inputs)"
    )
    y: str | dict[str, str] = Field(
        "y", description="key of the targets, or output node name -> key (several outputs)"
    )
    x_test: str | dict[str, str] | None = Field(
        None, description="key(s) of a test split's features, if present"
    )
    y_test: str | dict[str, str] | None = Field(
        None, description="key(s) of a test split's targets"
    )


class Npy(DataCommon):
    source: Literal["npy"] = Field(description="two NumPy .npy files")
    path: str = Field(description="features .npy")
    target_path: str = Field(description="targets .npy")


class Idx(DataCommon):
    source: Literal["idx"] = Field(description="IDX files (MNIST format), gzipped or not")
    images: str = Field(description="training images file")
    labels: str = Field(description="training labels file")
    test_images: str | None = Field(None, description="test images file")
    test_labels: str | None = Field(None, description="test labels file")


class StringPairs(DataCommon):
    """Pairs of strings for ``train.mode: seq2seq``: an input string and the output string."""

    tokens: Literal["characters", "words"] = Field(
        "characters", description="vocabulary units: characters, or words split at spaces"
    )


class Addition(StringPairs):
    source: Literal["addition"] = Field(
        description='"123+45" -> "168", generated (seq2seq; keras.io\'s addition RNN task)'
    )
    n_samples: PositiveInt = Field(50000, description="distinct pairs generated")
    digits: Annotated[int, Field(ge=1, le=9)] = Field(3, description="digits of each number")


class Dates(StringPairs):
    source: Literal["dates"] = Field(
        description='"Thursday, 05/03/79", "3 May 1979", ... -> "1979-05-03", generated (seq2seq)'
    )
    n_samples: PositiveInt = Field(20000, description="dates generated (1950-2049)")


class TextPairs(StringPairs):
    source: Literal["text_pairs"] = Field(description="a CSV file of input and output strings")
    path: str = Field(description="the file (UTF-8, header row), relative to the spec")
    input: str = Field("input", description="header of the input strings' column")
    output: str = Field("output", description="header of the output strings' column")
    delimiter: str = Field(",", description="field separator")


class CopyTask(DataCommon):
    source: Literal["copy_task"] = Field(
        description="copy a sequence of random bit vectors after a delimiter (generated; "
        "targets: the bits, then a mask of the answer steps)"
    )
    bits: PositiveInt = Field(8, description="width of each bit vector")
    min_length: PositiveInt = Field(1, description="shortest sequence to copy")
    max_length: PositiveInt = Field(10, description="longest sequence to copy")
    n_samples: PositiveInt = Field(10000, description="sequences generated")

    @model_validator(mode="after")
    def _lengths(self) -> CopyTask:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is over max_length {self.max_length}")
        return self


class AssociativeRecall(DataCommon):
    source: Literal["associative_recall"] = Field(
        description="recall the item after a queried one (generated; targets as copy_task's)"
    )
    bits: PositiveInt = Field(6, description="width of each bit vector")
    item_length: PositiveInt = Field(3, description="bit vectors per item")
    min_items: Annotated[int, Field(ge=2)] = Field(2, description="fewest items per sequence")
    max_items: Annotated[int, Field(ge=2)] = Field(6, description="most items per sequence")
    n_samples: PositiveInt = Field(10000, description="sequences generated")

    @model_validator(mode="after")
    def _items(self) -> AssociativeRecall:
        if self.min_items > self.max_items:
            raise ValueError(f"min_items {self.min_items} is over max_items {self.max_items}")
        return self


DataSpec = Annotated[
    Digits | Iris | BreastCancer | MakeRegression | MakeClassification | MakeMoons
    | Sunspots | KerasImages | Imdb | Csv | Npz | Npy | Idx | Addition | Dates | TextPairs
    | CopyTask | AssociativeRecall,
    Field(discriminator="source"),
]  # fmt: skip
FILE_SOURCES = {"csv", "npz", "npy", "idx", "text_pairs"}
STRING_PAIR_SOURCES = {"addition", "dates", "text_pairs"}
MEMORY_TASKS = {"copy_task", "associative_recall"}


# -------------------------------------------------------------------------------------- model
MAX_LAYERS = 1000
SHORT_FORM = "_short"  # stands in for the first argument of a layer the catalogue does not know


def short_param(layer: str) -> str:
    """The argument a scalar short form sets: ``Dense: 64`` -> units, ``Dropout: 0.2`` -> rate."""
    cls = layer_class(layer)
    params = layer_params(cls)["params"] if cls else []
    return params[0] if params else SHORT_FORM


def layer_json_schema() -> dict[str, Any]:
    names = layer_names()
    base = catalog()["layer_base_params"]
    properties = {}
    for spelling, cls in sorted(names.items()):
        params = layer_params(cls)["params"] + base
        arguments = {"type": "object", "properties": {p: {} for p in params}}
        arguments["additionalProperties"] = False
        short = {"type": ["number", "string", "array", "boolean", "null"]}
        properties[spelling] = {"anyOf": [arguments, short], "description": f"keras.layers.{cls}"}
    entry = {"type": "object", "properties": properties, "additionalProperties": False}
    entry |= {"minProperties": 1, "maxProperties": 1}
    return {"anyOf": [{"type": "string", "enum": sorted(names)}, entry]}


class LayerSpec(Section):
    """One layer: ``- Dense: {units: 64}``, short forms ``- Dense: 64``, ``- Flatten``."""

    type: str
    args: dict[str, Any] = Field(default_factory=dict)
    short: bool = Field(False, exclude=True)  # written as a scalar short form

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, entry: Any) -> Any:
        if isinstance(entry, str):
            return {"type": entry}
        if isinstance(entry, dict) and len(entry) == 1 and "type" not in entry:
            ((name, value),) = entry.items()
            if value is None:
                return {"type": name}
            if isinstance(value, dict):
                return {"type": name, "args": value}
            return {"type": name, "args": {short_param(name): value}, "short": True}
        if isinstance(entry, dict) and "type" in entry:
            return entry
        raise ValueError("expected a layer like 'Dense: {units: 64}', 'Dropout: 0.2' or 'Flatten'")

    @model_serializer
    def _to_entry(self) -> dict[str, Any]:
        return {self.keras_class or self.type: dict(self.args)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler) -> dict[str, Any]:
        """Editors see what users write: a layer name, or ``{Name: args | short form}``."""
        return layer_json_schema()

    @property
    def keras_class(self) -> str | None:
        """The Keras class this entry names (``dense`` -> ``Dense``), or None if unknown."""
        return layer_class(self.type)


INPUT_NAME = "features"  # the model's input, as graph nodes' `inputs:` and exports name it
SEQ2SEQ_INPUTS = ("source", "decoder")  # seq2seq: input token ids; output tokens so far
SEQ2SEQ_SIZES = ("source_vocab", "target_vocab")  # seq2seq: layer arguments set from the data
NODE_KEYS = {"name", "inputs", "share"}
NESTED_LAYER_ARGS = {"layer", "backward_layer"}  # a wrapper's inner layer: Bidirectional's layer:
MERGES = {"Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"}


class NodeSpec(Section):
    """A graph node: ``{name: c1, inputs: [x], Conv2D: {filters: 32}}``, or ``share: c1``."""

    name: str | None = Field(None, description="unique name that later nodes' inputs refer to")
    inputs: list[str] | None = Field(
        None, description="earlier nodes or model inputs; default: the previous node"
    )
    share: str | None = Field(None, description="reuse the layer (and weights) of this node")
    layer: LayerSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_entry(cls, entry: Any) -> Any:
        if entry is None:
            raise ValueError(
                "an empty node; a node needs a layer (e.g. 'Dense: 64') or 'share: NODE'"
            )
        if not isinstance(entry, dict):
            return {"layer": entry}
        node = {k: v for k, v in entry.items() if k in NODE_KEYS}
        rest = {k: v for k, v in entry.items() if k not in NODE_KEYS}
        if isinstance(node.get("inputs"), str):
            node["inputs"] = [node["inputs"]]
        if len(rest) > 1:
            raise ValueError(f"a node holds one layer; found {', '.join(map(str, rest))}")
        if rest:
            node["layer"] = rest
        elif "share" not in node:
            raise ValueError("a node needs a layer (e.g. 'Dense: 64') or 'share: NODE'")
        return node

    @model_serializer
    def _to_entry(self) -> dict[str, Any]:
        entry = {k: getattr(self, k) for k in ("name", "inputs", "share") if getattr(self, k)}
        return entry | (self.layer.model_dump() if self.layer else {})


class InputSpec(Section):
    shape: list[PositiveInt] = Field(description="shape of one sample")
    dtype: Literal["float32", "int32", "string"] = Field("float32", description="element type")


class NetworkSpec(Section):
    """A Sequential ``layers:`` list or a graph of named ``nodes:``, fed by its owner."""

    layers: list[LayerSpec] | None = Field(
        None, min_length=1, max_length=MAX_LAYERS, description="a Sequential stack, first to last"
    )
    nodes: list[NodeSpec] | None = Field(
        None, min_length=1, max_length=MAX_LAYERS, description="graph form: named layer nodes"
    )
    outputs: list[str] | None = Field(None, description="graph form: output nodes; default: last")
    max_parameters: PositiveInt = Field(
        10**9, description="refuse to build a larger model (a spec is untrusted data)"
    )

    @model_validator(mode="after")
    def _one_form(self) -> NetworkSpec:
        if self.layers is None and self.nodes is None:
            raise ValueError(
                "missing required key 'layers' (a Sequential stack) or 'nodes' (a graph)"
            )
        if self.layers is not None and self.nodes is not None:
            raise ValueError("give either 'layers' (a stack) or 'nodes' (a graph), not both")
        if self.outputs and self.layers is not None:
            raise ValueError("'outputs' belongs to the graph form ('nodes')")
        return self

    @property
    def graph(self) -> list[NodeSpec]:
        """Both forms as a graph: a stack is a chain of unnamed nodes."""
        if self.nodes is not None:
            return self.nodes
        return [NodeSpec.model_construct(layer=layer) for layer in self.layers]

    def as_model(self) -> ModelSpec:
        """This network as a model section whose inputs are taken from the data."""
        return ModelSpec.model_construct(**{k: getattr(self, k) for k in NetworkSpec.model_fields})


class ModelSpec(NetworkSpec):
    """``model``: a network and, optionally, the shape of its inputs."""

    input_shape: list[PositiveInt | None] | None = Field(
        None,
        description="shape of one sample; default: taken from the data. null leaves a "
        "dimension free (e.g. [null, 9]: sequences of any length)",
    )
    inputs: dict[str, InputSpec] | None = Field(
        None, description="graph form, several inputs: name -> shape (the data has arrays by name)"
    )

    @model_validator(mode="after")
    def _inputs_in_graph(self) -> ModelSpec:
        if self.inputs and self.layers is not None:
            raise ValueError("'inputs' belongs to the graph form ('nodes')")
        return self


# ---------------------------------------------------------------------------------- optimizer
class StepDecay(Section):
    type: Literal["step_decay"]
    factor: Annotated[float, Field(gt=0, le=1)] = Field(0.5, description="0.5 halves the rate")
    every_epochs: PositiveInt = Field(description="multiply the rate by factor every N epochs")


class ExponentialDecay(Section):
    type: Literal["exponential_decay"]
    rate: Annotated[float, Field(gt=0, le=1)] = Field(0.96, description="smooth decay factor")
    every_epochs: PositiveInt = Field(1, description="epochs over which the rate decays by rate")


class CosineDecay(Section):
    type: Literal["cosine_decay"]
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(0.0, description="final rate fraction")
    warmup_epochs: NonNegativeInt = Field(0, description="linear warm-up from 0 first")


class ReduceOnPlateau(Section):
    type: Literal["reduce_on_plateau"]
    monitor: str = Field("val_loss", description="the quantity that must improve")
    factor: Annotated[float, Field(gt=0, lt=1)] = Field(0.5, description="rate multiplier")
    patience: NonNegativeInt = Field(5, description="epochs without improvement first")
    min_delta: Annotated[float, Field(ge=0)] = Field(
        1e-4, description="smallest change that counts"
    )
    min_lr: Annotated[float, Field(ge=0)] = Field(0.0, description="lower bound of the rate")


Schedule = Annotated[
    StepDecay | ExponentialDecay | CosineDecay | ReduceOnPlateau, Field(discriminator="type")
]


CLIPPING = ("clipnorm", "global_clipnorm", "clipvalue")


class OptimizerSpec(Section):
    """Any other key is passed to the Keras optimizer (momentum, nesterov, beta_1, ...)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field("adam", description="sgd, adam, adamw, rmsprop, adagrad, ... (Keras names)")
    learning_rate: PositiveFinite = Field(0.001, description="initial learning rate, > 0")
    schedule: Schedule | None = Field(None, description="learning-rate schedule (below)")
    clipnorm: PositiveFinite | None = Field(None, description="clip each gradient's norm")
    global_clipnorm: PositiveFinite | None = Field(
        None, description="clip the norm of all gradients together"
    )
    clipvalue: PositiveFinite | None = Field(None, description="clip each gradient element")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_clipping(self) -> OptimizerSpec:
        given = [k for k in CLIPPING if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(
                f"{' and '.join(given)} both clip gradients; keep one of clipnorm (per "
                "variable), global_clipnorm (all gradients together) or clipvalue"
            )
        return self

    @property
    def args(self) -> dict[str, Any]:
        """The extra Keras arguments, clipping included."""
        clipping = {k: getattr(self, k) for k in CLIPPING if getattr(self, k) is not None}
        return dict(self.model_extra or {}) | clipping


# -------------------------------------------------------------------------------------- train
class EarlyStopping(Section):
    monitor: str = Field("val_loss", description="loss, a metric, or val_ + either")
    patience: NonNegativeInt = Field(5, description="epochs without improvement before stopping")
    min_delta: Annotated[float, Field(ge=0)] = Field(0.0, description="smallest change that counts")
    mode: Literal["auto", "min", "max"] = Field("auto", description="whether lower is better")
    restore_best_weights: bool = Field(True, description="end with the best epoch's weights")


class CheckpointSpec(Section):
    every_steps: PositiveInt | None = Field(
        None,
        description="also checkpoint every N training steps (mid-epoch; a multiple of "
        "steps_per_call)",
    )
    keep_last: PositiveInt = Field(
        3, description="checkpoints kept (the one a run resumed from is kept as well)"
    )


Mode = Literal["supervised", "autoencoder", "seq2seq", "gan", "actor_critic"]
# The sections each training mode needs; the others do not apply to it (checks.py enforces both).
MODE_SECTIONS: dict[str, tuple[str, ...]] = {
    "supervised": ("data", "model", "loss"),
    "autoencoder": ("data", "model", "loss"),
    "seq2seq": ("data", "model", "loss"),
    "gan": ("data", "gan"),
    "actor_critic": ("env", "model", "agent"),
}
MODE_ONLY_SECTIONS = ("data", "model", "loss", "gan", "env", "agent")


class TrainSpec(Section):
    mode: Mode = Field(
        "supervised",
        description="supervised: learn the targets; autoencoder: reconstruct the input "
        "as the model sees it after preprocessing (put GaussianNoise first to denoise); "
        "seq2seq: strings to strings, teacher forcing; gan: the gan section; actor_critic: "
        "the env and agent sections",
    )
    epochs: PositiveInt = Field(10, description="passes over the training split")
    batch_size: PositiveInt = Field(32, description="samples per gradient step")
    validation: Rate | DataSpec = Field(
        0.1, description="fraction of the training split, or a data source of its own"
    )
    shuffle: bool = Field(True, description="reshuffle the training split every epoch")
    early_stopping: EarlyStopping | None = Field(None, description="stop when monitor stalls")
    class_weight: dict[int | str, PositiveFinite] | Literal["balanced"] | None = Field(
        None,
        description="loss weight per class, by index (0, 1, ...) or name (the label as the data "
        "writes it); or balanced (inverse frequency)",
    )
    checkpoint: CheckpointSpec = Field(
        default_factory=CheckpointSpec, description="checkpoints in RUN/checkpoints"
    )
    steps_per_call: PositiveInt | Literal["auto"] = Field(
        "auto",
        description="training steps in one compiled call; logs, callbacks' batch hooks, "
        "signals and checkpoints act between calls. auto: the largest of 16, 8, 4, 2, 1 "
        "that divides checkpoint.every_steps",
    )


class ExportSpec(Section):
    format: Literal["saved_model", "keras", "tflite", "onnx"] = Field(
        "saved_model", description="what export writes (onnx needs the onnx extra)"
    )
    tolerance: PositiveFinite = Field(
        1e-5,
        description="largest allowed difference between export and model outputs (relative "
        "to the largest output where that is over 1)",
    )
    encoder: str | None = Field(
        None, description="also export the model up to this layer or node (and the rest) apart"
    )


# ---------------------------------------------------------------------------------------- gan
GAN_LOGS = ("d_loss", "g_loss", "real_score", "fake_score")  # logged every epoch
GAN_QUALITY = ("confidence", "class_entropy", "classifier_score")  # with a scorer


ADAM_FAMILY = ("adam", "adamw", "adamax", "nadam")


class GanOptimizerSpec(OptimizerSpec):
    """A GAN adversary's optimizer: DCGAN's Adam (learning rate 2e-4, beta_1 0.5) by default."""

    learning_rate: PositiveFinite = Field(2e-4, description="initial learning rate, > 0")

    @model_validator(mode="before")
    @classmethod
    def _dcgan_beta_1(cls, value: Any) -> Any:
        value = {"name": value} if isinstance(value, str) else value
        if isinstance(value, dict) and value.get("name", "adam") in ADAM_FAMILY:
            return {"beta_1": 0.5} | value
        return value


class SampleGridSpec(Section):
    rows: PositiveInt = Field(8, description="rows of the grid of samples saved every epoch")
    columns: PositiveInt = Field(8, description="columns of that grid")
    image_shape: list[PositiveInt] | None = Field(
        None,
        min_length=2,
        max_length=3,
        description="how to draw one sample: [height, width] or [height, width, channels]; "
        "default: the sample's shape, or a square for flat samples",
    )


DCGAN_ADAM = (
    "DCGAN's by default: adam, learning_rate 2e-4, beta_1 0.5 (beta_1 is 0.5 for any "
    "Adam-family optimizer unless given)"
)


class GanNetworkSpec(NetworkSpec):
    """A GAN's network: the GAN gives its input (noise to the generator, samples to the others)."""

    REFUSED: ClassVar[dict[str, str]] = dict.fromkeys(
        ("input_shape", "inputs"),
        "a GAN gives its networks their inputs: the generator gan.latent_dim values of noise, "
        "the discriminator and scorer samples as the data's preprocessing leaves them",
    )


class ScorerSpec(GanNetworkSpec):
    """A classifier of the real data (layers or nodes, ending in a softmax over the classes)."""

    epochs: PositiveInt = Field(10, description="epochs on the real training split")
    batch_size: PositiveInt = Field(64, description="samples per gradient step")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec, description="its optimizer")


class GanSpec(Section):
    """``train.mode: gan``: a generator and a discriminator trained against each other."""

    latent_dim: PositiveInt = Field(
        100, description="size of the generator's input: noise drawn from a standard normal"
    )
    generator: GanNetworkSpec = Field(
        description="latent_dim noise -> one sample, shaped as the data after preprocessing "
        "(a graph's input is named features)"
    )
    discriminator: GanNetworkSpec = Field(
        description="one sample -> one score: a logit, or a probability if the last "
        "activation is sigmoid"
    )
    generator_optimizer: GanOptimizerSpec = Field(
        default_factory=GanOptimizerSpec,
        description=DCGAN_ADAM,
    )
    discriminator_optimizer: GanOptimizerSpec = Field(
        default_factory=GanOptimizerSpec,
        description=DCGAN_ADAM,
    )
    label_smoothing: Rate = Field(
        0.0,
        description="one-sided: the discriminator's target for real samples is "
        "1 - label_smoothing (fakes stay 0)",
    )
    discriminator_steps: PositiveInt = Field(
        1, description="discriminator updates per generator update, each with fresh noise"
    )
    samples: SampleGridSpec = Field(
        default_factory=SampleGridSpec,
        description="a grid of samples from fixed noise, RUN/samples/epoch-NNNN.png",
    )
    scorer: ScorerSpec | None = Field(
        None,
        description="a classifier trained on the real data first, then frozen; it scores "
        "generated samples: mean confidence, entropy of the predicted classes, classifier score",
    )

    def logs(self) -> tuple[str, ...]:
        """What training logs each epoch (``val_`` + these with validation data)."""
        return GAN_LOGS + (GAN_QUALITY if self.scorer is not None else ())


# ------------------------------------------------------------------------------- actor_critic
class EnvSpec(Section):
    """``train.mode: actor_critic``: the Gymnasium environment the agent acts in."""

    id: str = Field(
        description="a Gymnasium environment id with discrete actions, e.g. CartPole-v1 "
        "(classic-control environments run offline)"
    )
    max_episode_steps: PositiveInt | None = Field(
        None,
        description="cut every episode off after this many steps (a time limit, not a failure); "
        "default: the environment's own (CartPole-v1: 500)",
    )
    args: dict[str, bool | int | float | str] = Field(
        default_factory=dict, description="keyword arguments for gymnasium.make"
    )


class AgentSpec(Section):
    """``train.mode: actor_critic``: advantage actor-critic. The model is a graph whose
    ``outputs: [POLICY, VALUE]`` are the action probabilities (a softmax over the actions) and
    the critic's estimate of the return (one unit); one trunk with two heads, or two towers."""

    policy: str = Field("policy", description="the output node of action probabilities")
    value: str = Field("value", description="the output node of the critic's estimate")
    episodes: PositiveInt = Field(1000, description="the most episodes to train")
    discount: Annotated[float, Field(gt=0, le=1)] = Field(
        0.99, description="gamma: what a reward one step later is worth"
    )
    update_every: PositiveInt | None = Field(
        None,
        description="update after this many steps, the rest of the return estimated by the "
        "critic (n-step); default: once per episode, on its whole returns",
    )
    gae_lambda: Annotated[float, Field(ge=0, le=1)] = Field(
        1.0,
        description="generalized advantage estimation: 1 weighs the observed returns alone, "
        "lower trusts the critic more (less variance, more bias)",
    )
    normalize_returns: bool = Field(
        False,
        description="standardize each episode's returns before the critic learns them, as "
        "keras.io's example does (once-per-episode updates only)",
    )
    normalize_advantages: bool = Field(
        False, description="standardize the advantages of each update"
    )
    entropy: Annotated[Finite, Field(ge=0)] = Field(
        0.0, description="entropy bonus: rewards a policy that keeps exploring"
    )
    value_weight: PositiveFinite = Field(
        0.5, description="weight of the critic's loss beside the actor's"
    )
    value_loss: Literal["huber", "mse"] = Field("huber", description="the critic's loss")
    reward_scale: PositiveFinite = Field(
        1.0, description="multiply rewards by this before learning (keeps values small)"
    )
    smoothing: Annotated[float, Field(gt=0, le=1)] = Field(
        0.05,
        description="running reward = smoothing * episode return + (1 - smoothing) * "
        "running reward (starts at 0)",
    )
    solved_at: Finite | None = Field(
        None,
        description="stop once the running reward exceeds this (keras.io: 195 on CartPole); "
        "default: train every episode",
    )
    evaluation_episodes: PositiveInt = Field(
        100, description="episodes the trained policy plays in evaluation (seeded apart)"
    )
    greedy_evaluation: bool = Field(
        False, description="evaluate the most probable action instead of sampling the policy"
    )
    checkpoint_every: PositiveInt = Field(
        10, description="episodes between checkpoints (also on interruption and at the end)"
    )


# --------------------------------------------------------------------------------------- spec
def _source_first(section: Any) -> Any:
    """A data section with ``source`` first, as users write it."""
    if not isinstance(section, dict):
        return section
    return {"source": section["source"], **{k: v for k, v in section.items() if k != "source"}}


class Spec(Section):
    version: Literal[1] = Field(1, description="spec language version")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)] = Field(
        description="names the run directory and the model"
    )
    description: str = Field("", description="free text, kept in the run directory")
    seed: NonNegativeInt = Field(42, description="seeds data splits, initial weights and shuffling")
    data: DataSpec | None = Field(None, description="where examples come from (not actor_critic)")
    model: ModelSpec | None = Field(None, description="the network (gan: see the gan section)")
    loss: str | dict[str, Any] | None = Field(
        None,
        description="a Keras loss name, or {name: huber, delta: 2}; several outputs: "
        "output node -> loss",
    )
    loss_weights: dict[str, PositiveFinite] | None = Field(
        None, description="several outputs: output node -> weight of its loss in the total"
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    metrics: list[str] | dict[str, list[str]] = Field(
        default_factory=list,
        description="Keras metric names, e.g. accuracy; several outputs: output node -> names",
    )
    train: TrainSpec = Field(default_factory=TrainSpec)
    export: ExportSpec = Field(default_factory=ExportSpec)
    gan: GanSpec | None = Field(None, description="train.mode gan: generator, discriminator")
    env: EnvSpec | None = Field(None, description="train.mode actor_critic: the environment")
    agent: AgentSpec | None = Field(None, description="train.mode actor_critic: how it learns")
    _source: SourceMap | None = PrivateAttr(None)

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model's inputs, as graph nodes' ``inputs:`` name them."""
        if self.train.mode == "seq2seq":
            return SEQ2SEQ_INPUTS
        if self.model is not None and self.model.inputs:
            return tuple(self.model.inputs)
        return (INPUT_NAME,)

    def error(self, path: PathKey, message: str) -> SpecError:
        """A SpecError located at ``path`` in the file this spec came from."""
        source = self._source or SourceMap("<spec>")
        return SpecError([source.problem(path, message)])

    @property
    def file(self) -> str:
        return self._source.file if self._source else "<spec>"

    def resolved(self) -> dict[str, Any]:
        """The spec as plain data with every default filled in (what a run directory stores)."""
        resolved = self.model_dump(mode="json", exclude_none=True)
        if "data" in resolved:
            resolved["data"] = _source_first(resolved["data"])
        resolved["train"]["validation"] = _source_first(resolved["train"]["validation"])
        return resolved
