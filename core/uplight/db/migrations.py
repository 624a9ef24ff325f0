"""Named, ordered schema migrations, recorded in the ``migrations`` table.

Append a new ``mNNN_what`` function to ``MIGRATIONS``; never edit one that has
shipped. Each runs in the writer's transaction together with its record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from ..auth.store import m002_tokens
from ..incidents.store import m003_incidents
from ..maintenance.store import m004_maintenance
from ..notify.store import m006_notifications
from ..pages.store import m005_status_pages
from .sql import run_script

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]


async def m001_results_and_rollups(db: aiosqlite.Connection) -> None:
    await run_script(
        db,
        """
        CREATE TABLE results (
            id INTEGER PRIMARY KEY,
            monitor_id TEXT NOT NULL,
            checked_at INTEGER NOT NULL,             -- unix milliseconds, UTC
            status TEXT NOT NULL CHECK (status IN ('up', 'degraded', 'down')),
            latency_ms REAL,
            message TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}',      -- JSON object
            error_reason TEXT,                       -- plugin fault: exception, timeout, invalid_result
            in_maintenance INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX results_by_monitor ON results (monitor_id, checked_at);
        CREATE INDEX results_by_time ON results (checked_at);

        -- One row per monitor per UTC day, updated in the same transaction as the
        -- raw rows it counts, so history never scans raw results.
        CREATE TABLE daily_rollups (
            monitor_id TEXT NOT NULL,
            day TEXT NOT NULL,                       -- YYYY-MM-DD, UTC
            checks_total INTEGER NOT NULL DEFAULT 0,
            up_count INTEGER NOT NULL DEFAULT 0,
            degraded_count INTEGER NOT NULL DEFAULT 0,
            down_count INTEGER NOT NULL DEFAULT 0,
            maintenance_count INTEGER NOT NULL DEFAULT 0,
            latency_count INTEGER NOT NULL DEFAULT 0,
            latency_sum_ms REAL NOT NULL DEFAULT 0,
            latency_max_ms REAL,
            PRIMARY KEY (monitor_id, day)
        ) WITHOUT ROWID;
        """,
    )


# Each feature keeps its migration beside its queries; the order here is the schema's history.
MIGRATIONS: list[Migration] = [
    m001_results_and_rollups,
    m002_tokens,
    m003_incidents,
    m004_maintenance,
    m005_status_pages,
    m006_notifications,
]


async def migrate(db: aiosqlite.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply what is missing, each in its own transaction; return the names applied."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    async with db.execute("SELECT name FROM migrations") as cursor:
        done = {row[0] for row in await cursor.fetchall()}
    applied = []
    for migration in migrations if migrations is not None else MIGRATIONS:
        if migration.__name__ in done:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            await migration(db)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ'))",
                (migration.__name__,),
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        applied.append(migration.__name__)
    return applied
