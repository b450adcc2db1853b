"""Stable paths for every variable a checkpoint holds, the same in every process.

Keras names a layer nobody named after its class and a per-process count (``dense_3`` in one
process, ``dense_7`` in the next after other models were built), and its variable paths and
optimizer slot names carry those numbers. A checkpoint instead keys each variable by where it
sits in the spec:

- model variables: the layers from the model down, each named by its place in the spec (the
  node's ``name``, else ``layers[2]`` / ``nodes[2]``, recorded by ``in_spec`` at build time) or,
  for a layer nnctl did not create from a spec node (a Bidirectional's inner LSTMs, a GAN's
  networks), its own name without Keras's count; then the variable's name: ``hidden/kernel``,
  ``layers[1]/forward_lstm/lstm_cell/bias``, ``generator/layers[0]/kernel``;
- optimizer variables: ``optimizer/`` (``optimizers[i]/`` for a GAN's two) and the path of the
  variable a slot belongs to, then the slot: ``optimizer/hidden/kernel/momentum``; the others
  by name: ``optimizer/iteration`` (a loss-scale optimizer's inner one: ``optimizer/inner/...``);
- metric variables: ``metrics/`` and the metric's path: ``metrics/loss/total``.

The walk reads Keras's own lists (``_trainable_variables``, ``_seed_generators``, ``_layers``,
an optimizer's ``_variables``) in the order ``Layer.variables`` and ``Optimizer.variables`` do.
"""

from __future__ import annotations

import re

SPEC_KEY = "_nnctl_spec_key"  # the attribute that holds a layer's place in the spec
_COUNT = re.compile(r"_\d+$")  # Keras's per-process count at the end of an automatic name


def in_spec(layer, key: str) -> None:
    """Record that ``layer`` is the spec's node ``key`` (the first node, when it is shared)."""
    if getattr(layer, SPEC_KEY, None) is None:
        object.__setattr__(layer, SPEC_KEY, key)


def variable_paths(model, optimizers: list, variables: list) -> list[str]:
    """The stable path of each of ``variables`` (the model's, ``optimizers``' and its metrics')."""
    paths: dict[int, str] = {}
    taken: set[str] = set()
    _layer(model, "", paths, taken)
    for index, optimizer in enumerate(optimizers):
        token = "optimizer" if len(optimizers) == 1 else f"optimizers[{index}]"
        _optimizer(optimizer, token, paths, taken)
    for variable in model.metrics_variables:
        _add(variable, "metrics/" + _stable(variable.path), paths, taken)
    for variable in variables:  # anything else: its Keras path, counts removed
        _add(variable, "other/" + _stable(variable.path), paths, taken)
    return [paths[id(v)] for v in variables]


def _layer(layer, prefix: str, paths: dict, taken: set) -> None:
    """The variables ``layer`` owns, then its sublayers', as ``layer.variables`` lists them."""
    for variable in [*layer._trainable_variables, *layer._non_trainable_variables]:
        _add(variable, prefix + variable.name, paths, taken)
    for generator in layer._seed_generators:
        _add(generator.state, prefix + _COUNT.sub("", generator.name), paths, taken)
    for sublayer in layer._layers:
        key = getattr(sublayer, SPEC_KEY, None) or _COUNT.sub("", sublayer.name)
        _layer(sublayer, f"{prefix}{key}/", paths, taken)


def _optimizer(optimizer, token: str, paths: dict, taken: set) -> None:
    """Slots by the path of the variable they belong to, the rest by name."""
    inner = getattr(optimizer, "inner_optimizer", None)
    references = {
        f"{v.path.replace('/', '_')}_": paths[id(v)]
        for v in getattr(optimizer, "_trainable_variables", [])
        if id(v) in paths
    }
    for variable in optimizer._variables:
        owner = max((r for r in references if variable.name.startswith(r)), key=len, default=None)
        if owner is None:
            _add(variable, f"{token}/{variable.name}", paths, taken)
        else:
            slot = variable.name[len(owner) :]
            _add(variable, f"{token}/{references[owner]}/{slot}", paths, taken)
    if inner is not None:
        _optimizer(inner, f"{token}/inner", paths, taken)


def _add(variable, path: str, paths: dict, taken: set) -> None:
    """Give ``variable`` its path unless it has one; a path taken already gets ``#2``, ``#3``."""
    if id(variable) in paths:
        return
    unique, n = path, 1
    while unique in taken:
        n += 1
        unique = f"{path}#{n}"
    paths[id(variable)] = unique
    taken.add(unique)


def _stable(path: str) -> str:
    return "/".join(_COUNT.sub("", part) for part in path.split("/"))
