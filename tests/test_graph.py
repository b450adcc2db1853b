"""The graph form: named nodes, merges, shared layers, blocks with parameters and repeat."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nnctl.build import build_symbolic
from nnctl.errors import SpecError
from nnctl.spec.validate import load_spec

HEAD = """
name: g
data: {source: digits, preprocess: {reshape: [8, 8, 1]}}
loss: sparse_categorical_crossentropy
metrics: [accuracy]
"""

RESIDUAL = (
    HEAD
    + """
model:
  blocks:
    residual:
      params: {filters: 8}
      nodes:
        - {name: c1, Conv2D: {filters: $filters, kernel_size: 3, padding: same, activation: relu}}
        - {name: c2, Conv2D: {filters: $filters, kernel_size: 3, padding: same}}
        - {name: sum, inputs: [$input, c2], Add: {}}
  nodes:
    - {name: stem, Conv2D: {filters: 8, kernel_size: 3, padding: same}}
    - {block: residual, name: res, repeat: 2}
    - {name: pool, GlobalAveragePooling2D: {}}
    - {name: out, Dense: {units: 10, activation: softmax}}
"""
)


def build(write_spec, text):
    spec, _ = load_spec(write_spec(text))
    return spec, build_symbolic(spec, (64,), "float32")


@pytest.mark.slow
def test_residual_blocks_expand_and_build(write_spec):
    _spec, model = build(write_spec, RESIDUAL)
    names = [layer.name for layer in model.layers]
    assert names[names.index("stem") :] == [
        "stem", "res_1_c1", "res_1_c2", "res_1_sum", "res_2_c1", "res_2_c2", "res",
        "pool", "out",
    ]  # fmt: skip
    add = model.get_layer("res_1_sum")
    assert {t._keras_history[0].name for t in add.input} == {"stem", "res_1_c2"}
    conv = 8 * (9 * 8 + 1)
    assert model.count_params() == (9 + 1) * 8 + 4 * conv + (8 + 1) * 10


def test_block_parameter_errors_point_at_the_use(write_spec):
    text = RESIDUAL.replace("{block: residual, name: res, repeat: 2}",
                            "{block: residual, name: res, with: {filterz: 4}}")  # fmt: skip
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))
    problem = caught.value.problems[0]
    assert "no parameter 'filterz'" in problem.message
    assert problem.line == 16


def test_expanded_node_errors_point_at_the_block_line(write_spec):
    with pytest.raises(SpecError) as caught:
        load_spec(
            write_spec(RESIDUAL.replace("kernel_size: 3, padding: same}}", "kernel_sise: 3}}"))
        )
    lines = {p.line for p in caught.value.problems}
    assert 12 in lines  # c2's line inside the block, not a line of the expanded list


def test_unknown_block(write_spec):
    with pytest.raises(SpecError, match="no block named 'residul'"):
        load_spec(write_spec(RESIDUAL.replace("block: residual", "block: residul")))


# Malformed blocks that once crashed validation (found by tests/test_fuzz.py): each must be a
# located error and exit 2 (never 0). Case: the blocks, then the spec's line and the error's start.
MALFORMED_BLOCKS = {
    "use names a list": (
        "{b: {nodes: [{name: c, Dense: 4}]}}\n  nodes: [{block: [b], name: x}]",
        ":6:19: error: model.nodes[0].block: ",
    ),
    "node name a list": (
        "{b: {nodes: [{name: [c], Dense: 4}]}}\n  nodes: [{block: b, name: x}]",
        ":5:23: error: model.blocks.b.nodes: ",
    ),
    "no nodes": (
        "{b: {nodes: []}}\n  nodes: [{block: b, name: x}]",
        ":5:23: error: model.blocks.b.nodes: ",
    ),
    "node not a mapping": (
        "{b: {nodes: [Flatten]}}\n  nodes: [{block: b, name: x, repeat: 2}]",
        ":5:23: error: model.blocks.b.nodes: ",
    ),
    "input a list": (
        "{b: {nodes: [{name: c, inputs: [[a]], Dense: 4}]}}\n  nodes: [{block: b, name: x}]",
        ":5:43: error: model.nodes[0].inputs[0]: ",
    ),
    "with a string": (
        "{b: {params: {a: 1}, nodes: [{name: c, Dense: 4}]}}\n"
        "  nodes: [{block: b, name: x, with: a}]",
        ":6:37: error: model.nodes[0].with: ",
    ),
}


@pytest.mark.parametrize(
    ("blocks", "located"), MALFORMED_BLOCKS.values(), ids=list(MALFORMED_BLOCKS)
)
def test_malformed_blocks_exit_2_with_a_located_error(write_spec, cli, blocks, located):
    spec = write_spec(f"name: g\ndata: {{source: digits}}\nloss: mse\nmodel:\n  blocks: {blocks}\n")
    code, out, err = cli("validate", spec)
    assert code == 2, err
    assert f"{spec}{located}" in err
    assert "Traceback" not in err
    assert out == ""


@pytest.mark.slow
def test_merge_and_shared_layer(write_spec):
    text = (
        HEAD.replace("reshape: [8, 8, 1]", "scale: 1/16")
        + """
model:
  nodes:
    - {name: a, Dense: 16}
    - {name: b, inputs: features, share: a}
    - {name: both, inputs: [a, b], Concatenate: {}}
    - {name: out, Dense: {units: 10, activation: softmax}}
"""
    )
    _, model = build(write_spec, text)
    assert model.get_layer("a").count_params() == 65 * 16  # one set of weights, used twice
    assert model.output.shape == (None, 10)
    assert model.get_layer("both").output.shape == (None, 32)


def test_unknown_input_is_located(write_spec):
    text = (
        HEAD
        + "model:\n  nodes:\n    - {name: a, Flatten: {}}\n    - {name: b, inputs: [c], Dense: 4}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))  # found by validation, before any TensorFlow
    assert "no node or input named 'c'" in str(caught.value)
    assert caught.value.problems[0].line == 8


@pytest.mark.slow
def test_bidirectional_wraps_a_spec_layer(write_spec):
    text = (
        HEAD.replace("reshape: [8, 8, 1]", "reshape: [8, 8]")
        + """
model:
  layers:
    - Bidirectional: {layer: {LSTM: {units: 4}}}
    - Dense: {units: 10, activation: softmax}
"""
    )
    _, model = build(write_spec, text)
    assert model.layers[-2].__class__.__name__ == "Bidirectional"
    assert model.layers[-2].output.shape == (None, 8)


@pytest.mark.slow
def test_graph_model_round_trips_through_keras_file(write_spec, tmp_path):
    import keras

    _, model = build(write_spec, RESIDUAL)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).random((3, 64)).astype("float32")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    normal = json.loads(json.dumps(model.get_config()))
    assert json.loads(json.dumps(again.get_config())) == normal


def test_both_forms_is_an_error(write_spec):
    text = HEAD + "model:\n  layers: [Flatten]\n  nodes: [{name: a, Flatten: {}}]\n"
    with pytest.raises(SpecError, match="either 'layers'"):
        load_spec(write_spec(text))
