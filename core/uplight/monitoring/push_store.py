"""SQL for heartbeats: when each push monitor was last pinged, kept across restarts.

One row per monitor whose check type accepts pings (``push_pings``). The rules (what
a ping changes, what a restart means) are in ``pings.py``; this module only reads and
writes rows. Times are INTEGER unix milliseconds, UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store


async def m010_push_pings(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE push_pings (
            monitor_id TEXT PRIMARY KEY,
            watched_since INTEGER NOT NULL,  -- first start-up that watched it
            last_success INTEGER,
            last_failure INTEGER,
            last_start INTEGER               -- a run started and not yet ended
        );
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m010_push_pings,)


@dataclass(frozen=True, slots=True)
class PingRow:
    monitor_id: str
    watched_since: dt.datetime
    last_success: dt.datetime | None
    last_failure: dt.datetime | None
    last_start: dt.datetime | None


def _time(value: int | None) -> dt.datetime | None:
    return None if value is None else from_millis(value)


def _millis(value: dt.datetime | None) -> int | None:
    return None if value is None else to_millis(value)


async def watch(store: Store, monitor_ids: Iterable[str], now: dt.datetime) -> list[PingRow]:
    """The rows of these monitors, a new one (watched since ``now``) for each first seen."""
    ids = sorted(set(monitor_ids))

    async def insert(db: aiosqlite.Connection) -> None:
        await db.executemany(
            "INSERT OR IGNORE INTO push_pings (monitor_id, watched_since) VALUES (?, ?)",
            [(monitor_id, to_millis(now)) for monitor_id in ids],
        )

    if not ids:
        return []
    await store.write(insert)
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        "SELECT monitor_id, watched_since, last_success, last_failure, last_start"
        f" FROM push_pings WHERE monitor_id IN ({marks})",
        ids,
    )
    return [
        PingRow(row[0], from_millis(row[1]), _time(row[2]), _time(row[3]), _time(row[4]))
        for row in rows
    ]


async def save(store: Store, row: PingRow) -> None:
    """Write one monitor's ping times (committed when this returns)."""

    async def update(db: aiosqlite.Connection) -> None:
        await db.execute(
            "INSERT INTO push_pings"
            " (monitor_id, watched_since, last_success, last_failure, last_start)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (monitor_id) DO UPDATE SET last_success = excluded.last_success,"
            " last_failure = excluded.last_failure, last_start = excluded.last_start",
            (
                row.monitor_id,
                to_millis(row.watched_since),
                _millis(row.last_success),
                _millis(row.last_failure),
                _millis(row.last_start),
            ),
        )

    await store.write(update)
