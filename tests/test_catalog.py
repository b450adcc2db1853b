"""The checked-in Keras catalogue must match what the installed Keras offers a spec."""

import copy
import json

import pytest

from nnctl.spec import catalog_gen

STORED = json.loads(catalog_gen.CATALOG_PATH.read_text())


@pytest.mark.slow  # imports Keras
def test_catalog_matches_installed_keras():
    changes = catalog_gen.drift(STORED, catalog_gen.generate())
    assert not changes, (
        "nnctl/spec/keras_catalog.json is stale (run `python -m nnctl.spec.catalog_gen`):\n"
        + "\n".join(changes)
    )


def test_another_keras_version_alone_is_no_drift():
    assert catalog_gen.drift(STORED, STORED | {"keras_version": "3.99.1"}) == []


def test_drift_names_each_changed_name_and_argument():
    installed = copy.deepcopy(STORED)
    installed["layers"]["Dense"]["params"].append("new_argument")
    del installed["layers"]["Dropout"]
    installed["activations"].remove("relu")
    changes = catalog_gen.drift(STORED, installed)
    assert len(changes) == 3
    assert changes[0].startswith("activations: ")
    assert changes[1].startswith("layers.Dense: ")
    assert changes[1].endswith("'new_argument'], 'required': ['units']}")
    assert changes[2].startswith("layers.Dropout: {")
    assert changes[2].endswith("} -> None")
