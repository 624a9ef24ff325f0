"""SQL for check results and their daily rollups: the tables, the batch the store's
writer flushes (``insert_results``), the reads, and retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ..db.migrations import Migration
from ..db.sql import from_millis, run_script, to_millis
from ..db.store import Store
from ..models import CheckResult, CheckStatus, ResultRecord


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


MIGRATIONS: tuple[Migration, ...] = (m001_results_and_rollups,)

_INSERT = (
    "INSERT INTO results (monitor_id, checked_at, status, latency_ms, message, details,"
    " error_reason, in_maintenance) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

_UPSERT_ROLLUP = """
INSERT INTO daily_rollups (monitor_id, day, checks_total, up_count, degraded_count,
    down_count, maintenance_count, latency_count, latency_sum_ms, latency_max_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (monitor_id, day) DO UPDATE SET
    checks_total = checks_total + excluded.checks_total,
    up_count = up_count + excluded.up_count,
    degraded_count = degraded_count + excluded.degraded_count,
    down_count = down_count + excluded.down_count,
    maintenance_count = maintenance_count + excluded.maintenance_count,
    latency_count = latency_count + excluded.latency_count,
    latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
    latency_max_ms = CASE
        WHEN latency_max_ms IS NULL THEN excluded.latency_max_ms
        WHEN excluded.latency_max_ms IS NULL THEN latency_max_ms
        ELSE max(latency_max_ms, excluded.latency_max_ms) END
"""


def utc_day(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).date().isoformat()


async def insert_results(db: aiosqlite.Connection, batch: list[ResultRecord]) -> None:
    """Insert raw rows and fold them into the daily rollups, in the caller's transaction
    (the store's writer calls this with each batch it flushes)."""
    rows = []
    totals: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, 0.0, None])
    for record in batch:
        result = record.result
        latency_ms = None if result.latency is None else result.latency * 1000
        rows.append(
            (
                record.monitor_id,
                to_millis(record.checked_at),
                result.status.value,
                latency_ms,
                result.message,
                json.dumps(result.details, default=str, separators=(",", ":")),
                record.error_reason,
                int(record.in_maintenance),
            )
        )
        total = totals[(record.monitor_id, utc_day(record.checked_at))]
        total[0] += 1
        total[1 + _STATUS_COLUMN[result.status]] += 1
        total[4] += int(record.in_maintenance)
        if latency_ms is not None:
            total[5] += 1
            total[6] += latency_ms
            total[7] = latency_ms if total[7] is None else max(total[7], latency_ms)
    await db.executemany(_INSERT, rows)
    await db.executemany(_UPSERT_ROLLUP, [(*key, *values) for key, values in totals.items()])


_STATUS_COLUMN = {CheckStatus.UP: 0, CheckStatus.DEGRADED: 1, CheckStatus.DOWN: 2}


@dataclass(frozen=True, slots=True)
class StoredResult:
    id: int
    monitor_id: str
    checked_at: dt.datetime
    result: CheckResult
    error_reason: str | None
    in_maintenance: bool


@dataclass(frozen=True, slots=True)
class DailyRollup:
    monitor_id: str
    day: dt.date
    checks_total: int
    up_count: int
    degraded_count: int
    down_count: int
    maintenance_count: int
    latency_count: int
    latency_sum_ms: float
    latency_max_ms: float | None

    @property
    def uptime(self) -> float | None:
        """Share of checks that were up or degraded (the service answered), 0..1."""
        if not self.checks_total:
            return None
        return (self.up_count + self.degraded_count) / self.checks_total

    @property
    def latency_avg_ms(self) -> float | None:
        return self.latency_sum_ms / self.latency_count if self.latency_count else None


RESULT_COLUMNS = (
    "id, monitor_id, checked_at, status, latency_ms, message, details, error_reason, in_maintenance"
)
ROLLUP_COLUMNS = (
    "monitor_id, day, checks_total, up_count, degraded_count, down_count, maintenance_count,"
    " latency_count, latency_sum_ms, latency_max_ms"
)


def result_from_row(row: Iterable[Any]) -> StoredResult:
    rid, monitor_id, checked_at, status, latency_ms, message, details, reason, maint = row
    return StoredResult(
        id=rid,
        monitor_id=monitor_id,
        checked_at=from_millis(checked_at),
        result=CheckResult(
            CheckStatus(status),
            None if latency_ms is None else latency_ms / 1000,
            message,
            json.loads(details),
        ),
        error_reason=reason,
        in_maintenance=bool(maint),
    )


def rollup_from_row(row: Iterable[Any]) -> DailyRollup:
    values = list(row)
    values[1] = dt.date.fromisoformat(values[1])
    return DailyRollup(*values)


@dataclass(frozen=True, slots=True)
class LatestStatus:
    """The newest result of a monitor, narrowed to what a public page may use:
    no message, no details (those may name hosts)."""

    status: CheckStatus
    checked_at: dt.datetime


# One statement for many monitors: a correlated subquery per monitor walks the
# (monitor_id, checked_at) index backwards, so each costs one index seek.
_LATEST_CHUNK = 500


async def latest_statuses(store: Store, monitor_ids: Iterable[str]) -> dict[str, LatestStatus]:
    """The status and time of each monitor's newest stored result (monitors without one
    are absent)."""
    ids = list(dict.fromkeys(monitor_ids))
    found: dict[str, LatestStatus] = {}
    for offset in range(0, len(ids), _LATEST_CHUNK):
        chunk = ids[offset : offset + _LATEST_CHUNK]
        values = ",".join(["(?)"] * len(chunk))
        rows = await store.fetchall(
            "SELECT monitor_id, status, checked_at FROM results WHERE id IN"
            " (SELECT (SELECT id FROM results WHERE monitor_id = m.column1"
            "  ORDER BY checked_at DESC, id DESC LIMIT 1)"
            f" FROM (VALUES {values}) AS m)",
            chunk,
        )
        for monitor_id, status, checked_at in rows:
            found[monitor_id] = LatestStatus(CheckStatus(status), from_millis(checked_at))
    return found


DayCounts = tuple[int, int, int, int, int]  # checks, up, degraded, down, in maintenance


async def daily_counts(
    store: Store, monitor_ids: Iterable[str], since: dt.date
) -> dict[str, dict[str, DayCounts]]:
    """Per monitor, the rollup counts of each UTC day from ``since`` on, keyed by the
    ISO date. The narrow read behind a page's history: only the counting columns and
    no object per row, because a page of 200 components reads 18,000 of them."""
    ids = list(dict.fromkeys(monitor_ids))
    found: dict[str, dict[str, DayCounts]] = {m: {} for m in ids}
    if not ids:
        return found
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        "SELECT monitor_id, day, checks_total, up_count, degraded_count, down_count,"
        f" maintenance_count FROM daily_rollups WHERE monitor_id IN ({marks}) AND day >= ?",
        (*ids, since.isoformat()),
    )
    for row in rows:
        found[row[0]][row[1]] = row[2:]
    return found


async def latest_results(store: Store, monitor_ids: Iterable[str]) -> dict[str, StoredResult]:
    """The newest stored result of each monitor that has one."""
    latest = {}
    for monitor_id in monitor_ids:
        rows = await store.fetchall(
            f"SELECT {RESULT_COLUMNS} FROM results WHERE monitor_id = ?"
            " ORDER BY checked_at DESC, id DESC LIMIT 1",
            (monitor_id,),
        )
        if rows:
            latest[monitor_id] = result_from_row(rows[0])
    return latest


async def recent_results(
    store: Store, monitor_id: str, *, limit: int = 100, since: dt.datetime | None = None
) -> list[StoredResult]:
    """Newest first."""
    rows = await store.fetchall(
        f"SELECT {RESULT_COLUMNS} FROM results WHERE monitor_id = ? AND checked_at >= ?"
        " ORDER BY checked_at DESC, id DESC LIMIT ?",
        (monitor_id, to_millis(since) if since else 0, limit),
    )
    return [result_from_row(row) for row in rows]


async def daily_rollups(
    store: Store, monitor_ids: Iterable[str], since: dt.date
) -> dict[str, list[DailyRollup]]:
    """Rollups from ``since`` (inclusive) on, oldest first, by monitor."""
    ids = list(monitor_ids)
    found: dict[str, list[DailyRollup]] = {m: [] for m in ids}
    if not ids:
        return found
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        f"SELECT {ROLLUP_COLUMNS} FROM daily_rollups"
        f" WHERE monitor_id IN ({marks}) AND day >= ? ORDER BY monitor_id, day",
        (*ids, since.isoformat()),
    )
    for row in rows:
        rollup = rollup_from_row(row)
        found[rollup.monitor_id].append(rollup)
    return found


PRUNE_CHUNK = 5000


async def prune_results(store: Store, before: dt.datetime) -> int:
    """Delete raw results older than ``before`` in small transactions; rollups stay."""
    cutoff = to_millis(before)

    async def delete_chunk(db: aiosqlite.Connection) -> int:
        cursor = await db.execute(
            "DELETE FROM results WHERE id IN (SELECT id FROM results WHERE checked_at < ? LIMIT ?)",
            (cutoff, PRUNE_CHUNK),
        )
        return cursor.rowcount

    deleted = 0
    while True:
        count = await store.write(delete_chunk)
        deleted += count
        if count < PRUNE_CHUNK:
            return deleted
        await asyncio.sleep(0)  # let other writes and the results flush through
