"""The monitoring domain's migrations: the tables of check results and their rollups.

``m001`` is the schema of release 0.1.0: one row per result (about 197 bytes on disk).
``m007`` packs results into hourly blocks per monitor (about 10 bytes a result, see
``result_blocks.py``), adds hourly rollups, and rewrites what ``m001`` stored. It runs
in the migration runner's one transaction: a crash part-way leaves the database as it
was, and the next start begins again.
"""

from __future__ import annotations

import logging
import math

import aiosqlite

from ..db.sql import dialect_of, run_script
from ..models import CheckStatus
from .result_blocks import (
    DETAILS_EMPTY,
    DETAILS_INLINE,
    STATUS_CODES,
    Entry,
    block_start,
    encode,
)
from .rollups_store import HOUR_MS

log = logging.getLogger(__name__)


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


PACKED_TABLES = """
-- A small integer per monitor id, so the id's text is not repeated per result.
CREATE TABLE monitor_keys (
    key INTEGER PRIMARY KEY,
    monitor_id TEXT NOT NULL UNIQUE
);

-- Check messages and unusual error reasons, each stored once. last_seen (unix ms) is
-- the newest result that uses the text: retention drops a text once no kept result can.
CREATE TABLE result_texts (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL UNIQUE,
    last_seen INTEGER NOT NULL
);

-- Raw results: one row per monitor per UTC hour, the hour's results packed in
-- entries (result_blocks.py). newest_* is the block's newest result, so a page's
-- current statuses read one row per monitor and decode nothing.
CREATE TABLE result_blocks (
    id INTEGER PRIMARY KEY,
    monitor_key INTEGER NOT NULL,
    starts_at INTEGER NOT NULL,              -- unix milliseconds of the UTC hour's start
    count INTEGER NOT NULL,
    newest_at INTEGER NOT NULL,              -- unix milliseconds
    newest_status INTEGER NOT NULL,          -- 0 up, 1 degraded, 2 down
    entries BLOB NOT NULL,
    UNIQUE (monitor_key, starts_at)
);

-- The details of each monitor's newest up result. Older up results keep none (they
-- are most of the rows, and an HTTP check's timings would be most of their bytes);
-- results that are not up, or carry an error reason, keep theirs in the entry.
CREATE TABLE latest_details (
    monitor_key INTEGER PRIMARY KEY,
    checked_at INTEGER NOT NULL,             -- unix milliseconds
    details TEXT NOT NULL                    -- JSON object
);

CREATE TABLE hourly_rollups (
    monitor_key INTEGER NOT NULL,
    starts_at INTEGER NOT NULL,              -- unix milliseconds of the UTC hour's start
    checks_total INTEGER NOT NULL DEFAULT 0,
    up_count INTEGER NOT NULL DEFAULT 0,
    degraded_count INTEGER NOT NULL DEFAULT 0,
    down_count INTEGER NOT NULL DEFAULT 0,
    maintenance_count INTEGER NOT NULL DEFAULT 0,
    latency_count INTEGER NOT NULL DEFAULT 0,
    latency_sum_ms REAL NOT NULL DEFAULT 0,
    latency_max_ms REAL,
    PRIMARY KEY (monitor_key, starts_at)
) WITHOUT ROWID;
"""

# A progress line per this many results rewritten, for databases that take a while.
PROGRESS_EVERY = 100_000
FETCH_ROWS = 10_000
INSERT_BLOCKS = 1_000

_OLD_ROWS = """
SELECT r.checked_at, r.status, r.latency_ms, coalesce(m.id, 0), r.error_reason IS NOT NULL,
    coalesce(e.id, 0), r.in_maintenance, r.details
FROM results AS r
LEFT JOIN result_texts AS m ON m.text = r.message
LEFT JOIN result_texts AS e ON e.text = r.error_reason
WHERE r.monitor_id = ?
ORDER BY r.checked_at, r.id
"""
_INSERT_BLOCK = (
    "INSERT INTO result_blocks (monitor_key, starts_at, count, newest_at, newest_status, entries)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


async def m007_packed_results(db: aiosqlite.Connection) -> None:
    """Pack the rows of ``results`` into blocks, then drop it. Nothing is lost: every
    result keeps its time, status, message, error reason, maintenance flag and details
    (inline, whatever its status); latency is kept to the microsecond."""
    await run_script(db, PACKED_TABLES)
    if dialect_of(db) != "sqlite":
        # A PostgreSQL database is made new, after this layout: m001's table is empty
        # (`uplight db copy` moves a SQLite file's packed results).
        await db.execute("DROP TABLE results")
        return
    await db.execute(
        "INSERT INTO monitor_keys (monitor_id) SELECT DISTINCT monitor_id FROM results"
        " ORDER BY monitor_id"
    )
    await db.execute(
        """
        INSERT INTO result_texts (text, last_seen)
        SELECT text, max(at) FROM (
            SELECT message AS text, checked_at AS at FROM results WHERE message <> ''
            UNION ALL
            SELECT error_reason, checked_at FROM results WHERE error_reason <> ''
        ) GROUP BY text
        """
    )
    await db.execute(
        f"""
        INSERT INTO hourly_rollups (monitor_key, starts_at, checks_total, up_count,
            degraded_count, down_count, maintenance_count, latency_count, latency_sum_ms,
            latency_max_ms)
        SELECT k.key, r.checked_at - r.checked_at % {HOUR_MS}, count(*), sum(r.status = 'up'),
            sum(r.status = 'degraded'), sum(r.status = 'down'), sum(r.in_maintenance),
            count(r.latency_ms), total(r.latency_ms), max(r.latency_ms)
        FROM results AS r JOIN monitor_keys AS k ON k.monitor_id = r.monitor_id
        GROUP BY k.key, 2
        """
    )
    async with db.execute("SELECT count(*) FROM results") as cursor:
        (total,) = await cursor.fetchone() or (0,)
    if total >= PROGRESS_EVERY:
        log.info("packing %s stored check results; this takes a while", f"{total:,}")
    async with db.execute("SELECT key, monitor_id FROM monitor_keys ORDER BY key") as cursor:
        monitors = list(await cursor.fetchall())
    packer = _Packer(db, total)
    for key, monitor_id in monitors:
        async with db.execute(_OLD_ROWS, (monitor_id,)) as cursor:
            while rows := await cursor.fetchmany(FETCH_ROWS):
                await packer.add(key, rows)
        packer.end_block()
    await packer.flush()
    if packer.packed != total:
        raise RuntimeError(f"packed {packer.packed} of {total} results; the migration is undone")
    await db.execute("DROP TABLE results")
    if total >= PROGRESS_EVERY:
        freed = await _pragma(db, "freelist_count") * await _pragma(db, "page_size")
        if await _pragma(db, "auto_vacuum") == 2:  # INCREMENTAL
            after = "the hourly prune pass gives it back to the file system"
        else:
            after = "`uplight db compact`, with the server stopped, gives it back"
        log.info(
            "packed %s check results; the old table's %.0f MB are free space in the file: %s",
            f"{total:,}",
            freed / 1e6,
            after,
        )


class _Packer:
    """Builds the blocks of one monitor from its rows in time order, and inserts them
    a thousand at a time."""

    def __init__(self, db: aiosqlite.Connection, total: int) -> None:
        self.db = db
        self.total = total
        self.packed = 0
        self.pending: list[tuple[int, int, int, int, int, bytes]] = []
        self.key = self.start = self.count = self.newest_at = self.newest_status = 0
        self.entries = bytearray()

    async def add(self, key: int, rows: list[aiosqlite.Row]) -> None:
        for at, status, latency_ms, message_id, has_reason, reason_id, maint, details in rows:
            start = block_start(at)
            if self.entries and (key, start) != (self.key, self.start):
                self.end_block()
            self.key, self.start = key, start
            entry = Entry(
                at,
                CheckStatus(status),
                _micros(latency_ms),
                message_id,
                reason_id if has_reason else None,
                bool(maint),
                DETAILS_EMPTY if details == "{}" else DETAILS_INLINE,
                None if details == "{}" else details,
            )
            self.entries += encode(entry)
            self.count += 1
            self.newest_at, self.newest_status = at, STATUS_CODES[entry.status]
        before = self.packed // PROGRESS_EVERY
        self.packed += len(rows)
        if self.packed // PROGRESS_EVERY > before:
            log.info(
                "packed %s of %s check results (%d%%)",
                f"{self.packed:,}",
                f"{self.total:,}",
                100 * self.packed // max(self.total, 1),
            )
        if len(self.pending) >= INSERT_BLOCKS:
            await self.flush()

    def end_block(self) -> None:
        if self.entries:
            self.pending.append(
                (
                    self.key,
                    self.start,
                    self.count,
                    self.newest_at,
                    self.newest_status,
                    bytes(self.entries),
                )
            )
        self.entries = bytearray()
        self.count = 0

    async def flush(self) -> None:
        """Insert the blocks completed so far (the one being built waits for its end)."""
        if self.pending:
            await insert_blocks(self.db, self.pending)
            self.pending = []


async def insert_blocks(
    db: aiosqlite.Connection, rows: list[tuple[int, int, int, int, int, bytes]]
) -> None:
    await db.executemany(_INSERT_BLOCK, rows)


def _micros(latency_ms: float | None) -> int | None:
    if latency_ms is None or not math.isfinite(latency_ms) or latency_ms < 0:
        return None
    return round(latency_ms * 1000)


async def _pragma(db: aiosqlite.Connection, name: str) -> int:
    async with db.execute(f"PRAGMA {name}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
