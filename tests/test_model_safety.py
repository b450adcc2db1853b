"""Model files nnctl did not write are read as data first: file, process and Python ops refused."""

from __future__ import annotations

import numpy as np
import pytest

from nnctl.model_safety import allowlist, graph_refusals, reason

pytestmark = pytest.mark.slow  # its fixtures build SavedModels with TensorFlow

SECRET = "31337"


def _save(module, path, tf):
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def _signature(tf):
    return [tf.TensorSpec([None, 3], tf.float32, name="features")]


def writer(root, tf):
    """serving_default writes a file, then doubles its input."""
    target = str(root / "written.txt")
    module = tf.Module()
    module.serve = tf.function(
        lambda x: (tf.io.write_file(target, "owned"), x * 2)[1], input_signature=_signature(tf)
    )
    return _save(module, root / "writer", tf), root / "written.txt"


def reader(root, tf):
    """serving_default returns a file's content as its prediction."""
    secret = root / "secret.txt"
    secret.write_text(SECRET)
    module = tf.Module()
    module.serve = tf.function(
        lambda x: x * 0 + tf.strings.to_number(tf.io.read_file(str(secret))),
        input_signature=_signature(tf),
    )
    return _save(module, root / "reader", tf), secret


def nested(root, tf):
    """The write sits in a tf.function that the serving function calls."""
    target = str(root / "nested.txt")
    inner = tf.function(lambda x: (tf.io.write_file(target, "owned"), x + 1)[1])
    module = tf.Module()
    module.serve = tf.function(lambda x: inner(x) * 2, input_signature=_signature(tf))
    return _save(module, root / "nested", tf), root / "nested.txt"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Each hostile SavedModel, and the file it would write or read."""
    from nnctl.keras_env import import_keras

    import_keras()
    import tensorflow as tf

    root = tmp_path_factory.mktemp("hostile")
    return {f.__name__: f(root, tf) for f in (writer, reader, nested)}


@pytest.fixture
def x_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 3), dtype="float32"))
    return tmp_path / "x.npy"


@pytest.mark.parametrize(
    ("name", "op"), [("writer", "WriteFile"), ("reader", "ReadFile"), ("nested", "WriteFile")]
)
def test_hostile_saved_model_is_refused_naming_the_op(hostile, x_npy, cli, name, op):
    path, target = hostile[name]
    code, out, err = cli("predict", path, "--input", x_npy)
    assert code == 2, err
    assert f"op {op} in function __inference_" in err
    assert "reads or writes files" in err
    assert "--trust-model" in err
    assert "Traceback" not in err
    assert out == ""
    assert SECRET not in err
    if name != "reader":
        assert not target.exists()


def test_trusted_model_runs_with_a_warning(hostile, x_npy, cli):
    path, target = hostile["writer"]
    code, out, err = cli("predict", path, "--input", x_npy, "--trust-model")
    assert code == 0, err
    assert "warning:" in err
    assert "--trust-model" in err
    assert target.read_text() == "owned"
    assert out.splitlines()[1] == "0,2.0,2.0,2.0"


def test_trusted_reader_shows_what_the_check_prevents(hostile, x_npy, cli):
    path, _ = hostile["reader"]
    code, out, _ = cli("predict", path, "--input", x_npy, "--trust-model")
    assert code == 0
    assert SECRET in out


def test_checkpoint_ops_are_refused_outside_the_restore():
    from tensorflow.core.protobuf import meta_graph_pb2

    meta_graph = meta_graph_pb2.MetaGraphDef()
    function = meta_graph.graph_def.library.function.add()
    function.signature.name = "serve"
    function.node_def.add(name="save", op="SaveV2")
    meta_graph.object_graph_def.concrete_functions["serve"].SetInParent()
    (refusal,) = graph_refusals(meta_graph)
    assert (refusal.what, refusal.where) == ("op SaveV2", "function serve")
    assert "only in the loader's variable restore" in refusal.why


def test_an_op_named_by_a_function_attribute_is_checked():
    """``PartitionedCall(f=ReadFile)`` runs ReadFile: a name outside the library is an op."""
    from tensorflow.core.protobuf import meta_graph_pb2

    meta_graph = meta_graph_pb2.MetaGraphDef()
    node = meta_graph.graph_def.node.add(name="call", op="PartitionedCall")
    node.attr["f"].func.name = "ReadFile"
    assert [r.what for r in graph_refusals(meta_graph)] == ["op ReadFile"]


def test_the_allowlist_holds_no_file_or_python_op():
    ops, restore_ops = allowlist()
    assert all(reason(op) is None for op in ops)
    never = {"ReadFile", "WriteFile", "PyFunc", "EagerPyFunc", "PrintV2", "MatchingFiles"}
    assert never.isdisjoint(ops | restore_ops)
    assert "RestoreV2" in restore_ops
    assert "RestoreV2" not in ops


def test_nnctl_saved_model_passes(tmp_path):
    """A freshly exported model of common layers holds only allowed ops."""
    from nnctl.export import write_saved_model
    from nnctl.keras_env import import_keras
    from nnctl.model_safety import check_saved_model

    keras = import_keras()
    x = keras.Input((8, 8, 1), name="features")
    y = keras.layers.Conv2D(2, 3, activation="relu")(keras.layers.RandomFlip()(x))
    y = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(y))
    write_saved_model(keras.Model(x, y), tmp_path / "sm")
    assert list(check_saved_model(tmp_path / "sm")) == []


@pytest.mark.slow
def test_trained_spec_exports_and_predicts_as_before(tmp_path_factory, tmp_path, cli):
    from conftest import train_once

    run = train_once(
        tmp_path_factory,
        "safe",
        "name: safe\ndata: {source: digits}\nmodel: {layers: [{Dense: 8}, {Dense: {units: 10, "
        "activation: softmax}}]}\nloss: sparse_categorical_crossentropy\ntrain: {epochs: 1}\n",
    )
    assert cli("export", run)[0] == 0
    np.save(tmp_path / "x.npy", np.ones((4, 64), dtype="float32"))
    code, from_export, err = cli("predict", run / "export", "--input", tmp_path / "x.npy")
    assert code == 0, err
    assert "warning" not in err
    assert from_export == cli("predict", run, "--input", tmp_path / "x.npy")[1]
    for fmt in ("tflite", "onnx"):  # converted exports hold builtin / standard ops only
        assert cli("export", run, "--format", fmt)[0] == 0
        code, _, err = cli("predict", run / f"export.{fmt}", "--input", tmp_path / "x.npy")
        assert code == 0, err
        assert "warning" not in err


# ------------------------------------------------------------------------------ TFLite, ONNX
def test_tflite_custom_op_is_refused(tmp_path, x_npy, cli):
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode = "FlexWriteFile"
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [], []
    subgraph = schema.SubGraphT()
    subgraph.name, subgraph.operators = "main", [operator]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [subgraph]
    model.buffers = [schema.BufferT()]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    (tmp_path / "m.tflite").write_bytes(builder.Output())
    exit_code, _, err = cli("predict", tmp_path / "m.tflite", "--input", x_npy)
    assert exit_code == 2
    assert "op FlexWriteFile in subgraph main: a custom operator" in err


def _onnx_model(onnx, node, initializers=()):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
        initializer=list(initializers),
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    return helper.make_model(graph, opset_imports=opsets)


def test_onnx_custom_domain_is_refused(tmp_path, x_npy, cli):
    onnx = pytest.importorskip("onnx")
    node = onnx.helper.make_node("Exfiltrate", ["x"], ["y"], domain="com.example")
    onnx.save(_onnx_model(onnx, node), tmp_path / "m.onnx")
    code, _, err = cli("predict", tmp_path / "m.onnx", "--input", x_npy)
    assert code == 2
    assert "op com.example.Exfiltrate in the main graph: a custom-domain operator" in err


def test_onnx_external_data_is_refused(tmp_path, x_npy, cli):
    onnx = pytest.importorskip("onnx")
    weight = onnx.helper.make_tensor("w", onnx.TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    weight.ClearField("float_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    weight.external_data.add(key="location", value="/etc/passwd")
    node = onnx.helper.make_node("Add", ["x", "w"], ["y"])
    (tmp_path / "m.onnx").write_bytes(_onnx_model(onnx, node, [weight]).SerializeToString())
    code, _, err = cli("predict", tmp_path / "m.onnx", "--input", x_npy)
    assert code == 2
    assert "tensor w in the main graph: its data is read from another file" in err


def test_onnx_standard_ops_pass(tmp_path, x_npy, cli):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    onnx.save(_onnx_model(onnx, onnx.helper.make_node("Relu", ["x"], ["y"])), tmp_path / "m.onnx")
    code, out, err = cli("predict", tmp_path / "m.onnx", "--input", x_npy)
    assert code == 0, err
    assert out.splitlines()[1] == "0,1.0,1.0,1.0"
