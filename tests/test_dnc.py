"""The Differentiable Neural Computer: each addressing piece on hand-computed cases, the cell and
layer, the memory-task data, loss and metric, and both copy-task specs through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import ROOT, train_once

from nnctl.keras_env import import_keras

pytestmark = pytest.mark.slow  # every test runs Keras


@pytest.fixture(autouse=True, scope="module")
def _keras():
    """Import Keras when the first test runs, not when the module is collected."""
    global keras, bits, dnc
    keras = import_keras()
    from nnctl.layers import bits, dnc


ATOL = 1e-4


def t(values) -> np.ndarray:
    return np.asarray(values, dtype="float32")


def n(tensor) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor))


# ------------------------------------------------------------------------- content addressing
def test_content_weighting_is_a_softmax_of_strength_times_cosine():
    memory = t([[[1, 0], [0, 1], [1, 1]]])  # (1, 3, 2)
    key = t([[[2, 0]]])  # same direction as row 0, 45 degrees from row 2
    weights = n(dnc.content_weighting(memory, key, t([[3.0]])))[0, 0]
    expected = np.exp(3.0 * t([1, 0, np.sqrt(0.5)]))
    np.testing.assert_allclose(weights, expected / expected.sum(), atol=ATOL)


def test_a_stronger_key_sharpens_the_weighting():
    memory = t([[[1, 0], [0, 1], [1, 1]]])
    key = t([[[1, 0]]])
    soft, sharp = (n(dnc.content_weighting(memory, key, t([[s]])))[0, 0] for s in (1.0, 50.0))
    assert sharp[0] > soft[0]
    assert sharp[0] > 0.99


def test_content_weighting_of_empty_memory_is_uniform_and_finite():
    weights = n(dnc.content_weighting(np.zeros((1, 4, 3), "float32"), t([[[1, 2, 3]]]), t([[5]])))
    np.testing.assert_allclose(weights, np.full((1, 1, 4), 0.25), atol=ATOL)


def test_oneplus_strength_is_at_least_one():
    assert np.all(n(dnc.oneplus(t([-100, 0, 3]))) >= 1.0)
    np.testing.assert_allclose(n(dnc.oneplus(t([0.0]))), [1 + np.log(2)], atol=ATOL)


# ------------------------------------------------------------------------ usage and allocation
def test_retention_releases_what_freed_heads_read():
    free_gates = t([[1.0, 0.5]])
    read_weights = t([[[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]])
    retained = n(dnc.retention(free_gates, read_weights))
    np.testing.assert_allclose(retained, [[0.5, 0.5 * 0.5, 1.0]], atol=ATOL)


def test_usage_rises_with_writes_and_falls_with_freeing():
    usage, written = t([[0.2, 0.0, 1.0]]), t([[0.5, 0.5, 0.0]])
    kept = n(dnc.update_usage(usage, written, t([[1.0, 1.0, 1.0]])))
    np.testing.assert_allclose(kept, [[0.6, 0.5, 1.0]], atol=ATOL)
    freed = n(dnc.update_usage(usage, written, t([[1.0, 0.5, 0.0]])))
    np.testing.assert_allclose(freed, [[0.6, 0.25, 0.0]], atol=ATOL)


def test_allocation_prefers_the_least_used_slot():
    usage = t([[0.5, 0.1, 0.9, 0.2]])
    allocation = n(dnc.allocation_weighting(usage))[0]
    # sorted by usage: slot 1 (0.1), 3 (0.2), 0 (0.5), 2 (0.9); a = (1 - u) * prod(earlier u)
    np.testing.assert_allclose(allocation, [0.5 * 0.1 * 0.2, 0.9, 0.1 * 0.1 * 0.2 * 0.5, 0.08],
                               atol=ATOL)  # fmt: skip
    assert allocation.argmax() == 1
    assert allocation.sum() <= 1.0


def test_allocation_of_free_memory_is_the_first_slot_and_of_full_memory_nothing():
    np.testing.assert_allclose(n(dnc.allocation_weighting(t([[0, 0, 0]]))), [[1, 0, 0]], atol=ATOL)
    assert n(dnc.allocation_weighting(t([[1, 1, 1]]))).sum() < 1e-4


def test_write_weighting_mixes_allocation_and_content_under_the_write_gate():
    allocation, content = t([[1, 0, 0]]), t([[0, 0.5, 0.5]])
    mixed = n(dnc.write_weighting(allocation, content, t([[0.25]]), t([[0.8]])))
    np.testing.assert_allclose(mixed, 0.8 * (0.25 * allocation + 0.75 * content), atol=ATOL)
    closed = n(dnc.write_weighting(allocation, content, t([[0.25]]), t([[0.0]])))
    np.testing.assert_allclose(closed, np.zeros((1, 3)), atol=ATOL)


def test_write_erases_then_adds():
    memory = np.ones((1, 2, 3), "float32")
    written = n(dnc.write_memory(memory, t([[1.0, 0.5]]), t([[1, 0, 1]]), t([[7, 8, 9]])))
    # row 0 fully erased where erase is 1; row 1 half erased there, then half of the values added
    np.testing.assert_allclose(written[0], [[7, 9, 9], [0.5 + 3.5, 1 + 4, 0.5 + 4.5]], atol=ATOL)


# -------------------------------------------------------------------------- temporal linkage
def write_sequence(slots: list[int], size: int = 3):
    """Link and precedence after writing one-hot to ``slots`` in order."""
    link, precedence = np.zeros((1, size, size), "float32"), np.zeros((1, size), "float32")
    for slot in slots:
        weights = np.eye(size, dtype="float32")[None, slot]
        link = n(dnc.update_link(link, precedence, weights))
        precedence = n(dnc.update_precedence(precedence, weights))
    return link, precedence


def test_the_link_matrix_orders_writes():
    link, precedence = write_sequence([0, 1, 2])
    np.testing.assert_allclose(link[0], [[0, 0, 0], [1, 0, 0], [0, 1, 0]], atol=ATOL)
    np.testing.assert_allclose(precedence[0], [0, 0, 1], atol=ATOL)
    read = t([[[1, 0, 0], [0, 0, 1]]])  # head 0 on the first write, head 1 on the last
    forward, backward = (n(w) for w in dnc.directional_weightings(link, read))
    np.testing.assert_allclose(forward[0], [[0, 1, 0], [0, 0, 0]], atol=ATOL)
    np.testing.assert_allclose(backward[0], [[0, 0, 0], [0, 1, 0]], atol=ATOL)


def test_rewriting_a_slot_replaces_its_links():
    link, _ = write_sequence([0, 1, 2, 0])  # slot 0 now comes after slot 2
    np.testing.assert_allclose(link[0], [[0, 0, 1], [0, 0, 0], [0, 1, 0]], atol=ATOL)


def test_precedence_keeps_the_unwritten_share():
    precedence = n(dnc.update_precedence(t([[0.0, 1.0, 0.0]]), t([[0.25, 0.0, 0.0]])))
    np.testing.assert_allclose(precedence, [[0.25, 0.75, 0.0]], atol=ATOL)


# ------------------------------------------------------------------------------------- reads
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_read_modes_select_backward_content_forward(mode):
    parts = [t([[[1, 0, 0]]]), t([[[0, 1, 0]]]), t([[[0, 0, 1]]])]
    modes = np.eye(3, dtype="float32")[None, None, mode]
    np.testing.assert_allclose(n(dnc.read_weighting(modes, *parts)), parts[mode], atol=ATOL)


def test_read_is_the_weighted_sum_of_rows():
    memory = t([[[1, 2], [3, 4], [5, 6]]])
    read = n(dnc.read_memory(memory, t([[[0.5, 0.5, 0.0], [0, 0, 1]]])))
    np.testing.assert_allclose(read[0], [[2, 3], [5, 6]], atol=ATOL)


# -------------------------------------------------------------------------------- cell, layer
def run_cell(steps: int = 6, batch: int = 3, seed: int = 0):
    """A cell with random weights stepped over random inputs; the named states of each step."""
    cell = dnc.DNCCell(8, memory_size=5, word_size=4, read_heads=2)
    cell.build((batch, 3))
    rng = np.random.default_rng(seed)
    for weight in cell.weights:
        weight.assign(rng.normal(0, 1.0, weight.shape).astype("float32"))
    states, history = cell.get_initial_state(batch), []
    for _ in range(steps):
        output, states = cell(t(rng.normal(0, 2, (batch, 3))), states)
        history.append({k: n(v) for k, v in cell.unpack_state(states).items()})
    return cell, output, history


def test_cell_shapes():
    cell, output, history = run_cell()
    assert output.shape == (3, 8 + 2 * 4)
    assert cell.output_size == 16
    shapes = {k: v.shape for k, v in history[-1].items()}
    assert shapes["memory"] == (3, 5, 4)
    assert shapes["link"] == (3, 5, 5)
    assert shapes["read_weights"] == (3, 2, 5)
    assert shapes["read_vectors"] == (3, 2, 4)


def test_weightings_are_non_negative_and_sum_to_at_most_one():
    _, _, history = run_cell(steps=8)
    for state in history:
        for part in ("write_weights", "read_weights", "precedence"):
            assert state[part].min() >= -1e-6, part
            assert state[part].sum(axis=-1).max() <= 1 + 1e-5, part
        assert state["usage"].min() >= 0
        assert state["usage"].max() <= 1 + 1e-5
        assert np.allclose(np.diagonal(state["link"], axis1=1, axis2=2), 0)
        assert state["link"].min() >= -1e-6
        assert state["link"].sum(axis=-1).max() <= 1 + 1e-5


def test_dnc_layer_takes_any_sequence_length_and_round_trips(tmp_path):
    inputs = keras.Input((None, 3))
    hidden = dnc.DNC(8, memory_size=5, word_size=4, read_heads=2, return_sequences=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    short, long = np.ones((2, 4, 3), "float32"), np.ones((2, 30, 3), "float32")
    assert model(short).shape == (2, 4, 2)
    assert model(long).shape == (2, 30, 2)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(n(again(long)), n(model(long)), atol=1e-6)
    layer = model.layers[1]
    config = layer.get_config()
    assert dnc.DNC.from_config(config).get_config() == config
    assert config["memory_size"] == 5
    assert config["read_heads"] == 2


@pytest.mark.parametrize("args", [{"units": 8}, {"units": 16, "word_size": 5, "read_heads": 3}])
def test_parameter_estimate_is_exact(args):
    from nnctl.build.limits import estimated_parameters
    from nnctl.spec.schema import LayerSpec

    layer = dnc.DNC(**args)
    layer.build((None, 4, 7))
    assert estimated_parameters(LayerSpec.model_validate({"DNC": args}), (None, 4, 7)) == (
        layer.count_params()
    )


@pytest.mark.parametrize("args", [{"units": 8}, {"units": 6, "memory_size": 7, "read_heads": 3}])
def test_state_estimate_is_the_cells_state(args, monkeypatch):
    """The limit counts exactly the state the cell carries (just over it is refused)."""
    from nnctl.build import limits
    from nnctl.spec.schema import LayerSpec

    state = sum(dnc.DNCCell(**args).state_size)
    layer = LayerSpec.model_validate({"DNC": args})
    monkeypatch.setattr(limits, "MAX_STATE", state)
    assert limits.state_too_large(layer) is None
    monkeypatch.setattr(limits, "MAX_STATE", state - 1)
    assert f"{state:,} numbers of state" in limits.state_too_large(layer)


def test_a_memory_too_large_to_hold_is_refused_before_building(write_spec, cli):
    """A 10,000-slot memory has a 10^8-number link matrix per sample: refused at the layer."""
    path = write_spec("""
    name: s
    data: {source: copy_task, bits: 4, max_length: 3}
    model:
      layers:
        - DNC: {units: 8, memory_size: 10000}
        - Dense: {units: 4, activation: sigmoid}
    loss: masked_binary_crossentropy
    """)
    code, _, err = cli("validate", "--build", path)
    assert code == 2, err
    assert "spec.yaml:5:7: error: model.layers[0]: memory_size 10000 gives each sample" in err
    assert "10000 x 10000 link matrix" in err
    assert "use a smaller memory_size" in err


def test_dnc_refuses_a_bad_size():
    with pytest.raises(ValueError, match="memory_size=0"):
        dnc.DNC(8, memory_size=0)


def test_gradients_reach_every_weight():
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(dnc.DNC(8, 5, 4, 2)(inputs)))
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.ops.sum(model(np.random.default_rng(1).normal(size=(2, 5, 3))) ** 2)
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)
    assert all(np.abs(g).sum() > 0 for g in grads)


# -------------------------------------------------------------------------------- task data
def test_copy_task_answers_with_the_input_after_the_delimiter():
    from nnctl.data.memory_tasks import copy_task

    x, y = copy_task(4, 2, 5, 50, np.random.default_rng(0))
    assert x.shape == y.shape == (50, 11, 5)
    for xi, yi in zip(x, y, strict=True):
        length = int(np.argmax(xi[:, 4]))
        assert xi[:, 4].sum() == 1
        assert 2 <= length <= 5
        np.testing.assert_array_equal(yi[length + 1 : 2 * length + 1, :4], xi[:length, :4])
        np.testing.assert_array_equal(yi[:, 4], np.r_[np.zeros(length + 1), np.ones(length),
                                                      np.zeros(10 - 2 * length)])  # fmt: skip
        assert xi[length + 1 :].sum() == 0  # nothing to read while answering


def test_associative_recall_answers_with_the_item_after_the_query():
    from nnctl.data.memory_tasks import associative_recall

    x, y = associative_recall(3, 2, 2, 4, 40, np.random.default_rng(0))
    for xi, yi in zip(x, y, strict=True):
        starts = np.flatnonzero(xi[:, 3])
        items = [xi[s + 1 : s + 3, :3] for s in starts]
        query_at = np.flatnonzero(xi[:, 4])
        assert len(query_at) == 2
        assert query_at[1] - query_at[0] == 3
        query = xi[query_at[0] + 1 : query_at[1], :3]
        answer = yi[yi[:, 3] == 1, :3]
        matches = [k for k, item in enumerate(items[:-1]) if np.array_equal(item, query)]
        assert any(np.array_equal(items[k + 1], answer) for k in matches)


def test_a_task_too_large_for_memory_is_refused():
    from nnctl.data.memory_tasks import load
    from nnctl.errors import UserError
    from nnctl.spec.schema import CopyTask

    spec = CopyTask.model_validate({"source": "copy_task", "n_samples": 10**7, "max_length": 100})
    with pytest.raises(UserError, match="lower n_samples or the lengths"):
        load(spec, seed=0)


def test_masked_loss_and_bit_error_score_only_the_answer_steps():
    target = t([[[1, 0, 0], [1, 1, 1], [0, 1, 1]]])  # steps 1 and 2 are scored
    predicted = t([[[0.0, 1.0], [0.9, 0.2], [0.1, 0.7]]])  # one wrong bit of four scored
    metric = bits.BitError()
    metric.update_state(target, predicted)
    assert float(metric.result()) == pytest.approx(0.25)
    loss = float(bits.MaskedBinaryCrossentropy()(target, predicted))
    scored = [-np.log(0.9), -np.log(0.2), -np.log(0.9), -np.log(0.7)]
    assert loss == pytest.approx(np.mean(scored), rel=1e-3)


def test_masked_loss_refuses_targets_without_a_mask():
    from nnctl.errors import UserError

    with pytest.raises(UserError, match="one more channel"):
        bits.MaskedBinaryCrossentropy()(t([[[1, 0]]]), t([[[0.5, 0.5]]]))


# --------------------------------------------------------------------------------- the specs
def tiny(name: str) -> str:
    """A shipped copy-task spec at tiny settings."""
    data = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text())
    data["data"] |= {"n_samples": 96, "max_length": 3, "bits": 3}
    data["model"]["input_shape"] = [None, 4]
    data["model"]["layers"][-1]["Dense"]["units"] = 3
    data["train"] |= {"epochs": 2, "batch_size": 16}
    data["train"].pop("early_stopping", None)
    return yaml.safe_dump(data)


@pytest.fixture(scope="module", params=["dnc_copy", "lstm_copy"])
def trained(request, tmp_path_factory):
    return train_once(tmp_path_factory, request.param, tiny(request.param))


def test_copy_spec_trains_evaluates_and_exports(trained, cli):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert 0 <= metrics["test"]["bit_error"] <= 1
    code, out, err = cli("evaluate", trained, "--json")
    assert code == 0, err
    assert "bit_error" in json.loads(out)
    code, out, err = cli("export", trained)
    assert code == 0, err
    from nnctl.predictors import predict_saved_model

    model = keras.saving.load_model(trained / "model.keras", safe_mode=True)
    longer = np.random.default_rng(0).integers(0, 2, (2, 13, 4)).astype("float32")
    np.testing.assert_allclose(
        predict_saved_model(trained / "export", longer), n(model(longer)), atol=1e-5
    )


def test_a_misspelt_dnc_argument_is_located(write_spec, cli):
    path = write_spec("""
    name: s
    data: {source: copy_task, bits: 4, max_length: 3}
    model:
      layers:
        - DNC: {units: 8, memory_sise: 8}
        - Dense: {units: 4, activation: sigmoid}
    loss: masked_binary_crossentropy
    metrics: [bit_eror]
    """)
    code, _, err = cli("validate", path)
    assert code == 2
    assert "spec.yaml:5:23: error: model.layers[0].DNC.memory_sise" in err
    assert "did you mean 'memory_size'?" in err
    assert "did you mean 'bit_error'?" in err


def test_copy_task_lengths_must_be_ordered(write_spec, cli):
    path = write_spec("""
    name: s
    data: {source: copy_task, min_length: 5, max_length: 3}
    model: {layers: [Dense: 1]}
    loss: mse
    """)
    code, _, err = cli("validate", path)
    assert code == 2
    assert "min_length 5 is over max_length 3" in err
