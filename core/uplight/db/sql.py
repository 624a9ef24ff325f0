"""Small SQL helpers shared by the store modules."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import aiosqlite


async def run_script(db: aiosqlite.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction
    (``executescript`` would commit it behind our back)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            await db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:60]}")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)


def to_millis(value: dt.datetime) -> int:
    """Times are stored as INTEGER unix milliseconds, UTC.

    Exact timedelta arithmetic: ``timestamp() * 1000`` goes through a float and
    loses a millisecond for some sub-second times."""
    return (value - _EPOCH) // _ONE_MS


def from_millis(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)


def dialect_of(db: Any) -> str:
    """``"sqlite"`` or ``"postgresql"``: the dialect of a connection the store hands a
    write function, for SQL that cannot be written once for both (``postgres.py``)."""
    return str(getattr(db, "dialect", "sqlite"))
