"""``nnctl render SPEC``: the fully resolved spec, defaults filled in; ``--explain`` says whence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nnctl.cli.common import Overrides, SpecPath, boundary
from nnctl.spec.compose import load_composed
from nnctl.spec.explain import render as render_yaml
from nnctl.spec.validate import validate


def render(
    spec_path: SpecPath,
    overrides: Overrides = None,
    explain: Annotated[
        bool, typer.Option(help="Mark each value: default, file:line, or the --set that set it.")
    ] = False,
) -> None:
    """Print the fully resolved spec (after extends and --set, with every default)."""
    raw, source = load_composed(Path(spec_path), overrides or [])
    spec = validate(_copy(raw), source, base_dir=Path(spec_path).parent)
    text = (
        render_yaml(spec.resolved(), raw, source)
        if explain
        else render_yaml(spec.resolved(), None, None)
    )
    typer.echo(text, nl=False)


def _copy(data):
    import copy

    return copy.deepcopy(data)


def register(app: typer.Typer) -> None:
    app.command()(boundary(render))
