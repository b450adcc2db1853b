"""Checkpoints key each variable by a path from the spec (``nnctl/build/paths.py``), not by the
names Keras numbers per process: a resume restores exactly however many models the process built
before, and a checkpoint that does not fit is refused naming the variables."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import DIGITS_TRAINING

from nnctl.training import checkpoint

pytestmark = pytest.mark.slow

# A named layer, an unnamed one and a Dropout (its random state), two epochs.
SPEC = DIGITS_TRAINING.replace("relu}", "relu, name: hidden}\n    - Dropout: 0.1").replace(
    "epochs: 1", "epochs: 2"
)


def _build_others() -> None:
    """Models whose layers take Keras's next automatic names (dense_N, dropout_N)."""
    import keras

    for _ in range(3):
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), keras.layers.Dropout(0.5)])


def _paths(spec_path) -> list[str]:
    from nnctl.modes import mode_of
    from nnctl.rundir import RunDir
    from nnctl.spec.validate import load_spec
    from nnctl.training.state import named_variables

    spec, _ = load_spec(spec_path, [])
    session = mode_of(spec).trainer(spec, spec_path.parent, RunDir(spec_path.parent / "unused"))
    return list(named_variables(session.model))


def test_paths_are_spec_places_whatever_keras_numbered(write_spec):
    spec = write_spec(SPEC)
    first = _paths(spec)
    _build_others()
    assert _paths(spec) == first
    assert {"hidden/kernel", "layers[2]/bias", "layers[1]/seed_generator"} <= set(first)
    assert {"optimizer/iteration", "optimizer/hidden/kernel/momentum"} <= set(first)
    assert "metrics/loss/total" in first


@pytest.fixture
def run_and_copy(tmp_path, write_spec, cli):
    """A finished two-epoch run, and a copy of it holding only its first epoch's checkpoints."""
    spec = write_spec(SPEC)
    assert cli("train", spec, "--out", tmp_path / "run", "-q")[0] == 0
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    shutil.rmtree(tmp_path / "copy" / "checkpoints" / "ckpt-e0002-s000000")
    return spec, tmp_path / "run", tmp_path / "copy"


def _final_weights(run) -> dict[str, np.ndarray]:
    arrays, meta = checkpoint.read(checkpoint.committed(run / "checkpoints")[0])
    return {path: arrays[f"var_{i:04d}"] for i, path in enumerate(meta["variables"])}


def test_a_resume_after_building_other_models_continues_exactly(run_and_copy, cli):
    spec, run, copy = run_and_copy
    _build_others()
    code, _, err = cli("train", spec, "--out", copy, "--resume", "-q")
    assert code == 0, err
    assert "resuming" in err
    expected, got = _final_weights(run), _final_weights(copy)
    assert list(got) == list(expected)
    for path, array in expected.items():
        assert np.array_equal(got[path], array), path
    state = json.loads((copy / "checkpoints" / "ckpt-e0002-s000000" / "state.json").read_text())
    assert state["format"] == 2


@pytest.mark.parametrize(
    ("change", "messages"),
    [
        (
            ("name: hidden", "name: first"),
            [
                "first/kernel (64, 16) is not in the checkpoint",
                "the checkpoint's hidden/kernel (64, 16) is not in the model",
            ],
        ),
        (
            ("    - Dropout: 0.1\n", ""),
            [
                "layers[1]/kernel (16, 10) is not in the checkpoint",
                "the checkpoint's layers[2]/kernel (16, 10) is not in the model",
            ],
        ),
        (
            ("units: 16", "units: 12"),
            ["hidden/kernel has shape (64, 16) in the checkpoint, (64, 12) in the model"],
        ),
    ],
    ids=["renamed", "removed", "resized"],
)
def test_a_checkpoint_that_does_not_fit_is_refused_naming_the_variable(
    run_and_copy, cli, change, messages
):
    spec, _, copy = run_and_copy
    spec.write_text(spec.read_text().replace(*change))
    code, _, err = cli("train", spec, "--out", copy, "--resume", "--force", "-q")
    assert code == 2, err
    assert "the checkpoint does not fit this model: " in err
    for message in messages:
        assert message in err
    assert "Traceback" not in err


def test_a_format_1_checkpoint_still_restores_in_order(run_and_copy, cli):
    """Checkpoints written before paths: variables in order, shapes checked."""
    spec, run, copy = run_and_copy
    newest = checkpoint.committed(copy / "checkpoints")[0]
    state = json.loads((newest.path / "state.json").read_text())
    state["format"], state["variables"] = 1, [f"old_{i}" for i in range(len(state["variables"]))]
    (newest.path / "state.json").write_text(json.dumps(state))
    manifest = json.loads((newest.path / "manifest.json").read_text())
    manifest["sha256"]["state.json"] = checkpoint.sha256(newest.path / "state.json")
    (newest.path / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = cli("train", spec, "--out", copy, "--resume", "-q")
    assert code == 0, err
    expected, got = _final_weights(run), _final_weights(copy)
    assert all(np.array_equal(got[path], array) for path, array in expected.items())
