"""SQL for monitors' current states: since when each has had its status, and the state
an operator set on a manual monitor. Both kept across restarts.

``monitor_states``: one row per monitor that has had a result, written when its
status changes (the rules are in ``states.py``). ``operator_states``: one row per
monitor whose state an operator set (``service.py`` says who may). Times are
INTEGER unix milliseconds, UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store


async def m009_monitor_states(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE monitor_states (
            monitor_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,          -- up, degraded or down: of its newest result
            since INTEGER NOT NULL         -- the first result of the run with that status
        );
        CREATE TABLE operator_states (
            monitor_id TEXT PRIMARY KEY,
            status TEXT NOT NULL,          -- up, degraded or down
            message TEXT NOT NULL,
            set_at INTEGER NOT NULL,
            set_by TEXT NOT NULL           -- the API token's name
        );
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m009_monitor_states,)


@dataclass(frozen=True, slots=True)
class StatusRow:
    monitor_id: str
    status: str
    since: dt.datetime


@dataclass(frozen=True, slots=True)
class OperatorRow:
    monitor_id: str
    status: str
    message: str
    set_at: dt.datetime
    set_by: str


async def load_statuses(store: Store) -> list[StatusRow]:
    rows = await store.fetchall("SELECT monitor_id, status, since FROM monitor_states")
    return [StatusRow(monitor_id, status, from_millis(since)) for monitor_id, status, since in rows]


async def save_statuses(store: Store, rows: Iterable[StatusRow]) -> None:
    """Upsert these rows in one transaction (committed when this returns)."""
    values = [(r.monitor_id, r.status, to_millis(r.since)) for r in rows]

    async def upsert(db: aiosqlite.Connection) -> None:
        await db.executemany(
            "INSERT INTO monitor_states (monitor_id, status, since) VALUES (?, ?, ?)"
            " ON CONFLICT (monitor_id) DO UPDATE SET status = excluded.status,"
            " since = excluded.since",
            values,
        )

    if values:
        await store.write(upsert)


async def load_operator_states(store: Store) -> list[OperatorRow]:
    rows = await store.fetchall(
        "SELECT monitor_id, status, message, set_at, set_by FROM operator_states"
    )
    return [
        OperatorRow(monitor_id, status, message, from_millis(set_at), set_by)
        for monitor_id, status, message, set_at, set_by in rows
    ]


async def save_operator_state(store: Store, row: OperatorRow) -> None:
    """Write one monitor's operator-set state (committed when this returns)."""

    async def upsert(db: aiosqlite.Connection) -> None:
        await db.execute(
            "INSERT INTO operator_states (monitor_id, status, message, set_at, set_by)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (monitor_id) DO UPDATE SET"
            " status = excluded.status, message = excluded.message,"
            " set_at = excluded.set_at, set_by = excluded.set_by",
            (row.monitor_id, row.status, row.message, to_millis(row.set_at), row.set_by),
        )

    await store.write(upsert)
