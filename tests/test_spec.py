"""Spec loading and validation: what users write, and the located errors they get."""

from __future__ import annotations

import pytest
from conftest import DIGITS, SPECS

from nnctl.errors import SpecError, UserError
from nnctl.spec.loader import MAX_NODES, load_yaml
from nnctl.spec.validate import load_spec, validate


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_shipped_spec_validates(path):
    spec, _ = load_spec(path)
    assert spec.name == path.stem


def test_defaults_are_filled_in(digits_spec):
    spec, _ = load_spec(digits_spec)
    resolved = spec.resolved()
    assert resolved["train"]["epochs"] == 10
    assert resolved["optimizer"] == {"name": "adam", "learning_rate": 0.001}
    assert resolved["model"]["layers"][0] == {"Dense": {"units": 8, "activation": "relu"}}


def test_resolved_spec_validates_to_itself(digits_spec):
    spec, source = load_spec(digits_spec)
    again = validate(spec.resolved(), source)
    assert again.resolved() == spec.resolved()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("Dense: 64", {"Dense": {"units": 64}}),
        ("dropout: 0.2", {"Dropout": {"rate": 0.2}}),
        ("Flatten", {"Flatten": {}}),
        ("batch_normalization", {"BatchNormalization": {}}),
        ("Activation: tanh", {"Activation": {"activation": "tanh"}}),
        ("Reshape: [4, 16]", {"Reshape": {"target_shape": [4, 16]}}),
    ],
)
def test_layer_short_forms(write_spec, entry, expected):
    text = DIGITS.replace("    - Dense: {units: 8, activation: relu}", f"    - {entry}")
    spec, _ = load_spec(write_spec(text))
    assert spec.resolved()["model"]["layers"][0] == expected


# (spec text replacement, expected path, message fragment, expected line)
BROKEN = [
    ("name: demo", "name: demo\nbogus: 1", "bogus", "unknown key 'bogus'", 2),
    ("source: digits", "source: digitz", "data.source", "did you mean 'digits'?", 2),
    ("units: 8", "units: -5", "model.layers[0].Dense.units", "positive integer", 5),
    ("units: 8", "unit: 8", "model.layers[0].Dense.unit", "did you mean 'units'?", 5),
    (
        "- Dense: {units: 8, activation: relu}",
        "- Dense: {units: 8, activation: rellu}",
        "model.layers[0].Dense.activation",
        "did you mean 'relu'?",
        5,
    ),
    (
        "- Dense: {units: 8, activation: relu}",
        "- Dence: 8",
        "model.layers[0].Dence",
        "did you mean 'Dense'?",
        5,
    ),
    (
        "- Dense: {units: 8, activation: relu}",
        "- Dropout: 1.5",
        "model.layers[0].Dropout",
        "rate in [0, 1)",
        5,
    ),
    ("metrics: [accuracy]", "metrics: [acuracy]", "metrics[0]", "did you mean 'accuracy'?", 8),
    (
        "loss: sparse_categorical_crossentropy",
        "loss: sparse_categorical_crossentropyy",
        "loss",
        "did you mean",
        7,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\noptimizer: {name: adam, lr: 0.01}",
        "optimizer.lr",
        "renamed 'learning_rate'",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\noptimizer: {name: adamm}",
        "optimizer.name",
        "did you mean 'adam'?",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\noptimizer: {learning_rate: .nan}",
        "optimizer.learning_rate",
        "finite",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\ntrain: {epochs: 0}",
        "train.epochs",
        "expected a positive integer, got 0",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\ntrain: {epochs: '5'}",
        "train.epochs",
        "expected a positive integer, got '5'; remove the quotes",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\ntrain: {shuffle: yes}",
        "train.shuffle",
        "expected true or false, got 'yes'",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\ntrain: {early_stopping: {monitor: val_acc}}",
        "train.early_stopping.monitor",
        "never computed",
        9,
    ),
    (
        "metrics: [accuracy]",
        "metrics: [accuracy]\ntrain: {validation: 0.0, early_stopping: {}}",
        "train.early_stopping.monitor",
        "no validation data",
        9,
    ),
    (
        "source: digits",
        "source: digits, preprocess: {one_hot: true}",
        "data.preprocess.one_hot",
        "integer labels",
        2,
    ),
    (
        "loss: sparse_categorical_crossentropy",
        "loss: categorical_crossentropy",
        "loss",
        "one_hot: true",
        7,
    ),
    ("source: digits", "source: csv, path: nowhere.csv, target: y", "data.path", "no such file", 2),
    (
        "    - Dense: {units: 10, activation: softmax}",
        "    - Dense: {units: 1, activation: softmax}",
        "",
        "",
        0,
    ),  # valid: softmax with sparse CE is the user's business
]


@pytest.mark.parametrize(("old", "new", "path", "fragment", "line"), BROKEN)
def test_broken_spec_error(write_spec, old, new, path, fragment, line):
    assert old in DIGITS
    file = write_spec(DIGITS.replace(old, new))
    if not fragment:
        load_spec(file)
        return
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    problems = caught.value.problems
    match = [p for p in problems if p.path == path and fragment in p.message]
    assert match, [p.render() for p in problems]
    assert match[0].line == line
    assert str(file) in match[0].render()


def test_error_shows_source_line_and_caret(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(DIGITS.replace("units: 8", "units: -5")))
    lines = str(caught.value).splitlines()
    assert lines[0].endswith("model.layers[0].Dense.units: expected a positive integer, got -5")
    assert lines[1].strip() == "- Dense: {units: -5, activation: relu}"
    assert lines[2].index("^") == lines[1].index("-5")


def test_several_mistakes_reported_together(write_spec):
    text = DIGITS.replace("name: demo", "name: demo\nseed: -1").replace("digits", "digitz")
    text += "train: {epochs: 0, batch_size: 0}\n"
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))
    paths = {p.path for p in caught.value.problems}
    assert {"seed", "data.source", "train.epochs", "train.batch_size"} <= paths


def test_no_suggestion_when_nothing_is_close(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(DIGITS.replace("- Dense: {units: 8, activation: relu}", "- Qwerty")))
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: a\nname: b\n", "duplicate key 'name': first on line 1, again on line 2"),
        ("name: a\n---\nname: b\n", "single YAML document"),
        ("name: !!python/object/apply:os.system [echo hi]\n", "not allowed"),
        ("name: [unclosed\n", "invalid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_yaml_traps(text, fragment):
    with pytest.raises(SpecError) as caught:
        load_yaml(text, "x.yaml")
    assert fragment in str(caught.value)


def test_yaml_scalars_follow_yaml_1_2():
    data, _ = load_yaml("a: 1e-3\nb: yes\nc: 2026-01-01\nd: true\ne: .inf\n")
    assert data == {"a": 0.001, "b": "yes", "c": "2026-01-01", "d": True, "e": float("inf")}


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines)


def test_billion_laughs_is_refused_by_its_size():
    """Refused once the walk passes MAX_NODES values, never expanded (bench/validate_speed.py
    measures the time and memory this takes)."""
    with pytest.raises(SpecError, match="alias expansion") as caught:
        load_yaml(billion_laughs(), "laughs.yaml")
    assert f"over {MAX_NODES} values" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"", "empty file"), (b"\x00\x01", "binary"), (b"name: \xff\xfe", "not UTF-8")],
)
def test_unreadable_files(tmp_path, content, fragment):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(UserError, match=fragment):
        load_spec(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_spec(tmp_path / "absent.yaml")
    with pytest.raises(UserError, match="is a directory"):
        load_spec(tmp_path)


def test_every_mode_has_spec_rules_and_a_home():
    """``train.mode``'s names, the spec layer's rules and the registry of homes agree."""
    import typing

    from nnctl.modes import REGISTRY
    from nnctl.spec.modes import RULES
    from nnctl.spec.schema import Mode

    assert set(typing.get_args(Mode)) == set(RULES) == set(REGISTRY)
