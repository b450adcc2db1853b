"""``train.mode: seq2seq``: strings in, strings out.

Vocabularies come from the training split and are stored in the run directory. The model has two
inputs: ``source`` (the input string's token ids) and ``decoder`` (the output so far, after a start
token); it predicts the next output token at every position. Training feeds the true output
(teacher forcing); inference decodes greedily, one token per step, inside one TensorFlow function
that maps a batch of strings to a batch of strings — the same function evaluation, ``nnctl
predict`` and the exported SavedModel run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data import Dataset, Split
from nnctl.errors import UserError
from nnctl.keras_env import import_keras
from nnctl.spec.schema import SEQ2SEQ_INPUTS, SEQ2SEQ_SIZES

SOURCE, DECODER = SEQ2SEQ_INPUTS  # the model's inputs, as graph nodes' `inputs:` name them
PAD, UNK, START, END = "", "[UNK]", "[START]", "[END]"
SPECIALS = (PAD, UNK, START, END)  # ids 0..3 in both vocabularies; tokens follow
DECODE_BATCH = 512


@dataclass(frozen=True)
class Vocabularies:
    """Token lists (index = id) and the padded lengths the model was built for."""

    tokens: str  # "characters" | "words"
    source: list[str]
    target: list[str]
    source_length: int
    target_length: int  # output tokens + the end token

    @property
    def sizes(self) -> dict[str, int]:
        return dict(zip(SEQ2SEQ_SIZES, (len(self.source), len(self.target)), strict=True))

    @property
    def separator(self) -> str:
        return "" if self.tokens == "characters" else " "

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def read(cls, path: Path) -> Vocabularies:
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise UserError(f"{path}: cannot read the run's vocabularies ({exc})") from None


def tokenize(text: str, tokens: str) -> list[str]:
    return list(text) if tokens == "characters" else text.split()


def build_vocabularies(train: Split, tokens: str) -> Vocabularies:
    """Every token of the training split's inputs and outputs, in sorted order, after the
    special tokens; lengths are the longest training input and output (+ end token)."""
    sources = [tokenize(str(s), tokens) for s in train.x]
    targets = [tokenize(str(s), tokens) for s in train.y]
    if not sources:
        raise UserError("data: the training split is empty; seq2seq needs string pairs")

    def vocabulary(rows):
        return [*SPECIALS, *sorted({t for row in rows for t in row} - set(SPECIALS))]

    return Vocabularies(
        tokens=tokens,
        source=vocabulary(sources),
        target=vocabulary(targets),
        source_length=max(1, max(map(len, sources))),
        target_length=max(map(len, targets)) + 1,
    )


def encode(
    dataset: Dataset, tokens: str, vocab: Vocabularies | None = None
) -> tuple[Dataset, Vocabularies]:
    """Each split as model inputs ``{source, decoder}`` and next-token targets, with ``vocab``
    (a trained run's) or vocabularies built from the training split."""
    vocab = vocab or build_vocabularies(dataset.train, tokens)
    parts = {}
    for name in ("train", "validation", "test"):
        part = getattr(dataset, name)
        parts[name] = None if part is None else _encode_split(part, vocab)
    return dataclasses.replace(dataset, **parts, num_classes=None, class_names=None), vocab


def _encode_split(part: Split, vocab: Vocabularies) -> Split:
    source = _ids([tokenize(str(s), vocab.tokens) for s in part.x], vocab.source,
                  vocab.source_length)  # fmt: skip
    outputs = [tokenize(str(s), vocab.tokens)[: vocab.target_length - 1] for s in part.y]
    decoder = _ids([[START, *row] for row in outputs], vocab.target, vocab.target_length)
    target = _ids([[*row, END] for row in outputs], vocab.target, vocab.target_length)
    return Split({SOURCE: source, DECODER: decoder}, target)


def _ids(rows: list[list[str]], vocabulary: list[str], length: int) -> np.ndarray:
    """Token rows as int32 ids, unknown tokens as UNK, cut or 0-padded to ``length``."""
    index = {token: i for i, token in enumerate(vocabulary)}
    out = np.zeros((len(rows), length), dtype=np.int32)
    for row, tokens in zip(out, rows, strict=True):
        ids = [index.get(t, 1) for t in tokens[:length]]
        row[: len(ids)] = ids
    return out


def normalized(text: str, vocab: Vocabularies) -> str:
    """A reference output as decoding writes it (words: single spaces)."""
    return vocab.separator.join(tokenize(text, vocab.tokens))


# ------------------------------------------------------------------------------- decoding
def decoder(model, vocab: Vocabularies):
    """A ``tf.function``: a batch of input strings -> the greedily decoded output strings."""
    import tensorflow as tf

    keras = import_keras()
    source_lookup = keras.layers.StringLookup(
        vocabulary=list(vocab.source[2:]), mask_token=PAD, oov_token=UNK, output_mode="int"
    )
    target_tokens = tf.constant(vocab.target)
    start, end = vocab.target.index(START), vocab.target.index(END)
    length = vocab.target_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def decode(text):
        if vocab.tokens == "characters":
            pieces = tf.strings.unicode_split(text, "UTF-8")
        else:
            pieces = tf.strings.split(text)
        ids = tf.ragged.map_flat_values(source_lookup, pieces)
        source = tf.cast(ids.to_tensor(0, shape=[None, vocab.source_length]), tf.int32)
        batch = tf.shape(source)[0]
        columns = tf.range(length)[None, :]
        # the decoder's input: START, the tokens produced so far, then padding
        tokens = tf.where(columns == 0, start, tf.zeros([batch, length], tf.int32))
        produced = tf.zeros([batch, length], tf.int32)
        for step in tf.range(length):  # one model call in a graph loop, not ``length`` copies
            logits = model({SOURCE: source, DECODER: tokens}, training=False)
            best = tf.argmax(tf.gather(logits, step, axis=1), axis=-1, output_type=tf.int32)
            produced = tf.where(columns == step, best[:, None], produced)
            tokens = tf.where(columns == step + 1, best[:, None], tokens)
        ended = tf.cumsum(tf.cast(produced == end, tf.int32), axis=1) > 0
        keep = ~ended & (produced > end)  # no padding, unknown, start or end tokens
        words = tf.ragged.boolean_mask(tf.gather(target_tokens, produced), keep)
        return tf.strings.reduce_join(words, axis=1, separator=vocab.separator)

    decode.lookup = source_lookup  # keep the lookup table alive with the function
    return decode


def decode_all(decode, texts, batch_size: int = DECODE_BATCH) -> list[str]:
    """Run ``decode`` over ``texts`` in batches; return Python strings."""
    import tensorflow as tf

    out = []
    for start in range(0, len(texts), batch_size):
        chunk = tf.constant([str(t) for t in texts[start : start + batch_size]], tf.string)
        decoded = decode(chunk)
        decoded = next(iter(decoded.values())) if isinstance(decoded, dict) else decoded
        out += [s.decode("utf-8") for s in decoded.numpy()]
    return out


def exact_match(decode, vocab: Vocabularies, part: Split) -> float:
    """Fraction of ``part``'s input strings that ``decode`` turns into exactly their output."""
    if len(part.x) == 0:
        return float("nan")
    predicted = decode_all(decode, part.x)
    truth = [normalized(str(t), vocab) for t in part.y]
    return float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))


def string_predictor(decode, *keep_alive):
    """A ``Predictor`` taking rows of one input string and returning the decoded strings;
    ``keep_alive`` holds what ``decode`` needs to stay loaded (a SavedModel)."""
    from nnctl.predictors import Predictor

    def run(x: np.ndarray, _alive=keep_alive) -> np.ndarray:
        texts = [str(row) for row in x.reshape(len(x), -1)[:, 0]]
        return np.array(decode_all(decode, texts), dtype=object)

    return Predictor(run, (1,), "string")


def run_predictor(run):
    """Strings in, greedily decoded strings out, from a trained seq2seq run."""
    from nnctl.rundir import VOCABULARIES, load_run

    _, model = load_run(run)
    return string_predictor(decoder(model, Vocabularies.read(run.file(VOCABULARIES))))
