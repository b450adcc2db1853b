"""The building blocks of every section: strict sections, finite numbers, fractions."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.functional_validators import BeforeValidator


class Section(BaseModel):
    """A spec mapping: unknown keys are errors and values are not coerced (``"5"`` is no int)."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_default=False, allow_inf_nan=False
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    return value


def _fraction_string(value: Any) -> Any:
    """Let ``scale: 1/255`` mean 1/255."""
    if isinstance(value, str) and "/" in value:
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"expected a number or a fraction like 1/255, got {value!r}") from None
    return value


Finite = Annotated[float, BeforeValidator(_finite)]
PositiveFinite = Annotated[float, BeforeValidator(_finite), Field(gt=0)]
Rate = Annotated[float, Field(ge=0, lt=1)]
PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Column = str | int
