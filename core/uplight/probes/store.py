"""SQL for probes: each location's results (``location_results``) and which API tokens
are probe tokens, bound to a location (``api_tokens.location``).

A joined monitor's results from every location, the server's own included, are kept
here with their location; the joined result (docs/probes.md) is the monitor's result in
``result_blocks`` like any other, so pages and the API read what they always did.
Portable SQL (SQLite and PostgreSQL). Times are INTEGER unix milliseconds, UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store


async def m012_probes(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        -- NULL: an admin token; a location name: a probe token, which may read that
        -- location's assignment and push its results, nothing else.
        ALTER TABLE api_tokens ADD COLUMN location TEXT;
        CREATE TABLE location_results (
            location TEXT NOT NULL,
            result_id TEXT NOT NULL,         -- chosen by the probe: a resend is stored once
            monitor_id TEXT NOT NULL,
            checked_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            status TEXT NOT NULL,
            latency DOUBLE PRECISION,         -- seconds
            message TEXT NOT NULL,
            error_reason TEXT,
            PRIMARY KEY (location, result_id)
        );
        CREATE INDEX location_results_by_monitor
            ON location_results (monitor_id, location, checked_at);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m012_probes,)


@dataclass(frozen=True, slots=True)
class LocationResult:
    location: str
    result_id: str
    monitor_id: str
    checked_at: dt.datetime
    status: str
    latency: float | None
    message: str
    error_reason: str | None


async def insert_results(
    store: Store, results: Sequence[LocationResult], received_at: dt.datetime
) -> list[bool]:
    """Store each result unless its (location, id) is stored; True for those stored now."""
    received = to_millis(received_at)

    async def insert(db: aiosqlite.Connection) -> list[bool]:
        # One query for the ids already stored and one insert of the rest, in the
        # writer's one transaction: no per-row round trip to the database thread.
        stored: set[tuple[str, str]] = set()
        for location in {r.location for r in results}:
            ids = [r.result_id for r in results if r.location == location]
            for offset in range(0, len(ids), 500):
                chunk = ids[offset : offset + 500]
                marks = ", ".join("?" * len(chunk))
                cursor = await db.execute(
                    "SELECT result_id FROM location_results"
                    f" WHERE location = ? AND result_id IN ({marks})",
                    (location, *chunk),
                )
                stored.update((location, row[0]) for row in await cursor.fetchall())
        new = []
        for r in results:
            key = (r.location, r.result_id)
            new.append(key not in stored)
            stored.add(key)  # the same id twice in one batch is stored once
        rows = [
            (
                r.location,
                r.result_id,
                r.monitor_id,
                to_millis(r.checked_at),
                received,
                r.status,
                r.latency,
                r.message,
                r.error_reason,
            )
            for r, fresh in zip(results, new, strict=True)
            if fresh
        ]
        await db.executemany(
            "INSERT INTO location_results (location, result_id, monitor_id, checked_at,"
            " received_at, status, latency, message, error_reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            # Another server sharing the database (PostgreSQL) may store it meanwhile.
            " ON CONFLICT (location, result_id) DO NOTHING",
            rows,
        )
        return new

    return await store.write(insert)


_COLUMNS = "location, result_id, monitor_id, checked_at, status, latency, message, error_reason"


def _row(row: Sequence[object]) -> LocationResult:
    location, result_id, monitor_id, checked_at, status, latency, message, reason = row
    return LocationResult(
        str(location),
        str(result_id),
        str(monitor_id),
        from_millis(int(checked_at)),  # type: ignore[call-overload]
        str(status),
        None if latency is None else float(latency),  # type: ignore[arg-type]
        str(message),
        None if reason is None else str(reason),
    )


async def latest_since(store: Store, since: dt.datetime) -> list[LocationResult]:
    """Each (monitor, location)'s newest result checked at or after ``since``."""
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM location_results AS r WHERE checked_at >= ?"
        " AND checked_at = (SELECT MAX(checked_at) FROM location_results AS n"
        " WHERE n.monitor_id = r.monitor_id AND n.location = r.location)",
        (to_millis(since),),
    )
    return [_row(row) for row in rows]


async def results_of(store: Store, monitor_id: str) -> list[LocationResult]:
    """A monitor's results from every location, oldest first."""
    rows = await store.fetchall(
        f"SELECT {_COLUMNS} FROM location_results WHERE monitor_id = ?"
        " ORDER BY checked_at, location, result_id",
        (monitor_id,),
    )
    return [_row(row) for row in rows]


async def count_results(store: Store) -> int:
    rows = await store.fetchall("SELECT COUNT(*) FROM location_results")
    return int(rows[0][0])


async def prune(store: Store, before: dt.datetime) -> int:
    """Delete results checked before ``before``; how many went."""

    async def delete(db: aiosqlite.Connection) -> int:
        cursor = await db.execute(
            "DELETE FROM location_results WHERE checked_at < ?", (to_millis(before),)
        )
        return cursor.rowcount

    return await store.write(delete)
