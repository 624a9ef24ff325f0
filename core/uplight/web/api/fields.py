"""The text fields of every admin API request model: one validator, one message shape.

A message never names its field: the envelope puts ``<field>: `` in front of
it, so every error reads ``"public_name: must not be blank"``. What a text may
hold is ``uplight.text``'s rule, which the config applies too.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from ...text import forbidden_character, is_blank

INVALID_CHARACTER = "INVALID_CHARACTER"


def single_line(value: str, *, limit: int, empty: str, too_long: str) -> str:
    """A title or a name: something visible, one line, at most ``limit`` characters.

    Stored without surrounding whitespace, and measured as stored.
    """
    return _text(value, limit=limit, empty=empty, too_long=too_long, multiline=False)


def long_form(value: str, *, limit: int, too_long: str, empty: str | None = None) -> str:
    """A description or a message: newlines and tabs allowed. With ``empty`` (a
    message), it must have something visible and is trimmed like a title; without
    (a description), it is stored as sent."""
    if empty is not None:
        return _text(value, limit=limit, empty=empty, too_long=too_long, multiline=True)
    _check_characters(value, multiline=True)
    _check_length(value, limit, too_long)
    return value


def _text(value: str, *, limit: int, empty: str, too_long: str, multiline: bool) -> str:
    if is_blank(value):
        raise PydanticCustomError(empty, "must not be blank")
    text = value.strip()
    _check_characters(text, multiline=multiline)
    _check_length(text, limit, too_long)
    return text


def _check_characters(text: str, *, multiline: bool) -> None:
    problem = forbidden_character(text, multiline=multiline)
    if problem is not None:
        # The reason goes through the context: a template would read braces in it.
        raise PydanticCustomError(INVALID_CHARACTER, "{reason}", {"reason": problem})


def _check_length(text: str, limit: int, too_long: str) -> None:
    if len(text) > limit:
        raise PydanticCustomError(too_long, "must be at most {limit} characters", {"limit": limit})


def text_schema(limit: int, *, non_blank: bool) -> dict[str, Any]:
    """The limits as the documented schema states them, so generated clients (and
    schemathesis) know what validates; the validators give each its error code."""
    schema: dict[str, Any] = {"maxLength": limit}
    if non_blank:
        schema["pattern"] = r"\S"
    return schema
