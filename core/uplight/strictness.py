"""TOML is typed: a number written as a string, or ``true`` where a port goes, is a
mistake to report, not a value to coerce (pydantic's lax mode would read
``port = true`` as 1 and ``verify = "yes"`` as true).

Strict mode cannot be switched on wholesale (paths and tuples arrive as TOML
strings and arrays), so this base class refuses coercion for plain ``int``,
``float`` and ``bool`` fields only.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ValidationInfo, WrapValidator, field_validator

_SCALARS = (bool, int, float)
_NAMES = {bool: "true or false", int: "a whole number", float: "a number"}


class NoCoercion(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _refuse_coercion(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or any(
            isinstance(m, BeforeValidator | WrapValidator) for m in field.metadata
        ):
            return value  # the field parses its own input (durations, secrets, paths)
        kinds = _scalar_kinds(field.annotation)
        if not kinds or value is None or _accepted(value, kinds):
            return value
        wanted = " or ".join(_NAMES[k] for k in kinds)
        raise ValueError(f"must be {wanted}, not {_describe(value)}")


def _scalar_kinds(annotation: Any) -> tuple[type, ...]:
    """The scalar types a field takes, if it takes nothing but scalars (and None)."""
    if annotation in _SCALARS:
        return (annotation,)
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if args and all(a in _SCALARS for a in args):
            return tuple(args)
    return ()


def _accepted(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    if isinstance(value, int):
        return int in kinds or float in kinds
    if isinstance(value, float):
        return float in kinds
    return False


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (a string: write it without quotes)"
    if isinstance(value, float):
        return f"{value!r} (a fraction)"
    return f"{value!r}"
