"""``data``: every source, its keys, and the facts it tells without reading data."""

from __future__ import annotations

import typing
from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator
from pydantic.json_schema import WithJsonSchema

from nnctl.spec.schema.base import (
    Column,
    Finite,
    NonNegativeInt,
    PositiveFinite,
    PositiveInt,
    Rate,
    Section,
    _fraction_string,
)


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
        ),
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

    # What the source tells without reading data (``validate --build`` builds on it); each
    # source class answers for itself.
    files: ClassVar[tuple[str, ...]] = ()  # its keys that name files, relative to the spec
    globs: ClassVar[tuple[str, ...]] = ()  # those of them that may be glob patterns (shards)
    string_pairs: ClassVar[bool] = False  # it gives (input string, output string) pairs
    forecast: ClassVar[bool] = False  # windows of one series: judged against "next = last"

    def known_classes(self) -> int | None:
        """The number of classes (None: not classes, or only its files can tell)."""
        return None

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        """(shape, dtype) of one sample, or None when only its files can tell."""
        return None


class Fixed(DataCommon):
    """A source of fixed-shape samples and a known number of classes."""

    SHAPE: ClassVar[tuple[int, ...]]
    CLASSES: ClassVar[int]

    def known_classes(self) -> int | None:
        return self.CLASSES

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return self.SHAPE, "float32"


class Digits(Fixed):
    source: Literal["digits"] = Field(description="scikit-learn's 8x8 handwritten digits (offline)")
    SHAPE, CLASSES = (64,), 10


class Iris(Fixed):
    source: Literal["iris"] = Field(description="scikit-learn's iris flowers (offline)")
    SHAPE, CLASSES = (4,), 3


class BreastCancer(Fixed):
    source: Literal["breast_cancer"] = Field(description="scikit-learn's breast cancer (offline)")
    SHAPE, CLASSES = (30,), 2


class MakeRegression(DataCommon):
    source: Literal["make_regression"] = Field(description="scikit-learn's generated regression")
    n_samples: PositiveInt = Field(100, description="number of samples generated")
    n_features: PositiveInt = Field(1, description="number of features")
    n_informative: PositiveInt | None = Field(None, description="features that carry signal")
    noise: Annotated[Finite, Field(ge=0)] = Field(0.0, description="std of Gaussian noise added")
    bias: Finite = Field(0.0, description="intercept of the true model")

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return (self.n_features,), "float32"


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

    def known_classes(self) -> int | None:
        return self.n_classes

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return (self.n_features,), "float32"


class MakeMoons(Fixed):
    source: Literal["make_moons"] = Field(description="two interleaving half circles")
    SHAPE, CLASSES = (2,), 2
    n_samples: PositiveInt = Field(100, description="number of samples generated")
    noise: Annotated[Finite, Field(ge=0)] = Field(0.0, description="std of Gaussian noise added")


class Sunspots(DataCommon):
    source: Literal["sunspots"] = Field(
        description="statsmodels' yearly sunspot numbers, 1700-2008, as a forecasting series"
    )
    window: PositiveInt = Field(12, description="past years given as input to predict the next")
    forecast: ClassVar[bool] = True

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return (self.window, 1), "float32"


class KerasImages(DataCommon):
    source: Literal["mnist", "fashion_mnist", "cifar10"] = Field(
        description="Keras image sets (download; fashion_mnist also from Debian's package)"
    )
    path: str | None = Field(
        None, description="local copy: a directory of the files Keras downloads, or mnist.npz"
    )
    files: ClassVar[tuple[str, ...]] = ("path",)
    SHAPES: ClassVar[dict[str, tuple[int, ...]]] = {
        "mnist": (28, 28),
        "fashion_mnist": (28, 28),
        "cifar10": (32, 32, 3),
    }

    def known_classes(self) -> int | None:
        return 10

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return self.SHAPES[self.source], "float32"


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
    files: ClassVar[tuple[str, ...]] = ("path",)

    def known_classes(self) -> int | None:
        return 2

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return ((1,), "string") if self.text else ((self.maxlen,), "int32")


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
    stream: bool = Field(
        False,
        description="read feature rows from the file as batches need them instead of loading it: "
        "data larger than memory (one pass first notes each row's place, 8 bytes a row; targets "
        "are loaded; not with text)",
    )
    files: ClassVar[tuple[str, ...]] = ("path",)

    @field_validator("stream")
    @classmethod
    def _numbers_streamed(cls, stream: bool, info: ValidationInfo) -> bool:
        if stream and info.data.get("text"):
            raise ValueError(
                "streams numeric columns only; text features are loaded whole: remove stream"
            )
        return stream


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
    files: ClassVar[tuple[str, ...]] = ("path",)


class Npy(DataCommon):
    source: Literal["npy"] = Field(description="two NumPy .npy files")
    path: str = Field(description="features .npy")
    target_path: str = Field(description="targets .npy")
    stream: bool = Field(
        False,
        description="read feature rows from the file as batches need them instead of loading "
        "it: data larger than memory (C-ordered numbers; targets are loaded)",
    )
    files: ClassVar[tuple[str, ...]] = ("path", "target_path")


class ImageFolder(DataCommon):
    source: Literal["image_folder"] = Field(
        description="a folder with one subfolder of images per class (PNG, JPEG, BMP, GIF), "
        "decoded and resized as batches need them"
    )
    path: str = Field(description="the folder, relative to the spec")
    image_size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = Field(
        description="[height, width] every image is resized to"
    )
    color: Literal["rgb", "grayscale"] = Field("rgb", description="rgb: 3 channels; grayscale: 1")
    test_path: str | None = Field(
        None, description="a folder of the same class subfolders: the test split"
    )
    files: ClassVar[tuple[str, ...]] = ("path", "test_path")

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        channels = 3 if self.color == "rgb" else 1
        return (*self.image_size, channels), "float32"


class RecordFeature(Section):
    """A fixed-length feature of every tf.train.Example (a ``tf.io.FixedLenFeature``)."""

    shape: Annotated[list[PositiveInt], Field(min_length=1)] = Field(
        description="its shape in each record, e.g. [28, 28]; [1] for one number"
    )
    dtype: Literal["float32", "int64"] = Field(
        "float32", description="float32 (a float_list) or int64 (an int64_list)"
    )


class TargetFeature(Section):
    name: str = Field(description="the feature of each record that holds its target")
    shape: list[PositiveInt] = Field(
        default_factory=list, description="its shape in each record; [] for one value"
    )
    dtype: Literal["int64", "float32"] = Field(
        "int64", description="int64 (class labels, an int64_list) or float32 (a float_list)"
    )


class Tfrecord(DataCommon):
    source: Literal["tfrecord"] = Field(
        description="TFRecord files of tf.train.Example records (uncompressed), read as batches "
        "need them; one pass first notes each record's place (8 bytes a record)"
    )
    path: str = Field(
        description="the file, or a glob of shards (train-*.tfrecord) read in name order"
    )
    test_path: str | None = Field(
        None, description="a file or glob of records like them: the test split"
    )
    features: dict[str, RecordFeature] = Field(
        description="the model's input: feature name -> {shape, dtype}; one feature"
    )
    target: TargetFeature = Field(description="{name, shape, dtype} of the target feature")
    files: ClassVar[tuple[str, ...]] = ("path", "test_path")
    globs: ClassVar[tuple[str, ...]] = ("path", "test_path")

    @field_validator("features")
    @classmethod
    def _one_input(cls, features: dict[str, RecordFeature]) -> dict[str, RecordFeature]:
        if len(features) != 1:
            raise ValueError(
                f"give exactly one feature, the model's input, not {len(features)} (several "
                "inputs from one TFRecord are not supported)"
            )
        return features

    @field_validator("target")
    @classmethod
    def _not_a_feature(cls, target: TargetFeature, info: ValidationInfo) -> TargetFeature:
        if target.name in info.data.get("features", {}):
            raise ValueError(f"{target.name!r} is the input feature too; name another feature")
        return target

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return tuple(next(iter(self.features.values())).shape), "float32"


class Idx(DataCommon):
    source: Literal["idx"] = Field(description="IDX files (MNIST format), gzipped or not")
    images: str = Field(description="training images file")
    labels: str = Field(description="training labels file")
    test_images: str | None = Field(None, description="test images file")
    test_labels: str | None = Field(None, description="test labels file")
    files: ClassVar[tuple[str, ...]] = ("images", "labels", "test_images", "test_labels")


class StringPairs(DataCommon):
    """Pairs of strings for ``train.mode: seq2seq``: an input string and the output string."""

    tokens: Literal["characters", "words"] = Field(
        "characters", description="vocabulary units: characters, or words split at spaces"
    )
    string_pairs: ClassVar[bool] = True


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
    files: ClassVar[tuple[str, ...]] = ("path",)


def copy_length(max_length: int) -> int:
    """Steps of a copy-task sample: the sequence, the delimiter, the answer."""
    return 2 * max_length + 1


def recall_length(item_length: int, max_items: int) -> int:
    """Steps of an associative-recall sample: the items, the query, the answer."""
    return max_items * (item_length + 1) + (item_length + 2) + item_length


class CopyTask(DataCommon):
    source: Literal["copy_task"] = Field(
        description="copy a sequence of random bit vectors after a delimiter (generated; "
        "targets: the bits, then a mask of the answer steps)"
    )
    bits: PositiveInt = Field(8, description="width of each bit vector")
    min_length: PositiveInt = Field(1, description="shortest sequence to copy")
    max_length: PositiveInt = Field(10, description="longest sequence to copy")
    n_samples: PositiveInt = Field(10000, description="sequences generated")

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        return (copy_length(self.max_length), self.bits + 1), "float32"

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

    def sample_shape(self) -> tuple[tuple[int, ...], str] | None:
        steps = recall_length(self.item_length, self.max_items)
        return (steps, self.bits + 2), "float32"

    @model_validator(mode="after")
    def _items(self) -> AssociativeRecall:
        if self.min_items > self.max_items:
            raise ValueError(f"min_items {self.min_items} is over max_items {self.max_items}")
        return self


DataSpec = Annotated[
    Digits | Iris | BreastCancer | MakeRegression | MakeClassification | MakeMoons
    | Sunspots | KerasImages | Imdb | Csv | Npz | Npy | Idx | ImageFolder | Tfrecord | Addition
    | Dates
    | TextPairs
    | CopyTask | AssociativeRecall,
    Field(discriminator="source"),
]  # fmt: skip
# Every source by name, and what follows from the facts each source class gives.
DATA_SOURCES: dict[str, type[DataCommon]] = {
    name: cls
    for cls in typing.get_args(typing.get_args(DataSpec)[0])
    for name in typing.get_args(cls.model_fields["source"].annotation)
}
# Sources read from files the spec must name (mnist or imdb may name a local copy, or download).
FILE_SOURCES = {
    name
    for name, cls in DATA_SOURCES.items()
    if any(cls.model_fields[key].is_required() for key in cls.files)
}
# The keys of a data section that name files (relative to the spec's folder).
PATH_KEYS = tuple(dict.fromkeys(key for cls in DATA_SOURCES.values() for key in cls.files))
STRING_PAIR_SOURCES = {name for name, cls in DATA_SOURCES.items() if cls.string_pairs}
MEMORY_TASKS = {"copy_task", "associative_recall"}
