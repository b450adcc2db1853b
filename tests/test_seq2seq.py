"""train.mode seq2seq: string-pair data, vocabularies, greedy decoding, and a string-to-string
SavedModel that writes what the trained model writes."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
from conftest import train_once

from nnctl.data import Dataset, Split
from nnctl.data.string_pairs import DATE_FORMATS, addition, dates
from nnctl.modes.seq2seq.strings import END, START, UNK, build_vocabularies, encode

# "7+5" -> "12" on all 100 one-digit sums: small enough to learn in seconds.
TINY = """
name: tiny_adder
seed: 5
data: {source: addition, n_samples: 100, digits: 1, test_split: 0.0}
model:
  nodes:
    - {inputs: [source], Embedding: {input_dim: source_vocab, output_dim: 16, mask_zero: true}}
    - {name: encoded, LSTM: {units: 48, return_sequences: true}}
    - {inputs: [decoder], Embedding: {input_dim: target_vocab, output_dim: 16, mask_zero: true}}
    - {name: decoded, LSTM: {units: 48, return_sequences: true}}
    - {name: context, inputs: [decoded, encoded], Attention: {}}
    - {inputs: [decoded, context], Concatenate: {}}
    - {Dense: {units: target_vocab}}
loss: {name: sparse_categorical_crossentropy, from_logits: true}
optimizer: {name: adam, learning_rate: 0.01}
train: {mode: seq2seq, epochs: 60, batch_size: 20, validation: 0.0}
"""


@pytest.fixture(scope="module")
def adder(tmp_path_factory):
    return train_once(tmp_path_factory, "seq2seq", TINY)


def test_addition_pairs_are_distinct_and_correct():
    raw = addition(500, 3, seed=1)
    assert len(set(raw.x)) == 500
    for question, answer in zip(raw.x, raw.y, strict=True):
        a, b = question.split("+")
        assert int(answer) == int(a) + int(b)
        assert len(a) <= 3
        assert len(b) <= 3
    with pytest.raises(Exception, match="only 100 distinct sums"):
        addition(101, 1, seed=1)


STRPTIME = {  # an independent reading of each format
    "3 May 1979": "%d %B %Y",
    "Thursday, 05/03/79": "%A, %m/%d/%y",
    "May 3, 1979": "%B %d, %Y",
    "3 may 79": "%d %B %y",
    "03.05.1979": "%d.%m.%Y",
    "Thu 3 May 1979": "%a %d %B %Y",
    "1979-05-03": "%Y-%m-%d",
    "MAY 3 1979": "%B %d %Y",
}


def test_dates_read_back_to_their_iso_date():
    raw = dates(2000, seed=4)
    assert set(STRPTIME) == set(DATE_FORMATS)
    for text, iso in zip(raw.x, raw.y, strict=True):
        readings = set()
        for pattern in STRPTIME.values():
            try:
                date = dt.datetime.strptime(text.title(), pattern).date()
            except ValueError:
                continue
            if date.year >= 2050:  # %y reads 50-68 as 2050-2068; the data covers 1950-2049
                date = date.replace(year=date.year - 100)
            readings.add(date.isoformat())
        assert iso in readings, text
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso)


def test_vocabularies_and_teacher_forcing_layout():
    train = Split(np.array(["12+3", "4+5"]), np.array(["15", "9"]))
    vocab = build_vocabularies(train, "characters")
    assert vocab.source[4:] == ["+", "1", "2", "3", "4", "5"]
    assert (vocab.source_length, vocab.target_length) == (4, 3)  # "15" + end
    data = Dataset(
        train, None, Split(np.array(["7+5"]), np.array(["12"])), "seq2seq", None, None, ""
    )
    encoded, _ = encode(data, "characters", vocab)
    target = vocab.target
    row = encoded.train
    assert [target[i] for i in row.x["decoder"][0]] == [START, "1", "5"]
    assert [target[i] for i in row.y[0]] == ["1", "5", END]
    assert [target[i] for i in row.y[1]] == ["9", END, ""]
    test_source = [vocab.source[i] for i in encoded.test.x["source"][0]]
    assert test_source == [UNK, "+", "5", ""]  # "7" never appeared in training


@pytest.mark.slow
def test_tiny_adder_learns_and_stores_its_vocabularies(adder):
    metrics = json.loads((adder / "metrics.json").read_text())
    assert metrics["train"]["exact_match"] >= 0.9  # greedy decoding, not teacher forcing
    vocab = json.loads((adder / "vocabularies.json").read_text())
    assert vocab["source"][4:] == sorted("+0123456789")
    assert "vocabularies.json" in json.loads((adder / "manifest.json").read_text())["sha256"]


@pytest.mark.slow
def test_evaluate_reports_exact_match(adder, cli):
    code, out, err = cli("evaluate", adder, "--split", "train", "--json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["exact_match"] == pytest.approx(
        json.loads((adder / "metrics.json").read_text())["train"]["exact_match"]
    )
    code, out, _ = cli("evaluate", adder, "--split", "train")
    assert "examples, greedy decoding" in out


@pytest.mark.slow
def test_export_maps_strings_to_the_same_strings(adder, cli, tmp_path):
    import tensorflow as tf

    from nnctl.modes.seq2seq.strings import Vocabularies, decode_all, decoder
    from nnctl.rundir import RunDir, load_run

    out = tmp_path / "adder"
    code, _, err = cli("export", adder, "--out", out)
    assert code == 0, err
    assert "same strings" in err
    questions = [f"{a}+{b}" for a in range(10) for b in range(10)]
    loaded = tf.saved_model.load(str(out))
    exported = decode_all(loaded.signatures["serving_default"], questions)
    _, model = load_run(RunDir.open(adder))
    vocab = Vocabularies.read(adder / "vocabularies.json")
    assert exported == decode_all(decoder(model, vocab), questions)
    correct = [
        e == str(sum(map(int, q.split("+")))) for q, e in zip(questions, exported, strict=True)
    ]
    assert np.mean(correct) >= 0.9
    code, _, err = cli("export", adder, "--format", "tflite", "--out", tmp_path / "a.tflite")
    assert code == 2
    assert "exports a SavedModel" in err


def test_seq2seq_needs_string_pairs_and_vocab_sizes_need_seq2seq(write_spec, cli):
    spec = write_spec(
        TINY.replace("source: addition, n_samples: 100, digits: 1,", "source: digits,")
    )
    code, _, err = cli("validate", spec)
    assert code == 2
    assert "seq2seq learns from string pairs" in err
    supervised = TINY.replace("mode: seq2seq, ", "")
    code, _, err = cli("validate", write_spec(supervised))
    assert code == 2
    assert "which train.mode seq2seq learns from" in err
    assert "size of a seq2seq vocabulary" in err
    assert ":6:" in err


@pytest.mark.slow
def test_text_pairs_read_from_csv(tmp_path, write_spec, cli):
    rows = "question,answer\n" + "".join(
        f"{a} plus {b},{a + b}\n" for a in range(9) for b in range(9)
    )
    (tmp_path / "pairs.csv").write_text(rows)
    text = TINY.replace(
        "{source: addition, n_samples: 100, digits: 1, test_split: 0.0}",
        "{source: text_pairs, path: pairs.csv, input: question, output: answer, tokens: words}",
    ).replace("epochs: 60", "epochs: 1")
    spec = write_spec(text)
    code, _, err = cli("train", spec, "--out", tmp_path / "run", "-q")
    assert code == 0, err
    vocab = json.loads((tmp_path / "run" / "vocabularies.json").read_text())
    assert "plus" in vocab["source"]
    assert vocab["tokens"] == "words"
    bad = write_spec(text.replace("input: question", "input: query"), "bad.yaml")
    code, _, err = cli("train", bad, "--out", tmp_path / "bad", "-q")
    assert code == 2
    assert "no column 'query'" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_predict_decodes_a_file_of_strings(adder, cli, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text("3+4\n9+9\n0+5\n")
    code, out, err = cli("predict", adder, "--input", questions)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "sample,output"
    assert len(lines) == 4
    code, _, err = cli("export", adder, "--out", tmp_path / "export")
    assert code == 0, err
    code, exported, err = cli("predict", tmp_path / "export", "--input", questions)
    assert code == 0, err
    assert exported == out  # the SavedModel writes what the run writes
