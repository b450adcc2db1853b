"""Each file in tests/broken/ is a realistic mistake; what ``nnctl validate`` says of it is pinned.

``tests/golden/NAME.txt`` holds the exact stderr of ``nnctl validate tests/broken/NAME.yaml``, run
from the repository root with the options on the spec's ``# args:`` line. After an intended change
of wording, regenerate with ``pytest tests/test_golden_errors.py --update-golden`` and review the
diff: each message must let a reader fix the spec from it alone.
"""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import DIGITS, ROOT

from nnctl.errors import SpecError
from nnctl.spec.catalog import COMMON, KERAS3_NAMES, catalog, layer_names
from nnctl.spec.validate import load_spec

BROKEN_DIR = ROOT / "tests" / "broken"
GOLDEN_DIR = ROOT / "tests" / "golden"
BROKEN = sorted(BROKEN_DIR.glob("*.yaml"))
WAYS_FORWARD = ("did you mean", "expected one of", "common ones:", " takes: ")

VALID = DIGITS + "train: {epochs: 2}\n"


def _args(path) -> list[str]:
    """The extra command-line arguments a broken spec names on its ``# args:`` line."""
    for line in path.read_text().splitlines():
        if line.startswith("# args:"):
            return shlex.split(line.removeprefix("# args:"))
    return []


def _marked(path):
    """A broken spec checked with --build builds its model (TensorFlow): a slow case."""
    marks = [pytest.mark.slow] if "--build" in _args(path) else []
    return pytest.param(path, id=path.stem, marks=marks)


@pytest.mark.parametrize("path", [_marked(p) for p in BROKEN])
def test_broken_spec_errors_are_pinned(path, cli, monkeypatch, request):
    monkeypatch.chdir(ROOT)
    code, out, err = cli("validate", path.relative_to(ROOT), *_args(path))
    assert (code, out) == (2, "")
    err = err.replace(str(ROOT), "<repo>")  # full paths, the same wherever the clone is
    golden = GOLDEN_DIR / f"{path.stem}.txt"
    if request.config.getoption("--update-golden"):
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(err)
    assert golden.exists(), "new spec? run: pytest tests/test_golden_errors.py --update-golden"
    assert err == golden.read_text()


def test_there_are_enough_broken_specs_and_no_stale_goldens():
    assert len(BROKEN) >= 40
    assert {p.stem for p in GOLDEN_DIR.glob("*.txt")} == {p.stem for p in BROKEN}


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_spec_says_what_mistake_it_holds(path):
    assert path.read_text().startswith("# "), "first line: a comment naming the mistake"


def test_five_independent_mistakes_are_all_reported():
    err = (GOLDEN_DIR / "five_mistakes.txt").read_text()
    assert len(re.findall(r"^tests/broken/five_mistakes\.yaml:\d+:\d+: error: ", err, re.M)) == 5
    assert err.endswith("error: 5 error(s) in 1 of 1 file(s)\n")


@pytest.mark.parametrize("path", sorted(GOLDEN_DIR.glob("*.txt")), ids=lambda p: p.stem)
def test_every_unknown_name_comes_with_a_way_forward(path):
    for line in path.read_text().splitlines():
        if re.search(r"error: .*: unknown (key|argument|layer|activation|loss|metric)", line):
            assert any(way in line for way in WAYS_FORWARD), line


@pytest.mark.parametrize(
    ("name", "value"),
    [("Dense", "Perceptron"), ("relu", "sigmoidal_relu"), ("accuracy", "zzz_score")],
)
def test_no_suggestion_when_nothing_is_close(write_spec, name, value):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(VALID.replace(name, value, 1)))
    assert "did you mean" not in str(caught.value)


def test_common_names_are_known_to_keras():
    known = {
        "layer": layer_names(),
        "activation": catalog()["activations"],
        "loss": catalog()["losses"],
        "metric": catalog()["metrics"],
    }
    for kind, names in COMMON.items():
        assert set(names) <= set(known[kind]), kind


def test_keras_3_names_for_short_and_keras_2_names_are_known_to_keras():
    known = {"metric": catalog()["metrics"], "loss": catalog()["losses"]}
    for kind, names in known.items():
        aliases = KERAS3_NAMES[kind]
        assert set(aliases.values()) <= set(names), kind
        assert not set(aliases) & set(names), kind


@pytest.mark.parametrize(
    ("line", "key", "value"),
    [
        ("name: yes", "name", "yes"),
        ("name: on", "name", "on"),
        ("name: 2026-01-01", "name", "2026-01-01"),
        ("description: no", "description", "no"),
        ("description: 2026-01-01 12:30:00", "description", "2026-01-01 12:30:00"),
    ],
)
def test_yaml_1_1_booleans_and_dates_are_strings_where_strings_are_expected(
    write_spec, line, key, value
):
    text = VALID.replace("name: demo", line) if key == "name" else f"{VALID}{line}\n"
    spec, _ = load_spec(write_spec(text))
    assert getattr(spec, key) == value


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "TRUE-ish"])
def test_yaml_1_1_booleans_are_refused_where_true_or_false_is_expected(write_spec, word):
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(VALID.replace("{epochs: 2}", f"{{epochs: 2, shuffle: {word}}}")))
    assert f"train.shuffle: expected true or false, got {word!r}" in str(caught.value)


NON_FINITE = [
    "optimizer: {learning_rate: VALUE}",
    "optimizer: {name: sgd, momentum: VALUE}",
    "optimizer: {schedule: {type: cosine_decay, alpha: VALUE}}",
    "optimizer: {schedule: {type: reduce_on_plateau, min_lr: VALUE}}",
    "train: {class_weight: {0: VALUE}}",
    "train: {early_stopping: {min_delta: VALUE}}",
    "export: {tolerance: VALUE}",
]


@pytest.mark.parametrize("section", NON_FINITE)
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinity_are_refused_where_a_number_is_needed(write_spec, section, value):
    text = VALID.replace("train: {epochs: 2}\n", "") + section.replace("VALUE", value) + "\n"
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(text))
    assert f"got {value}" in str(caught.value)
