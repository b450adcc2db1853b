"""README's key reference, from the schema: ``python -m nnctl.spec.reference --write``."""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from nnctl.spec import schema

BEGIN, END = "<!-- spec-reference:begin -->", "<!-- spec-reference:end -->"


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation)]
        return " or ".join(dict.fromkeys(names))
    if origin in (list, dict):
        names = [_type_name(a) for a in typing.get_args(annotation)]
        return f"{origin.__name__} of " + ", ".join(f"({n})" if " or " in n else n for n in names)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "`{}`" if isinstance(value, BaseModel) else f"`{value}`"
    if field.default is PydanticUndefined:
        return "required"
    return "–" if field.default is None else f"`{field.default}`"


def _rows(model: type[BaseModel], prefix: str, skip: set[str] = frozenset()) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        if name in skip or field.exclude:
            continue
        key = f"{prefix}{name}"
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |")
        if _is_section(field.annotation):
            rows += _rows(field.annotation, f"{key}.")
        elif typing.get_origin(field.annotation) is dict:  # name -> section: its keys by KEY
            value = typing.get_args(field.annotation)[1]
            rows += _rows(value, f"{key}.KEY.") if _is_section(value) else []
    return rows


def _is_section(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def reference() -> str:
    header = "| key | type | default | meaning |\n|---|---|---|---|"
    parts = [header]
    sections = {"data", "model", "optimizer", "train", "export", "gan", "env", "agent", "search"}
    parts += _rows(schema.Spec, "", skip=sections)
    parts += _rows(schema.DataCommon, "data.")
    parts += _rows(schema.ModelSpec, "model.")
    parts += _rows(schema.OptimizerSpec, "optimizer.", skip={"schedule"})
    parts += _rows(schema.TrainSpec, "train.", skip={"early_stopping"})
    parts += _rows(schema.EarlyStopping, "train.early_stopping.")
    parts += _rows(schema.ExportSpec, "export.")
    parts += _rows(schema.GanSpec, "gan.")
    parts += _rows(schema.EnvSpec, "env.")
    parts += _rows(schema.AgentSpec, "agent.")
    parts += _rows(schema.SearchSpec, "search.")
    sources = typing.get_args(typing.get_args(schema.DataSpec)[0])
    parts.append("\n**Data sources** (`data.source`) and their own keys:\n")
    parts.append(header)
    for cls in sources:
        tags = typing.get_args(cls.model_fields["source"].annotation)
        meaning = cls.model_fields["source"].description or ""
        parts.append(f"| **`source: {' / '.join(tags)}`** | | | {meaning} |")
        parts += _rows(cls, "data.", skip=set(schema.DataCommon.model_fields) | {"source"})
    parts.append("\n**Learning-rate schedules** (`optimizer.schedule`, by `type`):\n")
    parts.append(header)
    for cls in typing.get_args(typing.get_args(schema.Schedule)[0]):
        parts += _rows(cls, "optimizer.schedule.")
    return "\n".join(parts)


def write_readme(readme: Path) -> None:
    """Replace README's reference block with the current one."""
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{reference()}\n{END}{tail}")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme(Path(__file__).resolve().parents[2] / "README.md")
    else:
        print(reference())
