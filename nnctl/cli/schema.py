"""``nnctl schema``: the spec's JSON Schema, for editors (yaml-language-server, VS Code, ...)."""

from __future__ import annotations

import typer

from nnctl.cli.common import boundary


def schema() -> None:
    """Print the JSON Schema of the spec language (the same rules 'nnctl validate' applies)."""
    from nnctl.spec.jsonschema import schema_text

    typer.echo(schema_text(), nl=False)


def register(app: typer.Typer) -> None:
    app.command()(boundary(schema))
