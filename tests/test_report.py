"""nnctl report (issue 14): one self-contained HTML page per run, checked in a real headless
Chromium (tests/browser.py): it loads with no console or log errors, fetches nothing, and every
picture decodes. Also nnctl summary --plot, the origins a run records, and the HParams summary
TensorBoard reads. The pages' screenshots are kept under $NNCTL_TEST_ARTIFACTS (default
test-artifacts/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from browser import Browser, chromium
from conftest import DIGITS_TRAINING, ROOT
from test_gan import SPEC as GAN_SPEC

from nnctl.cli import main
from nnctl.training.sections import Code, Note, Picture, Section, Table
from nnctl.workbench.html import page

ARTIFACTS = Path(os.environ.get("NNCTL_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (Debian: apt-get install chromium)"
)
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="no Graphviz `dot` on PATH (Debian: apt-get install graphviz)",
)
DESCRIBED = DIGITS_TRAINING.replace(
    "name: digits", "name: digits\ndescription: '<script>alert(1)</script> & <b>co</b>'"
)
GAN = GAN_SPEC.replace("epochs: 20", "epochs: 1").replace("epochs: 3", "epochs: 1")  # quick


def trained(tmp_path_factory, name: str, text: str, *overrides: str) -> Path:
    root = tmp_path_factory.mktemp(name)
    (root / "spec.yaml").write_text(text)
    sets = [arg for override in overrides for arg in ("--set", override)]
    assert main(["train", str(root / "spec.yaml"), "--out", str(root / "run"), "-q", *sets]) == 0
    return root / "run"


def browse(html: Path, shot: str) -> tuple[dict, list[str]]:
    """What Chromium saw of ``html`` and the errors it reported; a full-page screenshot kept."""
    assert html.is_file(), html
    with Browser(CHROMIUM) as browser:
        session, found = browser.open(html)
        browser.screenshot(session, ARTIFACTS / shot)
        return found, browser.errors()


def assert_self_contained(found: dict, errors: list[str]) -> None:
    assert found["title"].startswith("nnctl report"), found["title"]  # not an error page
    assert errors == [], errors
    assert found["external"] == [], "the page names something outside itself"
    assert found["fetched"] == [], "the page fetched something"
    assert found["scripts"] == 0
    assert found["images"], "no pictures"
    for image in found["images"]:
        assert min(image["width"], image["height"]) > 0, f"{image['alt']} did not render"


# ---------------------------------------------------------------------- quick: no TensorFlow
def test_every_user_text_is_escaped():
    nasty = "<img src=x onerror=alert(1)> & </pre>"
    section = Section(
        nasty, [Table([nasty], [[nasty]], nasty), Note(nasty), Code(f"name: x  # {nasty}")]
    )
    html = page(nasty, nasty, [section])
    assert "<img src=x" not in html
    assert "</pre> &" not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/pre&gt;") == 10  # every place


@needs_chromium
def test_the_browser_check_catches_a_broken_page(tmp_path):
    """The checks can fail: a remote picture, a picture that does not decode, a console error."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        '<!DOCTYPE html><title>x</title><img src="https://example.com/a.png" alt="remote">'
        '<img src="data:image/png;base64,AAAA" alt="broken"><script>console.error("boom")</script>'
    )
    with Browser(CHROMIUM) as browser:
        _, found = browser.open(broken)
        errors = browser.errors()
    assert "boom" in errors
    assert any("ERR_NAME_NOT_RESOLVED" in e for e in errors)
    assert found["external"] == ["https://example.com/a.png"]
    assert [i["width"] for i in found["images"]] == [0, 0]


@needs_chromium
def test_a_page_of_every_block_renders_without_errors(tmp_path):
    import numpy as np

    from nnctl.training.sections import confusion_heatmap

    heatmap = confusion_heatmap(np.eye(3, dtype=int) * 5, ["a", "b", "c"])
    section = Section("S", [Picture(heatmap, "heatmap"), Table(["k"], [["1"]]), Note("n")])
    html = tmp_path / "page.html"
    spec = Section("Spec", [Code("a: 1  # --set a=1")])
    html.write_text(page("nnctl report: blocks", "lead", [section, spec]))
    found, errors = browse(html, "blocks.png")
    assert_self_contained(found, errors)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["report", "{tmp}/nowhere"], "no such run directory"),
        (["report", "{tmp}"], "not a finished run directory"),
    ],
)
def test_report_mistakes_exit_2_without_a_traceback(tmp_path, cli, args, fragment):
    code, out, err = cli(*[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err
    assert out == ""


def test_summary_plot_without_graphviz_names_the_package(digits_spec, cli, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    code, _, err = cli("summary", digits_spec, "--plot", digits_spec.with_suffix(".png"))
    assert code == 2
    assert "apt-get install graphviz" in err
    assert "Traceback" not in err


def test_summary_plot_of_an_unknown_format_is_refused(digits_spec, cli):
    code, _, err = cli("summary", digits_spec, "--plot", digits_spec.with_suffix(".txt"))
    assert code == 2
    assert "name a .png, .svg, .pdf, .dot file" in err


def test_origins_name_the_file_line_and_the_set(digits_spec):
    from nnctl.spec.explain import origins
    from nnctl.spec.validate import load_spec

    spec, _ = load_spec(digits_spec, ["train.epochs=3", "model.layers[0].units=4"])
    found = origins(spec)
    assert found["train.epochs"] == "--set train.epochs=3"
    assert found["model.layers[0].Dense.units"] == "--set model.layers[0].units=4"
    assert found["loss"] == f"{digits_spec}:7"
    assert "train.batch_size" not in found  # a default


def test_origins_of_a_layer_given_in_short_form(write_spec):
    """``Reshape: [8, 8, 1]`` sets target_shape with a list: its line is the origin."""
    from nnctl.spec.explain import origins
    from nnctl.spec.validate import load_spec

    text = DIGITS_TRAINING.replace(
        "    - Dense: {units: 16", "    - Reshape: [64]\n    - Dense: {units: 16"
    )
    path = write_spec(text)
    line = path.read_text().splitlines().index("    - Reshape: [64]") + 1
    spec, _ = load_spec(path)
    assert origins(spec)["model.layers[0].Reshape.target_shape"] == f"{path}:{line}"


@pytest.mark.parametrize(
    ("info", "shown"),
    [
        ({"origins": {"train.epochs": "--set train.epochs=3", "loss": "s.yaml:7"}},
         ["epochs: 3  # --set train.epochs=3", "loss: mse  # s.yaml:7", "seed: 0  # default",
          "Command-line overrides: --set train.epochs=3."]),
        ({}, ["did not record where its values came from", "epochs: 3\n"]),
    ],
)  # fmt: skip
def test_the_spec_section_marks_each_value_with_its_recorded_origin(tmp_path, info, shown):
    from nnctl.rundir import RunDir
    from nnctl.workbench.report import _spec_section

    (tmp_path / "spec.yaml").write_text("seed: 0\nloss: mse\ntrain: {epochs: 3}\n")
    section = _spec_section(RunDir(tmp_path), info)
    text = "\n".join(getattr(block, "text", "") for block in section.blocks)
    for fragment in shown:
        assert fragment in text


def test_hparams_are_the_flattened_scalar_settings():
    from nnctl.training.hparams import final_metrics, flat_settings

    resolved = {
        "description": "prose",
        "optimizer": {"name": "adam", "learning_rate": 0.01, "schedule": None},
        "model": {"layers": [{"Dense": {"units": 8}}]},
        "metrics": ["accuracy"],
    }
    assert flat_settings(resolved) == {
        "optimizer.name": "adam",
        "optimizer.learning_rate": 0.01,
        "model.layers[0].Dense.units": 8,
        "metrics": '["accuracy"]',
    }
    assert final_metrics({"test": {"accuracy": 0.5}}) == {"final/test_accuracy": 0.5}


# ---------------------------------------------------------------------- slow: trains
@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return trained(tmp_path_factory, "classifier", DESCRIBED, "train.batch_size=64")


@pytest.mark.slow
@needs_chromium
@needs_graphviz
def test_classifier_report_renders_in_a_browser(classifier, cli):
    code, out, err = cli("report", classifier)
    assert code == 0, err
    html = Path(out.strip())
    assert html == classifier / "report.html"
    found, errors = browse(html, "report-classifier.png")
    assert_self_contained(found, errors)
    assert found["headings"] == [
        "Metrics and baselines", "Learning curves", "Classes", "Model", "Spec",
        "Versions and fingerprint",
    ]  # fmt: skip
    assert [i["alt"] for i in found["images"]] == [
        "Learning curves", "confusion matrix heatmap",
        "the model's graph: each layer with its input and output shapes",
    ]  # fmt: skip
    text = found["text"]
    assert "<script>alert(1)</script> & <b>co</b>" in text  # shown as text, not run
    assert "batch_size: 64  # --set train.batch_size=64" in text
    assert "epochs: 1  # " in text
    assert "spec.yaml:" in text
    assert "majority class accuracy" in text
    assert "data_fingerprint" in text
    assert "tensorflow" in text


@pytest.mark.slow
def test_report_without_graphviz_says_so_and_keeps_the_layers(classifier, tmp_path, cli):
    from nnctl.build import describe

    target = tmp_path / "page.html"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(describe.shutil, "which", lambda name, *a, **k: None)
        code, _, err = cli("report", classifier, "--out", target)
    assert code == 0, err
    html = target.read_text()
    assert "No drawing of the graph" in html
    assert "apt-get install graphviz" in html
    assert "<td>dense</td>" in html or "Dense" in html


@pytest.mark.slow
def test_run_logs_hold_an_hparams_session(classifier):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    plugins, tags = set(), set()
    for events in (classifier / "logs").glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                plugins.add(value.metadata.plugin_data.plugin_name)
                tags.add(value.tag)
    assert "hparams" in plugins
    assert {"final/test_accuracy", "final/train_loss"} <= tags


@pytest.mark.slow
@needs_graphviz
def test_summary_plot_draws_the_graph(digits_spec, tmp_path, cli):
    target = tmp_path / "model.png"
    code, _, err = cli("summary", digits_spec, "--plot", target)
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@needs_chromium
@needs_graphviz
def test_gan_report_shows_samples(tmp_path_factory, tmp_path, cli):
    run = trained(tmp_path_factory, "gan", GAN)
    code, out, err = cli("report", run, "--out", tmp_path / "gan.html")
    assert code == 0, err
    found, errors = browse(Path(out.splitlines()[-1]), "report-gan.png")
    assert_self_contained(found, errors)
    assert "Samples" in found["headings"]
    assert "Classes" not in found["headings"]
    assert "generated samples, epoch-0001" in [i["alt"] for i in found["images"]]
    assert "baseline" in found["text"]  # the scorer on real samples and an untrained generator


@pytest.mark.slow
@needs_chromium
@needs_graphviz
@pytest.mark.parametrize(
    ("module", "overrides", "heading", "figure"),
    [
        ("test_seq2seq", ["train.epochs=2"], "Decoded examples", "exact_match"),
        ("test_actor_critic", [], "Episode curves", "mean_return"),
        ("test_autoencoder", ["train.epochs=2"], "Reconstructions", "mean image mse"),
    ],
)
def test_each_mode_contributes_its_sections(tmp_path_factory, tmp_path, cli, module, overrides,
                                            heading, figure):  # fmt: skip
    """Seq2seq's decoded examples (mistakes first), actor-critic's episode curves, an
    autoencoder's reconstructions: the small runs of those modes' own tests."""
    import importlib

    home = importlib.import_module(module)
    run = trained(tmp_path_factory, module, getattr(home, "TINY", None) or home.SPEC, *overrides)
    code, out, err = cli("report", run, "--out", tmp_path / "page.html")
    assert code == 0, err
    found, errors = browse(Path(out.splitlines()[-1]), f"report-{module}.png")
    assert_self_contained(found, errors)
    assert heading in found["headings"]
    assert figure in found["text"]
    assert ("Learning curves" in found["headings"]) == (heading != "Episode curves")  # an agent's
