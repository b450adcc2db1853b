"""``nnctl report RUN``: one self-contained HTML page about a finished run — its metrics beside
their baselines, the sections its mode contributes (``Mode.report_sections``: learning curves, a
classifier's confusion matrix, a GAN's samples, ...), the model's layers and graph, the resolved
spec with where each value came from, and the versions and fingerprint the results depend on."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from nnctl.errors import UserError
from nnctl.rundir import METRICS, REPORT, SPEC, RunDir, write_text
from nnctl.training.sections import Code, Note, Picture, Section, Table
from nnctl.workbench.html import page

SPLITS = ("train", "validation", "test")
LONG = 200  # characters of a run.json value shown


def write_report(path: Path, target: Path | None = None) -> Path:
    """Write the report of the run at ``path`` (default ``RUN/report.html``); return where."""
    run = RunDir.open(path)
    target = target or run.file(REPORT)
    if target.suffix.lower() not in (".html", ".htm"):
        raise UserError(f"{target}: the report is HTML; name a .html file")
    write_text(target, report_html(run))
    return target


def report_html(run: RunDir) -> str:
    from nnctl.modes import mode_of
    from nnctl.rundir import load_run

    spec, model = load_run(run)
    info, metrics = run.read_info(), _metrics(run)
    split = next((s for s in reversed(SPLITS) if s in metrics), "test")
    evaluation = mode_of(spec).evaluate(spec, model, run, split)
    sections = [
        _metrics_section(metrics, evaluation),
        *mode_of(spec).report_sections(spec, model, run, evaluation),
        _model_section(model),
        _spec_section(run, info),
        _versions_section(info),
    ]
    status = f"{spec.train.mode} run in {run.path}, trained {info.get('started', '?')}"
    lead = f"{status}. {spec.description}" if spec.description else status + "."
    return page(f"nnctl report: {spec.name}", lead, sections)


def _metrics(run: RunDir) -> dict[str, dict[str, float]]:
    try:
        return json.loads(run.file(METRICS).read_text())
    except (OSError, ValueError):
        raise UserError(f"{run.file(METRICS)}: missing or damaged") from None


def _metrics_section(metrics: dict[str, dict[str, float]], evaluation) -> Section:
    """Final metrics per split, then what trivial models score on the evaluated split."""
    splits = [s for s in SPLITS if s in metrics] + [s for s in metrics if s not in SPLITS]
    names = sorted({name for split in splits for name in metrics[split]})
    rows = [[name, *(_number(metrics[s].get(name)) for s in splits)] for name in names]
    blocks: list = [Table(["metric", *splits], rows, "Final metrics (metrics.json).")]
    where = f"{evaluation.split} data ({evaluation.samples} {evaluation.unit})"
    if evaluation.baselines:
        baseline_rows = [
            [name.replace("_", " "), _number(value)] for name, value in evaluation.baselines.items()
        ]
        caption = f"Baselines on the {where}: the figures to read the metrics against."
        blocks.append(Table(["baseline", "value"], baseline_rows, caption))
    else:
        blocks.append(Note(f"No baseline for this task; evaluated on the {where}."))
    return Section("Metrics and baselines", blocks)


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}"


def _model_section(model) -> Section:
    """The layers' table, and the graph drawn by Graphviz where it is installed."""
    from nnctl.build.describe import can_draw, draw, layer_rows, parameter_totals

    total, trainable = parameter_totals(model)
    rows = [[r.name, r.kind, r.shape, f"{r.parameters:,}"] for r in layer_rows(model)]
    caption = f"{total:,} parameters ({trainable:,} trainable, {total - trainable:,} not)."
    blocks: list = [Table(["layer", "type", "output shape", "parameters"], rows, caption)]
    missing = can_draw()
    if missing:
        blocks.append(Note(f"No drawing of the graph: {missing}."))
    else:
        with tempfile.TemporaryDirectory() as folder:
            drawing = Path(folder) / "model.png"
            draw(model, drawing)
            alt = "the model's graph: each layer with its input and output shapes"
            blocks.append(Picture(drawing.read_bytes(), alt, "The model's graph (Graphviz)."))
    return Section("Model", blocks)


def _spec_section(run: RunDir, info: dict[str, Any]) -> Section:
    """The resolved spec, each value marked with its origin as training recorded it."""
    import yaml

    from nnctl.spec.explain import annotated
    from nnctl.spec.loader import format_path

    resolved = yaml.safe_load(run.file(SPEC).read_text())
    origins = info.get("origins")
    if not isinstance(origins, dict):
        text = yaml.safe_dump(resolved, sort_keys=False, width=100)
        note = "This run did not record where its values came from (an older nnctl trained it)."
        return Section("Spec", [Note(note), Code(text)])
    overrides = sorted({o for o in origins.values() if o.startswith("--set")})
    text = annotated(resolved, lambda path: origins.get(format_path(path), "default"))
    said = f"Command-line overrides: {', '.join(overrides)}." if overrides else "No --set."
    note = (
        f"The resolved spec (spec.yaml), every default filled in; each value is marked with "
        f"where it came from: the spec file and line, a --set override, or a default. {said}"
    )
    return Section("Spec", [Note(note), Code(text)])


def _versions_section(info: dict[str, Any]) -> Section:
    """What run.json records: the run (seed, times, the fingerprint of its data or
    environment) and the versions and machine its results depend on."""
    left_out = ("environment", "origins")
    run_rows = [[key, _shown(value)] for key, value in info.items() if key not in left_out]
    environment = info.get("environment") or {}
    env_rows = [[key, _shown(value)] for key, value in environment.items()]
    return Section(
        "Versions and fingerprint",
        [
            Table(["run", "value"], run_rows, "run.json"),
            Table(["environment", "value"], env_rows, "Bitwise results hold on these only."),
        ],
    )


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= LONG else text[: LONG - 1] + "…"
