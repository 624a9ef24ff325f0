"""SQL for the rollups of check results: per monitor, counts and latency per UTC day
(kept for ever: a page's history) and per UTC hour (kept longer than raw results: the
middle range, for the console and API to come). Both are folded in the same transaction
as the raw results they count, so no read ever rescans raw results."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ..db.sql import from_millis, to_millis
from ..db.store import Store
from ..models import CheckStatus, ResultRecord
from .result_blocks import BLOCK_MS, block_start

HOUR_MS = BLOCK_MS

_COUNT_COLUMNS = (
    "checks_total",
    "up_count",
    "degraded_count",
    "down_count",
    "maintenance_count",
    "latency_count",
    "latency_sum_ms",
    "latency_max_ms",
)
_COUNTS = ", ".join(_COUNT_COLUMNS)
# Runs in SQLite and PostgreSQL alike: the old row is named by the alias r (PostgreSQL
# finds a bare column ambiguous), and CASE stands for SQLite's two-argument max().
_FOLD = """
    checks_total = r.checks_total + excluded.checks_total,
    up_count = r.up_count + excluded.up_count,
    degraded_count = r.degraded_count + excluded.degraded_count,
    down_count = r.down_count + excluded.down_count,
    maintenance_count = r.maintenance_count + excluded.maintenance_count,
    latency_count = r.latency_count + excluded.latency_count,
    latency_sum_ms = r.latency_sum_ms + excluded.latency_sum_ms,
    latency_max_ms = CASE
        WHEN r.latency_max_ms IS NULL THEN excluded.latency_max_ms
        WHEN excluded.latency_max_ms IS NULL THEN r.latency_max_ms
        WHEN excluded.latency_max_ms > r.latency_max_ms THEN excluded.latency_max_ms
        ELSE r.latency_max_ms END
"""
_UPSERT_DAILY = (
    f"INSERT INTO daily_rollups AS r (monitor_id, day, {_COUNTS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    f" ON CONFLICT (monitor_id, day) DO UPDATE SET {_FOLD}"
)
_UPSERT_HOURLY = (
    f"INSERT INTO hourly_rollups AS r (monitor_key, starts_at, {_COUNTS})"
    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (monitor_key, starts_at) DO UPDATE SET {_FOLD}"
)

# How long hourly rollups are kept, unless raw results are kept longer (the runtime
# passes the later of the two cutoffs to ``prune_results``).
HOURLY_ROLLUPS_KEPT = dt.timedelta(days=90)

_STATUS_COLUMN = {CheckStatus.UP: 0, CheckStatus.DEGRADED: 1, CheckStatus.DOWN: 2}


def utc_day(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).date().isoformat()


def _new_counts() -> list[Any]:
    return [0, 0, 0, 0, 0, 0, 0.0, None]


def _fold(counts: list[Any], record: ResultRecord) -> None:
    result = record.result
    counts[0] += 1
    counts[1 + _STATUS_COLUMN[result.status]] += 1
    counts[4] += int(record.in_maintenance)
    if result.latency is not None:
        latency_ms = result.latency * 1000
        counts[5] += 1
        counts[6] += latency_ms
        counts[7] = latency_ms if counts[7] is None else max(counts[7], latency_ms)


async def fold_into_rollups(
    db: aiosqlite.Connection, batch: list[ResultRecord], times: list[int], keys: dict[str, int]
) -> None:
    """Add a batch to its daily and hourly rollups, in the caller's transaction (the
    one that stores the batch's raw results). ``times``: each record's time in unix
    milliseconds; ``keys``: monitor id → monitor key."""
    daily: dict[tuple[str, str], list[Any]] = defaultdict(_new_counts)
    hourly: dict[tuple[int, int], list[Any]] = defaultdict(_new_counts)
    for record, at in zip(batch, times, strict=True):
        _fold(daily[(record.monitor_id, utc_day(record.checked_at))], record)
        _fold(hourly[(keys[record.monitor_id], block_start(at))], record)
    await db.executemany(_UPSERT_DAILY, [(*key, *counts) for key, counts in daily.items()])
    await db.executemany(_UPSERT_HOURLY, [(*key, *counts) for key, counts in hourly.items()])


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


@dataclass(frozen=True, slots=True)
class HourlyRollup:
    monitor_id: str
    starts_at: dt.datetime  # the UTC hour
    checks_total: int
    up_count: int
    degraded_count: int
    down_count: int
    maintenance_count: int
    latency_count: int
    latency_sum_ms: float
    latency_max_ms: float | None


DayCounts = tuple[int, int, int, int, int]  # checks, up, degraded, down, in maintenance
# monitor id, ISO date, then the DayCounts: one daily_rollups row as read
DayCountRow = tuple[str, str, int, int, int, int, int]


async def daily_counts(
    store: Store, monitor_ids: Iterable[str], since: dt.date
) -> dict[str, dict[str, DayCounts]]:
    """Per monitor, the rollup counts of each UTC day from ``since`` on, keyed by the
    ISO date. The narrow read behind a page's history: only the counting columns and
    no object per row, because a page of 200 components reads 18,000 of them."""
    ids = list(dict.fromkeys(monitor_ids))
    return group_daily_counts(ids, await daily_count_rows(store, ids, since))


async def daily_count_rows(
    store: Store, monitor_ids: Iterable[str], since: dt.date
) -> list[DayCountRow]:
    """The rows :func:`daily_counts` groups, as read. Grouping is a dict step per
    monitor and day: 90,000 of them for a page of 1,000 components held the event
    loop about 30 ms, so a page snapshot groups them in the render thread."""
    ids = list(dict.fromkeys(monitor_ids))
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return await store.fetchall(
        "SELECT monitor_id, day, checks_total, up_count, degraded_count, down_count,"
        f" maintenance_count FROM daily_rollups WHERE monitor_id IN ({marks}) AND day >= ?",
        (*ids, since.isoformat()),
    )


def group_daily_counts(
    monitor_ids: Iterable[str], rows: Iterable[DayCountRow]
) -> dict[str, dict[str, DayCounts]]:
    """Rows of :func:`daily_count_rows` by monitor, then ISO date; every monitor asked
    for has an entry, empty without rows."""
    found: dict[str, dict[str, DayCounts]] = {m: {} for m in monitor_ids}
    for row in rows:
        found[row[0]][row[1]] = row[2:]
    return found


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
        f"SELECT monitor_id, day, {_COUNTS} FROM daily_rollups"
        f" WHERE monitor_id IN ({marks}) AND day >= ? ORDER BY monitor_id, day",
        (*ids, since.isoformat()),
    )
    for monitor_id, day, *counts in rows:
        found[monitor_id].append(DailyRollup(monitor_id, dt.date.fromisoformat(day), *counts))
    return found


async def hourly_rollups(
    store: Store, monitor_ids: Iterable[str], since: dt.datetime
) -> dict[str, list[HourlyRollup]]:
    """Hourly rollups of the hours that end after ``since``, oldest first, by monitor."""
    ids = list(dict.fromkeys(monitor_ids))
    found: dict[str, list[HourlyRollup]] = {m: [] for m in ids}
    if not ids:
        return found
    marks = ",".join("?" * len(ids))
    rows = await store.fetchall(
        f"SELECT k.monitor_id, h.starts_at, {', '.join('h.' + c for c in _COUNT_COLUMNS)}"
        " FROM monitor_keys AS k JOIN hourly_rollups AS h ON h.monitor_key = k.key"
        f" WHERE k.monitor_id IN ({marks}) AND h.starts_at > ?"
        " ORDER BY k.monitor_id, h.starts_at",
        (*ids, to_millis(since) - HOUR_MS),
    )
    for monitor_id, starts_at, *counts in rows:
        found[monitor_id].append(HourlyRollup(monitor_id, from_millis(starts_at), *counts))
    return found


async def prune_hourly_rollups(
    db: aiosqlite.Connection, monitor_key: int, before: int, limit: int
) -> int:
    """Delete up to ``limit`` hourly rollups of one monitor, of hours that ended by
    ``before`` (unix ms), in the caller's transaction; return how many."""
    cursor = await db.execute(
        "DELETE FROM hourly_rollups WHERE monitor_key = ? AND starts_at IN"
        " (SELECT starts_at FROM hourly_rollups WHERE monitor_key = ? AND starts_at <= ?"
        "  ORDER BY starts_at LIMIT ?)",
        (monitor_key, monitor_key, before - HOUR_MS, limit),
    )
    return cursor.rowcount
