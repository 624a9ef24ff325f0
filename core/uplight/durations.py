"""Durations in config are strings like "30s", "5m", "1h30m", "250ms"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainSerializer, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from .interning import Interner

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
# Beyond any period a monitor or a channel could mean, and well inside what timers
# and datetimes can hold: "99999999999999999999d" is a typo, not a year-long wait.
MAX_DURATION = 365 * DAY


def parse_duration(value: Any) -> float:
    """Return seconds. Accepts "30s", "1h30m", "250ms", "2d"; bare numbers are refused
    so that "30" is never silently read as seconds or minutes."""
    return _at_most_max(_seconds(value))


def _at_most_max(seconds: float) -> float:
    if seconds > MAX_DURATION:
        raise ValueError(f"must be at most {format_duration(MAX_DURATION)}")
    return seconds


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a duration string such as "30s", "5m" or "1h"')
    text = value.strip().lower()
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(
            f'invalid duration {value!r}: use a number and a unit (ms, s, m, h, d), e.g. "30s"'
        )
    return total


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# pydantic's bound errors ("greater than or equal to 1"), in the units the file uses.
_BOUND_WORDING = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be more than"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be less than"),
}


def _duration(value: Any, handler: ValidatorFunctionWrapHandler) -> float:
    try:
        result: float = handler(_seconds(value))
    except ValidationError as exc:
        # Field(ge=…, le=…) bounds are checked by the inner float schema; say them in units.
        for error in exc.errors(include_url=False):
            key, words = _BOUND_WORDING.get(error["type"], ("", ""))
            bound = (error.get("ctx") or {}).get(key)
            if isinstance(bound, int | float):
                raise ValueError(f"{words} {format_duration(bound)}") from None
        raise
    # After the field's own bounds, which are tighter and so the more useful message.
    return _shared(_at_most_max(result))


# The few durations a config uses ("60s", "10s"), one float object each, rather than
# two per monitor (48 bytes a monitor at 10,000). Bounded: a file of all-different
# durations shares the first few hundred.
_shared: Interner[float] = Interner(256)


Duration = Annotated[
    float, WrapValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
"""A pydantic field type: a duration string in, seconds (float) inside. Bounds given
with ``Field(ge=…, le=…)`` are reported in units ("must be at least 1s")."""
