"""Text features and layers that learn from data: TextVectorization and Normalization adapted on
the training split inside the model, text CSVs and IMDB's text, and a model that takes raw strings
through training, resume, save, export and predict."""

from __future__ import annotations

import csv
import json
import re
import shutil
import tarfile

import numpy as np
import pytest
from text_data import reviews, write_csv

from nnctl.cli import main
from nnctl.data import load_dataset
from nnctl.data.text import model_input
from nnctl.errors import UserError
from nnctl.keras_env import import_keras
from nnctl.spec.schema import Spec
from nnctl.spec.validate import load_spec

SPEC = """
name: text
seed: 5
data: {source: csv, path: reviews.csv, target: label, text: true}
model:
  layers:
    - TextVectorization: {max_tokens: 1000, output_sequence_length: 32}
    - Embedding: {input_dim: 1000, output_dim: 16, mask_zero: true}
    - Bidirectional: {layer: {LSTM: {units: 8}}}
    - Dense: {units: 1, activation: sigmoid}
loss: binary_crossentropy
metrics: [accuracy]
train: {epochs: 3, batch_size: 32, validation: 0.2}
"""
MARKED = 300  # reviews, each with a word of its own ("w17"): which split it is in shows


def write_marked(path, seed: int = 1, marker: str = "w"):
    """Generated reviews, each ending with a word no other review has."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "label"])
        for i, (text, label) in enumerate(reviews(MARKED, seed)):
            writer.writerow([f"{text} {marker}{i}", label])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run of a small text classifier on raw strings; tests copy it to change it."""
    root = tmp_path_factory.mktemp("text")
    write_marked(root / "reviews.csv")
    (root / "spec.yaml").write_text(SPEC)
    assert main(["train", str(root / "spec.yaml"), "--out", str(root / "run"), "-q"]) == 0
    return root / "run"


def keras_model(run):
    return import_keras().saving.load_model(run / "model.keras", safe_mode=True)


def vocabulary_of(model) -> list[str]:
    """The vocabulary of the model's TextVectorization layer (its name varies by process)."""
    (layer,) = [layer for layer in model.layers if type(layer).__name__ == "TextVectorization"]
    return layer.get_vocabulary()


def words(text: str) -> set[str]:
    """The tokens TextVectorization's default standardization and split make of ``text``."""
    return set(re.sub(r"[^\w\s]", "", text.lower()).split())


def splits(run):
    spec, _ = load_spec(run / "spec.yaml")
    return load_dataset(spec.data, spec.train.validation, spec.seed, run)


# ----------------------------------------------------------------------------------- adapting
@pytest.mark.slow
def test_vocabulary_comes_from_the_training_split_only(trained):
    vocabulary = vocabulary_of(keras_model(trained))
    data = splits(trained)
    seen = set().union(*(words(t) for t in data.train.x[:, 0]))
    held_out = set().union(*(words(t) for t in [*data.validation.x[:, 0], *data.test.x[:, 0]]))
    assert vocabulary[:2] == ["", "[UNK]"]
    assert set(vocabulary[2:]) == seen  # every training word (under max_tokens), nothing else
    assert held_out - seen  # the other splits' marker words exist ...
    assert not (held_out - seen) & set(vocabulary)  # ... and are unknown to the model


@pytest.mark.slow
def test_normalization_layer_is_adapted_on_the_training_split(write_spec, tmp_path):
    from nnctl.build import build_model

    spec, _ = load_spec(
        write_spec("""
        name: norm
        data: {source: make_regression, n_samples: 200, n_features: 3, noise: 1.0}
        model:
          layers:
            - Normalization: {axis: -1}
            - Dense: 1
        loss: mse
        """)
    )
    data = load_dataset(spec.data, spec.train.validation, spec.seed, tmp_path)
    model = build_model(spec, data.train.x)
    norm = model.layers[1]
    assert type(norm).__name__ == "Normalization"
    np.testing.assert_allclose(norm.adapt_mean.numpy(), data.train.x.mean(axis=0), rtol=1e-5)
    everything = np.concatenate([data.train.x, data.validation.x, data.test.x])
    assert not np.allclose(norm.adapt_mean.numpy(), everything.mean(axis=0), rtol=1e-5)
    out = np.asarray(norm(data.train.x))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


@pytest.mark.slow
def test_layers_given_their_state_are_not_adapted(write_spec, tmp_path):
    from nnctl.build import build_model

    write_csv(tmp_path / "reviews.csv", 50)
    spec, _ = load_spec(
        write_spec("""
        name: fixed
        data: {source: csv, path: reviews.csv, target: label, text: true}
        model:
          layers:
            - TextVectorization: {vocabulary: [good, bad], output_sequence_length: 4}
            - Embedding: {input_dim: 4, output_dim: 2}
            - Flatten
            - Dense: {units: 1, activation: sigmoid}
        loss: binary_crossentropy
        """)
    )
    data = load_dataset(spec.data, spec.train.validation, spec.seed, tmp_path)
    model = build_model(spec, data.train.x)
    assert model.layers[1].get_vocabulary() == ["", "[UNK]", "good", "bad"]


@pytest.mark.slow
def test_checkpoints_restore_what_adapting_learned(write_spec, tmp_path):
    """A model adapted on other data ends with the checkpoint's vocabulary and statistics."""
    from nnctl.build import build_model, compile_model
    from nnctl.training.state import TrainState, capture, restore

    write_csv(tmp_path / "reviews.csv", 20)
    spec, _ = load_spec(
        write_spec("""
        name: both
        data: {source: csv, path: reviews.csv, target: label, text: true}
        model:
          nodes:
            - {name: text, inputs: [features], TextVectorization: {output_sequence_length: 4}}
            - {name: ids, Embedding: {input_dim: 50, output_dim: 2}}
            - {name: flat, Flatten: {}}
            - {name: norm, Normalization: {axis: -1}}
            - {name: out, Dense: 1}
        loss: mse
        """)
    )

    def model_on(texts):
        model = build_model(spec, np.array([[t] for t in texts], dtype=object))
        compile_model(model, spec, steps_per_epoch=1)
        return model

    first = model_on(["a good film", "a bad plot", "good good"])
    second = model_on(["other words entirely", "nothing alike", "zebra"])
    arrays, meta = capture(first, {}, TrainState())
    meta = json.loads(json.dumps(meta))  # as a checkpoint's state.json gives it back
    restore(second, {}, arrays, meta)
    assert second.get_layer("text").get_vocabulary() == first.get_layer("text").get_vocabulary()
    sample = model_input(np.array([["a good plot"], ["zebra film"]], dtype=object))
    np.testing.assert_array_equal(
        second.predict(sample, verbose=0), first.predict(sample, verbose=0)
    )


# ----------------------------------------------------------------------- the model, as written
@pytest.mark.slow
def test_keras_file_round_trips_in_safe_mode(trained):
    model = keras_model(trained)
    again = keras_model(trained)
    texts = np.array([["the film was not good"], ["the plot was great but slow"]], dtype=object)
    assert vocabulary_of(model) == vocabulary_of(again)
    assert model.inputs[0].dtype == "string"
    np.testing.assert_array_equal(
        model.predict(model_input(texts), verbose=0), again.predict(model_input(texts), verbose=0)
    )


@pytest.mark.slow
def test_export_takes_raw_strings(trained, tmp_path, cli):
    import tensorflow as tf

    code, _, err = cli("export", trained, "--out", tmp_path / "export")
    assert code == 0, err
    loaded = tf.saved_model.load(str(tmp_path / "export"))
    serve = loaded.signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.string
    texts = splits(trained).test.x
    (exported,) = serve(features=tf.constant(texts.astype(object))).values()
    expected = keras_model(trained).predict(model_input(texts), verbose=0)
    np.testing.assert_allclose(np.asarray(exported), expected, atol=1e-6)
    (tmp_path / "new.txt").write_text("\n".join(texts[:, 0]) + "\n")
    out = tmp_path / "predicted.npy"
    code, _, err = cli("predict", tmp_path / "export", "--input", tmp_path / "new.txt", "-o", out)
    assert code == 0, err
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_converted_formats_refuse_text_models_clearly(trained, tmp_path, cli, fmt):
    code, _, err = cli("export", trained, "--format", fmt, "--out", tmp_path / f"m.{fmt}")
    assert code == 2
    assert "takes text" in err
    assert "saved_model or keras" in err
    assert not (tmp_path / f"m.{fmt}").exists()


@pytest.mark.slow
def test_predict_reads_texts_from_csv_and_txt(trained, tmp_path, cli):
    texts = ["the film was not good.", 'the cast was "great", but the ending felt slow.']
    (tmp_path / "new.csv").write_text('review\nthe film was not good.\n"the cast was ""great"", '
                                      'but the ending felt slow."\n')  # fmt: skip
    (tmp_path / "new.txt").write_text("\n".join(texts) + "\n\n")
    outputs = []
    for source in ("new.csv", "new.txt"):
        out = tmp_path / f"{source}.json"
        code, _, err = cli("predict", trained, "--input", tmp_path / source, "--out", out)
        assert code == 0, err
        outputs.append(json.loads(out.read_text()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 2
    expected = keras_model(trained).predict(model_input(np.array([[t] for t in texts])), verbose=0)
    assert [row["p_1"] for row in outputs[0]] == pytest.approx(expected[:, 0].tolist(), abs=1e-6)
    assert {row["label"] for row in outputs[0]} <= {"0", "1"}


@pytest.mark.slow
def test_predict_names_a_csv_row_with_other_columns(trained, tmp_path, cli):
    (tmp_path / "new.csv").write_text("review,label\ngood film,1\n")
    code, _, err = cli("predict", trained, "--input", tmp_path / "new.csv")
    assert code == 2
    assert "data row 1 has 2 fields, but the model takes 1 text per sample" in err


@pytest.mark.slow
def test_evaluate_reports_classification_on_texts(trained, cli):
    code, out, err = cli("evaluate", trained, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert 0 <= report["accuracy"] <= 1
    assert report["loss"] > 0


# -------------------------------------------------------------------------------------- resume
@pytest.mark.slow
def test_resume_from_an_early_checkpoint_ends_as_the_uninterrupted_run(trained, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    for later in ("ckpt-e0002-s000000", "ckpt-e0003-s000000"):
        shutil.rmtree(run / "checkpoints" / later)
    code, _, err = cli("resume", run)
    assert code == 0, err
    assert "resuming" in err
    assert "after epoch 1 of 3" in err
    for name in ("history.csv", "metrics.json"):
        assert (run / name).read_text() == (trained / name).read_text()
    for mine, theirs in zip(keras_model(run).weights, keras_model(trained).weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


@pytest.mark.slow
def test_forced_resume_on_changed_texts_keeps_the_trained_vocabulary(trained, tmp_path, cli):
    """The embeddings were trained on the checkpoint's token ids: a vocabulary adapted on the
    changed data would scramble them."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "checkpoints" / "ckpt-e0003-s000000")
    write_marked(tmp_path / "reviews.csv", seed=2, marker="new")  # other reviews, other words
    (tmp_path / "spec.yaml").write_text(SPEC)
    code, _, err = cli("train", tmp_path / "spec.yaml", "--out", run, "--resume", "--force", "-q")
    assert code == 0, err
    forced = json.loads((run / "run.json").read_text())["resumed"][-1]["forced_changes"]
    assert any("data fingerprint" in change for change in forced)
    before, after = vocabulary_of(keras_model(trained)), vocabulary_of(keras_model(run))
    assert after == before
    assert "new0" not in after


# ---------------------------------------------------------------------------------- text data
def test_text_csv_keeps_strings_and_a_stable_fingerprint(tmp_path):
    write_csv(tmp_path / "reviews.csv", 40)
    spec = Spec.model_validate(
        {
            "name": "t",
            "data": {"source": "csv", "path": "reviews.csv", "target": "label", "text": True},
        }
    )
    first = load_dataset(spec.data, 0.25, 0, tmp_path)
    again = load_dataset(spec.data, 0.25, 0, tmp_path)
    assert first.train.x.dtype == object
    assert first.train.x.shape[1:] == (1,)
    assert isinstance(first.train.x[0, 0], str)
    assert first.task == "classification"
    assert first.fingerprint == again.fingerprint  # not the strings' addresses
    rows = (tmp_path / "reviews.csv").read_text().splitlines()
    rows[5] = rows[5].replace("the ", "a ", 1)
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    assert load_dataset(spec.data, 0.25, 0, tmp_path).fingerprint != first.fingerprint


def test_npz_of_strings_is_text(tmp_path):
    x = np.array(["good film", "bad film", "great plot", "dull plot"])
    np.savez(tmp_path / "t.npz", x=x, y=np.array([1, 0, 1, 0]))
    spec = Spec.model_validate({"name": "t", "data": {"source": "npz", "path": "t.npz"}})
    data = load_dataset(spec.data, 0.0, 0, tmp_path)
    assert data.train.x.dtype == object
    assert data.train.x.shape[1:] == (1,)


def make_acl_imdb(root):
    """A tiny aclImdb: two reviews per split and label."""
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in (10, 2):
                (folder / f"{i}_7.txt").write_text(f"{split} {label} review {i}<br />ok")
    (root / "aclImdb" / "train" / "unsup").mkdir()
    (root / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled")
    return root / "aclImdb"


@pytest.mark.parametrize("form", ["folder", "parent", "archive"])
def test_imdb_text_from_acl_imdb(tmp_path, form):
    folder = make_acl_imdb(tmp_path)
    path = {"folder": folder, "parent": tmp_path, "archive": tmp_path / "aclImdb_v1.tar.gz"}[form]
    if form == "archive":
        with tarfile.open(path, "w:gz") as archive:
            archive.add(folder, arcname="aclImdb")
    spec = Spec.model_validate(
        {"name": "t", "data": {"source": "imdb", "text": True, "path": str(path)}}
    )
    data = load_dataset(spec.data, 0.0, 0, tmp_path)
    assert data.class_names == ["negative", "positive"]
    assert data.train.x[:, 0].tolist() == [
        "train neg review 2<br />ok",
        "train neg review 10<br />ok",
        "train pos review 2<br />ok",
        "train pos review 10<br />ok",
    ]
    assert data.train.y.tolist() == [0, 0, 1, 1]
    assert len(data.test.x) == 4


@pytest.mark.slow
def test_imdb_text_offline_says_how_to_get_it(monkeypatch):
    from nnctl.data.sources import load_raw

    keras = import_keras()

    def offline(**kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.imdb, "load_data", offline)
    spec = Spec.model_validate({"name": "t", "data": {"source": "imdb", "text": True}})
    with pytest.raises(UserError, match=r"offline.*aclImdb_v1\.tar\.gz.*data\.path"):
        load_raw(spec.data, 0, None, "data")


def test_imdb_word_ids_decode_to_text():
    from nnctl.data.text import decode

    words = {4: "the", 5: "film", 6: "was", 7: "good"}  # Keras: rank r is id r + 3
    texts = decode([[1, 4, 5, 6, 7], [1, 7, 99]], words)
    assert texts[:, 0].tolist() == ["the film was good", "good"]


# ------------------------------------------------------------------------------------- errors
ERRORS = [
    (
        "data: {source: digits}\nmodel: {layers: [TextVectorization: {max_tokens: 10}, Dense: 1]}",
        "model.layers[0].TextVectorization: TextVectorization takes text, but source digits "
        "gives numbers",
    ),
    (
        "data: {source: csv, path: reviews.csv, target: label}\n"
        "model: {layers: [TextVectorization: {max_tokens: 10}, Dense: 1]}",
        "set data.text: true to read it as text",
    ),
    (
        "data: {source: csv, path: reviews.csv, target: label, text: true, "
        "preprocess: {standardize: true}}\nmodel: {layers: [Dense: 1]}",
        "data.preprocess.standardize: standardize works on numbers, but text: true keeps",
    ),
    (
        "data: {source: imdb, text: true, maxlen: 100}\nmodel: {layers: [Dense: 1]}",
        "data.maxlen: maxlen shapes IMDB's word ids",
    ),
]


@pytest.mark.parametrize(("body", "message"), ERRORS)
def test_text_mistakes_are_located_without_tensorflow(body, message, write_spec, tmp_path, cli):
    write_csv(tmp_path / "reviews.csv", 20)
    code, _, err = cli("validate", write_spec(f"name: bad\n{body}\nloss: mse\n"))
    assert code == 2
    assert message in err
    assert "spec.yaml:" in err


BUILD_ERRORS = [
    (
        "{source: csv, path: reviews.csv, target: label, text: true}",
        "Dense: 1",
        "spec.yaml:5:7: error: model.layers[0]: Dense takes numbers, but its input is text",
    ),
    (
        "{source: npz, path: numbers.npz}",
        "TextVectorization: {max_tokens: 9}",
        "model.layers[0]: TextVectorization takes text, but its input is float32 numbers",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("data", "layer", "message"), BUILD_ERRORS)
def test_text_flow_mistakes_are_located_when_built(data, layer, message, write_spec, tmp_path, cli):
    write_csv(tmp_path / "reviews.csv", 20)
    np.savez(tmp_path / "numbers.npz", x=np.ones((20, 3)), y=np.arange(20) % 2)
    spec = write_spec(f"""
    name: bad
    data: {data}
    model:
      layers:
        - {layer}
    loss: mse
    """)
    code, _, err = cli("validate", spec, "--build")
    assert code == 2, err
    assert message in err, err


def test_text_csv_takes_word_labels(tmp_path):  # more in test_labels.py
    (tmp_path / "r.csv").write_text("review,label\ngood film,pos\ndull film,neg\n")
    data = {"source": "csv", "path": "r.csv", "target": "label", "text": True, "test_split": 0}
    spec = Spec.model_validate({"name": "t", "data": data})
    data = load_dataset(spec.data, 0.0, 0, tmp_path)
    assert data.class_names == ["neg", "pos"]
    assert data.train.y.tolist() == [1, 0]


def test_read_samples_one_text_per_line(tmp_path):
    from nnctl.data.text import read_samples

    (tmp_path / "t.txt").write_text("first review\n\nsecond, with a comma\n")
    assert read_samples(tmp_path / "t.txt", (1,))[:, 0].tolist() == [
        "first review",
        "second, with a comma",
    ]
