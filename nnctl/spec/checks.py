"""Rules pydantic cannot express: Keras names from the catalogue, and rules across sections."""

from __future__ import annotations

import glob
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nnctl.spec.catalog import (
    COMMON,
    KERAS3_NAMES,
    catalog,
    closest,
    hint,
    layer_names,
    layer_params,
    name_hint,
    suggest,
)
from nnctl.spec.columns import column_problem, header
from nnctl.spec.gan import check_gan, raw_networks, raw_optimizers
from nnctl.spec.graph import check_graph
from nnctl.spec.loader import PathKey, expected_got, format_value
from nnctl.spec.modes import MODE_ONLY_SECTIONS, MODE_SECTIONS, rules_of
from nnctl.spec.schema import (
    FILE_SOURCES,
    NESTED_LAYER_ARGS,
    NODE_KEYS,
    PATH_KEYS,
    SEQ2SEQ_SIZES,
    SHORT_FORM,
    STRING_PAIR_SOURCES,
    LayerSpec,
    OptimizerSpec,
    Spec,
)
from nnctl.spec.text import check_text

Issue = tuple[PathKey, str, bool]  # (path, message, point at the key rather than the value)

ONE_HOT_LOSSES = {"categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge"}
SPARSE_LOSSES = {"sparse_categorical_crossentropy"}
BINARY_LOSSES = {
    "binary_crossentropy",
    "bce",
    "binary_focal_crossentropy",
    "hinge",
    "squared_hinge",
}
REGULARIZERS = ["l1", "l2", "l1l2"]
RECURRENT = {"LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "DNC"}
DROPOUTS = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}
RENAMED_OPTIMIZER_ARGS = {
    "lr": "'lr' was renamed 'learning_rate' in Keras 3",
    "decay": "'decay' is gone in Keras 3; use optimizer.schedule",
}


def check_raw(data: dict[str, Any]) -> list[Issue]:
    """Checks that need only the raw data, so they run even when the structure has errors."""
    return [*_check_layers(data), *_check_names(data)]


def check_spec(spec: Spec, base_dir: Path | None) -> list[Issue]:
    """Rules across sections, for a spec whose structure is valid."""
    sections = list(_check_mode_sections(spec))
    if sections:
        return sections
    return [
        *(_check_labels(spec) if spec.loss is not None and spec.data is not None else []),
        *_check_monitors(spec),
        *_check_steps_per_call(spec),
        *_check_files(spec, base_dir),
        *(check_graph(spec) if spec.model is not None else []),
        *check_gan(spec),
        *_check_sizes(spec),
        *_check_string_pairs(spec),
        *_check_outputs(spec),
        *check_text(spec),
        *(rules_of(spec).check(spec) if rules_of(spec).check else []),
    ]


def _check_string_pairs(spec: Spec) -> Iterator[Issue]:
    """seq2seq learns from string pairs, and string pairs are only for seq2seq."""
    if spec.data is None:
        return
    pairs, seq2seq = spec.data.source in STRING_PAIR_SOURCES, rules_of(spec).string_pairs
    if seq2seq and not pairs:
        listed = ", ".join(sorted(STRING_PAIR_SOURCES))
        message = f"train.mode seq2seq learns from string pairs ({listed}), not {spec.data.source}"
        yield ("data", "source"), message, False
    elif pairs and not seq2seq:
        mode = spec.train.mode
        message = f"{spec.data.source} gives string pairs, which train.mode seq2seq learns from"
        at = ("train", "mode") if "mode" in spec.train.model_fields_set else ("data", "source")
        yield at, f"{message} (train.mode is {mode})", False


def _check_sizes(spec: Spec) -> Iterator[Issue]:
    """Vocabulary sizes as layer arguments exist only in seq2seq mode."""
    if spec.model is None or rules_of(spec).string_pairs:
        return
    form = "layers" if spec.model.layers is not None else "nodes"
    for index, node in enumerate(spec.model.graph):
        for arg, value in (node.layer.args if node.layer else {}).items():
            if isinstance(value, str) and value in SEQ2SEQ_SIZES:
                at = ("model", form, index, node.layer.type, arg)
                message = f"{value!r} is the size of a seq2seq vocabulary; give a number here"
                yield at, message + f" (train.mode is {spec.train.mode})", False


def _check_mode_sections(spec: Spec) -> Iterator[Issue]:
    """Each training mode has the sections it needs, and none that do not apply to it."""
    mode = spec.train.mode
    needed = MODE_SECTIONS[mode]
    for section in needed:
        if getattr(spec, section) is None:
            about = Spec.model_fields[section].description
            yield (), f"missing required key {section!r} ({about}; train.mode {mode})", False
    for section in MODE_ONLY_SECTIONS:
        if section not in needed and getattr(spec, section) is not None:
            users = [m for m, s in MODE_SECTIONS.items() if section in s]
            users_text = ", ".join(users)
            message = f"{section!r} does not apply to train.mode {mode} (it is for {users_text})"
            yield (section,), message, True


def _layers(data: dict) -> Iterator[tuple[PathKey, LayerSpec]]:
    """Each well-formed layer entry (of ``layers`` or graph ``nodes``, of the model or of a
    GAN's networks) and the path of its name."""
    for root, model in raw_networks(data):
        yield from _model_layers(root, model)


def _model_layers(root: PathKey, model: Any) -> Iterator[tuple[PathKey, LayerSpec]]:
    for form in ("layers", "nodes"):
        entries = model.get(form) if isinstance(model, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if form == "nodes" and isinstance(entry, dict):
                entry = {k: v for k, v in entry.items() if k not in NODE_KEYS}
            try:
                layer = LayerSpec.model_validate(entry)
            except ValidationError:
                continue  # the schema reports it
            key = next(iter(entry)) if isinstance(entry, dict) and "type" not in entry else None
            yield (*root, form, index) + ((key,) if key is not None else ()), layer


def _check_layers(data: dict) -> Iterator[Issue]:
    for at, layer in _layers(data):
        yield from _check_layer(at, layer)


def _check_layer(at: PathKey, layer: LayerSpec) -> Iterator[Issue]:
    """The layer's name, then its arguments (a wrapper's inner layer among them)."""
    cls = layer.keras_class
    if cls is None:
        same_style = [n for n in layer_names() if n[:1].isupper() == layer.type[:1].isupper()]
        hint_ = hint(layer.type, same_style, COMMON["layer"])
        yield at, f"unknown layer {layer.type!r}{hint_}", True
    elif SHORT_FORM in layer.args:
        yield at, f"{cls} takes no arguments; write '- {cls}'", False
    else:
        yield from _check_arguments(at, cls, layer)


def _check_inner(where: PathKey, value: Any, wrapper: str) -> Iterator[Issue]:
    """A wrapper's inner layer (``Bidirectional: {layer: {LSTM: 64}}``), checked like any layer;
    Bidirectional's must be recurrent."""
    try:
        inner = LayerSpec.model_validate(value)
    except ValidationError:
        yield where, expected_got("a layer like {LSTM: {units: 64}}", value), False
        return
    if wrapper == "Bidirectional" and inner.keras_class not in RECURRENT | {None}:
        recurrent = ", ".join(sorted(RECURRENT))
        message = f"Bidirectional wraps a recurrent layer ({recurrent}), not {inner.keras_class}"
        yield where, message + "; TimeDistributed applies a layer at every step", False
    key = next(iter(value)) if isinstance(value, dict) and "type" not in value else None
    if key is None:  # a bare name (``layer: LSTM``): point at it, not at ``layer:``
        yield from ((at, message, False) for at, message, _ in _check_layer(where, inner))
    else:
        yield from _check_layer((*where, key), inner)


def _check_arguments(at: PathKey, cls: str, layer: LayerSpec) -> Iterator[Issue]:
    """Argument names, activation and regularizer names, required arguments, common ranges."""
    params = layer_params(cls)
    allowed = list(dict.fromkeys(params["params"] + catalog()["layer_base_params"]))
    meant = set()
    for name, value in layer.args.items():
        where = at if layer.short else (*at, name)
        if name not in allowed:
            meant.add(closest(name, allowed))
            listed = suggest(name, allowed) or f"; {cls} takes: {', '.join(allowed)}"
            yield where, f"unknown argument {name!r} for {cls}{listed}", True
        elif name in NESTED_LAYER_ARGS and value is not None:
            yield from _check_inner(where, value, cls)
        elif name.endswith("activation") and isinstance(value, str):
            yield from _check_name(where, value, "activation", catalog()["activations"])
        elif name.endswith("regularizer") and value is not None:
            yield from _check_regularizer(where, value)
        elif isinstance(value, float) and not math.isfinite(value):
            yield where, expected_got("a finite number", value), False
    for name in params["required"]:
        if name not in layer.args and name not in meant:
            yield at, f"{cls} needs argument {name!r}", False
    yield from _check_ranges(at, cls, layer.args, layer.short)


def _check_ranges(at: PathKey, cls: str, args: dict, short: bool) -> Iterator[Issue]:
    """The ranges users most often get wrong; Keras checks the rest when the model is built."""
    for name in ("units", "filters", "memory_size", "word_size", "read_heads"):
        value = args.get(name)
        if value in SEQ2SEQ_SIZES:
            continue  # seq2seq fills it in (_check_sizes checks the mode)
        if name in args and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
            message = expected_got("a positive integer", value)
            if short and isinstance(value, list):
                message += f"; '{cls}: N' sets only {name}; write {cls}: {{{name}: N, ...}}"
            yield (at if short else (*at, name)), message, False
    if cls in DROPOUTS and "rate" in args:
        rate = args["rate"]
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate < 1:
            yield (at if short else (*at, "rate")), expected_got("a rate in [0, 1)", rate), False


def _check_regularizer(at: PathKey, value: Any) -> Iterator[Issue]:
    """``l2``, ``{l2: 0.01}`` or ``{l1l2: {l1: 0.01, l2: 0.01}}``."""
    name = value if isinstance(value, str) else None
    if isinstance(value, dict) and len(value) == 1:
        name = next(iter(value))
    if not isinstance(name, str):
        example = "'l2', {l2: 0.01} or {l1l2: {l1: 0.01, l2: 0.01}}"
        yield at, f"expected a regularizer like {example}, got {format_value(value)}", False
    elif name not in REGULARIZERS:
        yield at, f"unknown regularizer {name!r}{hint(name, REGULARIZERS)}", False


def _check_name(at: PathKey, name: str, what: str, known: list[str]) -> Iterator[Issue]:
    if name not in known and what in KERAS3_NAMES:
        yield at, f"unknown {what} {name!r}{name_hint(what, name, known, COMMON[what])}", False
    elif name not in known:
        yield at, f"unknown {what} {name!r}{hint(name, known, COMMON[what])}", False


def loss_name(loss: Any) -> str | None:
    if isinstance(loss, dict):
        loss = loss.get("name")
    return loss if isinstance(loss, str) else None


def _check_names(data: dict) -> Iterator[Issue]:
    known = catalog()
    loss = data.get("loss")
    losses = [(("loss",), loss)]
    if isinstance(loss, dict) and "name" not in loss:  # output node -> loss
        losses = [(("loss", output), one) for output, one in loss.items()]
    for at, one in losses:
        if isinstance(one, dict) and "name" not in one:
            yield at, "a loss mapping needs 'name' (e.g. {name: huber, delta: 1.0})", False
        elif loss_name(one):
            at = at if isinstance(one, str) else (*at, "name")
            yield from _check_name(at, loss_name(one), "loss", known["losses"])
    metrics = data.get("metrics")
    lists = metrics.items() if isinstance(metrics, dict) else [(None, metrics)]
    for output, names in lists:
        where = ("metrics",) if output is None else ("metrics", output)
        for index, metric in enumerate(names if isinstance(names, list) else []):
            if isinstance(metric, str):
                yield from _check_name((*where, index), metric, "metric", known["metrics"])
    yield from _check_optimizer(data.get("optimizer"), known["optimizers"])
    for root, section in raw_optimizers(data):
        yield from _check_optimizer(section, known["optimizers"], root)


def _check_optimizer(
    section: Any, optimizers: dict[str, list[str]], root: PathKey = ("optimizer",)
) -> Iterator[Issue]:
    at = root if isinstance(section, str) else (*root, "name")
    section = {"name": section} if isinstance(section, str) else section
    name = section.get("name", "adam") if isinstance(section, dict) else None
    if not isinstance(name, str):
        return
    if name not in optimizers:
        yield at, f"unknown optimizer {name!r}{hint(name, list(optimizers))}", False
        return
    allowed = [a for a in optimizers[name] if a not in ("name", "learning_rate")]
    for arg, value in section.items():
        if arg in OptimizerSpec.model_fields:
            continue
        if arg not in allowed:
            close = suggest(arg, [*allowed, *OptimizerSpec.model_fields])
            listed = close or f"; {name} takes: {', '.join(allowed)}"
            unknown = f"unknown argument {arg!r} for {name}{listed}"
            yield (*root, arg), RENAMED_OPTIMIZER_ARGS.get(arg, unknown), True
        elif isinstance(value, float) and not math.isfinite(value):
            yield (*root, arg), expected_got("a finite number", value), False


def _check_labels(spec: Spec) -> Iterator[Issue]:
    """Loss, label encoding and output activation must agree."""
    loss = loss_name(spec.loss)
    one_hot = spec.data.preprocess.one_hot
    if one_hot and loss in SPARSE_LOSSES:
        yield (
            ("data", "preprocess", "one_hot"),
            f"one-hot labels do not fit {loss}, which takes integer labels; "
            "use categorical_crossentropy",
            False,
        )
    if not one_hot and loss in ONE_HOT_LOSSES and spec.data.known_classes() is not None:
        yield (
            ("loss",),
            f"{loss} needs one-hot labels, but {spec.data.source} gives integer labels; "
            "set data.preprocess.one_hot: true or use sparse_categorical_crossentropy",
            False,
        )
    if loss in BINARY_LOSSES:
        yield from _check_output_activation(spec, loss)
    if spec.data.source == "make_regression" and (
        loss in SPARSE_LOSSES | ONE_HOT_LOSSES | BINARY_LOSSES
    ):
        yield (
            ("loss",),
            f"{loss} is a classification loss but make_regression has real-valued targets; use mse",
            False,
        )


def _check_output_activation(spec: Spec, loss: str) -> Iterator[Issue]:
    """A binary loss needs sigmoid outputs: one softmax unit always outputs 1, and several
    softmax units are one probability per class, which a categorical loss scores."""
    last = spec.model.graph[-1].layer
    if last is None or last.args.get("activation") != "softmax":
        return
    units = last.args.get("units")
    if isinstance(units, int) and units > 1:
        yield ("loss",), _categorical_advice(spec, loss, units), False
        return
    form = "layers" if spec.model.layers is not None else "nodes"
    at = ("model", form, len(spec.model.graph) - 1, last.type)
    message = (
        f"softmax does not fit {loss}: its outputs sum to 1, so a single softmax unit "
        "always outputs 1; use activation: sigmoid"
    )
    yield (at if last.short else (*at, "activation")), message, False


def _categorical_advice(spec: Spec, loss: str, units: int) -> str:
    """What to use instead of a binary loss on a softmax over ``units`` classes."""
    classes = spec.data.known_classes()
    of = f" ({spec.data.source} has {classes} classes)" if classes else ""
    message = (
        f"{loss} scores each output unit as a separate yes/no, but the model ends in a "
        f"{units}-unit softmax, one probability per class{of}: use "
        "sparse_categorical_crossentropy (integer labels), or categorical_crossentropy with "
        "data.preprocess.one_hot: true"
    )
    if classes == 2:
        message += f"; or keep {loss} with one output: Dense: {{units: 1, activation: sigmoid}}"
    return message


def logged_names(spec: Spec) -> list[str]:
    """The losses and metrics training logs (with several outputs, Keras prefixes each
    output's loss and metrics with the output's name)."""
    outputs = spec.model.outputs if spec.model is not None else None
    if not outputs or len(outputs) < 2:
        return ["loss", *(spec.metrics if isinstance(spec.metrics, list) else [])]
    metrics = spec.metrics
    if isinstance(metrics, list):
        metrics = dict.fromkeys(outputs, metrics)
    return ["loss", *(f"{o}_{n}" for o in outputs for n in ("loss", *metrics.get(o, [])))]


def _check_outputs(spec: Spec) -> Iterator[Issue]:
    """Per-output losses, loss weights and metrics name the model's output nodes."""
    outputs = (spec.model.outputs or []) if spec.model is not None else []
    several = len(outputs) > 1
    keyed = [("loss_weights", spec.loss_weights), ("metrics", spec.metrics)]
    if isinstance(spec.loss, dict) and "name" not in spec.loss:
        keyed.insert(0, ("loss", spec.loss))
    elif several and spec.loss is not None:
        yield ("loss",), f"the model has outputs {', '.join(outputs)}: give a loss for each", False
    for section, mapping in keyed:
        if not isinstance(mapping, dict):
            continue
        if not several:
            message = f"{section} by output needs several model.outputs (graph form)"
            yield (section,), message, True
            continue
        for name in mapping:
            if name not in outputs:
                message = f"no output named {name!r}{hint(name, outputs)}"
                yield (section, name), f"{message}; outputs: {', '.join(outputs)}", True
        missing = [name for name in outputs if name not in mapping]
        if section == "loss" and missing:
            yield ("loss",), f"no loss for output {', '.join(map(repr, missing))}", False


def _check_steps_per_call(spec: Spec) -> Iterator[Issue]:
    """Checkpoints fall between compiled calls: every_steps is a multiple of steps_per_call."""
    per_call, every = spec.train.steps_per_call, spec.train.checkpoint.every_steps
    if per_call == "auto" or every is None or every % per_call == 0:
        return
    below, above = every - every % per_call, every + per_call - every % per_call
    nearest = f"{below} or {above}" if below else str(above)
    message = (
        f"every_steps must be a multiple of train.steps_per_call ({per_call}): checkpoints "
        f"fall between compiled calls. Received: every_steps={every}; use {nearest}, or "
        "set steps_per_call to auto"
    )
    yield ("train", "checkpoint", "every_steps"), message, False


def _check_monitors(spec: Spec) -> Iterator[Issue]:
    """A monitored quantity must be one that training computes."""
    has_validation = not isinstance(spec.train.validation, float) or spec.train.validation > 0
    names = list(spec.gan.logs()) if spec.gan is not None else logged_names(spec)
    computed = names + ([f"val_{n}" for n in names] if has_validation else [])
    stop, schedule, search = spec.train.early_stopping, spec.optimizer.schedule, spec.search
    watchers = [
        (("train", "early_stopping", "monitor"), getattr(stop, "monitor", None)),
        (("optimizer", "schedule", "monitor"), getattr(schedule, "monitor", None)),
        (("search", "metric"), getattr(search, "metric", None)),  # nnctl tune scores trials by it
    ]
    for path, monitor in watchers:
        if monitor is None or monitor in computed:
            continue
        fix = _monitor_fix(monitor, computed, has_validation, spec.gan is not None)
        message = f"{monitor!r} is never computed{fix}; computed: {', '.join(computed)}"
        yield path, message, False
    if not isinstance(spec.train.validation, float):
        yield from _check_validation_source(spec.train.validation)


def _monitor_fix(monitor: str, computed: list[str], has_validation: bool, gan: bool) -> str:
    """How to monitor what was meant: Keras 3's name for it, validation data, or a metric."""
    metric = monitor.removeprefix("val_")
    alias = {**KERAS3_NAMES["metric"], **KERAS3_NAMES["monitor"]}.get(metric)
    if alias:
        renamed = monitor.removesuffix(metric) + alias
        known = renamed in computed or alias == "learning_rate"
        return f"; Keras 3 calls it {renamed}" + ("" if known else f" (add {alias} to metrics)")
    if monitor.startswith("val_") and not has_validation:
        return " (no validation data: train.validation is 0)"
    known = metric in catalog()["metrics"] and not gan  # a GAN's are fixed
    return f"; add {metric} to metrics" if known else ""


def _check_validation_source(validation: Any) -> Iterator[Issue]:
    """A separate validation source is a file, and shares the training data's preprocessing."""
    if validation.source not in FILE_SOURCES:
        files = ", ".join(sorted(FILE_SOURCES))
        message = f"a validation source must be a file ({files}), got {validation.source!r}"
        yield ("train", "validation", "source"), message, False
    for key in ("preprocess", "test_split"):
        if key in validation.model_fields_set:
            message = f"validation data uses the training data's {key}; remove it here"
            yield ("train", "validation", key), message, True


def _check_files(spec: Spec, base_dir: Path | None) -> Iterator[Issue]:
    """Every data file a spec names must exist (relative paths are relative to the spec)."""
    sections = [("data",), ("train", "validation")]
    for section in sections if spec.data is not None else []:
        source = spec.data if section == ("data",) else spec.train.validation
        if isinstance(source, float):
            continue
        for key in PATH_KEYS:
            value = getattr(source, key, None)
            if not value:
                continue
            path = Path(value).expanduser()
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if key in source.globs and glob.has_magic(value):
                if not glob.glob(str(path)):
                    yield (*section, key), f"no file matches {path}", False
            elif not path.exists():
                yield (*section, key), f"no such file or directory: {path}", False
            elif key == "path" and source.source == "csv":
                yield from _check_csv_columns(source, section, path)


def _check_csv_columns(source: Any, section: PathKey, path: Path) -> Iterator[Issue]:
    """The columns a csv source names exist in the file's header (read without the data)."""
    row = header(path, source.delimiter) if len(source.delimiter) == 1 else None
    if row is None:
        return  # unreadable or empty: loading the data says why
    names = row if source.header else None
    columns = [(("target",), source.target)]
    columns += [(("features", i), c) for i, c in enumerate(source.features or [])]
    for key, column in columns:
        if problem := column_problem(column, names, len(row), path):
            yield (*section, *key), problem, False
