"""SQL for check results and their daily rollups."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiosqlite

from ..db.sql import from_millis, to_millis
from ..models import CheckResult, CheckStatus, ResultRecord

if TYPE_CHECKING:
    from ..db.store import Store  # the database module imports this one

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
    """Insert raw rows and fold them into the daily rollups, in the caller's transaction."""
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
