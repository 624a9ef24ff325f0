"""Cursor paging, the same on every list of the admin API.

In: ``limit`` (page size) and ``cursor`` (the previous page's ``next_cursor``).
Out: ``items`` and ``next_cursor`` (``null`` on the last page). A cursor is
where a page ended, ``<start in unix milliseconds>.<id>``: a position, not a
query, so it is passed back with the same filters. It is opaque to clients,
and every string the pattern admits is a usable position, so the documented
schema and the validator agree (``re.search``: JSON Schema semantics).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field
from pydantic_core import PydanticCustomError

from .operations import MAX_ID

# A start may precede 1970 (a maintenance window can be scheduled in the past).
CURSOR_PATTERN = r"^(-?[0-9]{1,19})\.([0-9]{1,19})$"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def limit_field() -> Any:
    return Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="page size")


def cursor_field() -> Any:
    return Field(
        None,
        description="next_cursor from the previous page",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    )


def check_cursor(value: str | None) -> str | None:
    if value is not None and not re.search(CURSOR_PATTERN, value):
        raise PydanticCustomError("INVALID_CURSOR", "not one this API returned")
    return value


def encode_cursor(start_ms: int, ident: int) -> str:
    return f"{start_ms}.{ident}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(start in ms, id) of a cursor ``check_cursor`` passed. Numbers beyond what SQLite
    holds are clamped, which means "past everything" in that direction."""
    match = re.search(CURSOR_PATTERN, cursor)
    assert match is not None
    start, ident = (max(-MAX_ID, min(int(g), MAX_ID)) for g in match.groups())
    return start, ident
