"""extends, --set overrides, render --explain, and the editor JSON Schema."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import DIGITS, ROOT, SPECS

from nnctl.errors import SpecError, UserError
from nnctl.spec.jsonschema import SCHEMA_PATH, schema_text
from nnctl.spec.loader import load_yaml
from nnctl.spec.validate import load_spec

BASE = DIGITS.replace("name: demo", "name: base") + "train: {epochs: 5, batch_size: 16}\n"


@pytest.fixture
def child(write_spec):
    write_spec(BASE, "base.yaml")
    return write_spec("extends: base.yaml\nname: child\ntrain: {epochs: 2}\n", "child.yaml")


def test_extends_deep_merges(child):
    spec, _ = load_spec(child)
    assert spec.name == "child"
    assert spec.train.epochs == 2
    assert spec.train.batch_size == 16
    assert spec.model.layers[0].args["units"] == 8


def test_error_points_into_the_file_holding_the_value(write_spec):
    write_spec(BASE.replace("units: 8", "units: -8"), "base.yaml")
    child = write_spec("extends: base.yaml\nname: child\ntrain: {epochs: -1}\n", "child.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(child)
    where = {(p.path, p.file, p.line) for p in caught.value.problems}
    assert ("train.epochs", str(child), 3) in where
    assert ("model.layers[0].Dense.units", str(child.parent / "base.yaml"), 5) in where


def test_extends_cycle_is_refused(write_spec):
    a = write_spec("extends: b.yaml\nname: a\n", "a.yaml")
    write_spec("extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(UserError, match="cycle"):
        load_spec(a)


def test_extends_missing_base_is_located(write_spec):
    child = write_spec("name: c\nextends: nowhere.yaml\n", "c.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(child)
    assert caught.value.problems[0].line == 2
    assert "no such base spec" in str(caught.value)


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ("train.epochs=7", lambda s: s.train.epochs == 7),
        ("optimizer.learning_rate=1e-2", lambda s: s.optimizer.learning_rate == 0.01),
        ("model.layers[0].units=64", lambda s: s.model.layers[0].args["units"] == 64),
        ("metrics=[accuracy, mse]", lambda s: s.metrics == ["accuracy", "mse"]),
        ("train.early_stopping.patience=2", lambda s: s.train.early_stopping.patience == 2),
    ],
)
def test_set_overrides(child, override, check):
    spec, _ = load_spec(child, [override])
    assert check(spec)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        (
            "train.epochs=0",
            "--set train.epochs=0: error: train.epochs: expected a positive integer, got 0",
        ),
        ("train.bogus=1", "--set train.bogus=1: error: train.bogus: unknown key 'bogus'"),
        ("model.layers[9].units=3", "--set model.layers[9].units=3: model.layers[9]: no such"),
        ("train.epochs", "--set train.epochs: expected KEY=VALUE"),
        ("train..epochs=1", "is not a key"),
    ],
)
def test_set_errors_name_the_override(child, override, fragment):
    with pytest.raises(UserError) as caught:
        load_spec(child, [override])
    assert fragment in str(caught.value)


def test_render_explain_marks_origins(child, cli):
    code, out, _ = cli("render", child, "--explain", "--set", "train.batch_size=64")
    assert code == 0
    lines = {line.strip() for line in out.splitlines()}
    assert f"epochs: 2  # {child}:3" in lines
    assert "batch_size: 64  # --set train.batch_size=64" in lines
    assert "shuffle: true  # default" in lines
    assert f"units: 8  # {child.parent / 'base.yaml'}:5" in lines


def test_render_output_is_a_valid_spec(child, cli, tmp_path):
    code, out, _ = cli("render", child)
    assert code == 0
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(out)
    spec, _ = load_spec(rendered)
    assert spec.resolved() == load_spec(child)[0].resolved()


def test_schema_file_is_current():
    assert SCHEMA_PATH.read_text() == schema_text(), "run: python -m nnctl.spec.jsonschema"


def test_schema_command_prints_it(cli):
    code, out, _ = cli("schema")
    assert code == 0
    assert json.loads(out)["title"] == "Spec"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_shipped_spec_matches_json_schema(path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../nnctl/spec/spec.schema.json")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(load_yaml(text)[0])


def test_json_schema_rejects_what_validation_rejects():
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    data, _ = load_yaml((ROOT / "specs" / "quickstart.yaml").read_text())
    data["model"]["layers"].append({"Dense": {"unit": 3}})
    assert list(validator.iter_errors(data))
