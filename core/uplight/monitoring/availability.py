"""Recent availability of monitors for the operator: a 24-hour strip and uptime over
24 hours, 7 days and 30 days, read from the rollups only (never raw results).

- The strip: the 24 UTC hours ending with the current one, oldest first, each
  cell in the public history's words (``snapshot.history_status``).
- Uptime 24 h: those 24 hourly rollups. 7 d and 30 d: the daily rollups of the
  7 (30) UTC days ending today, so a monitor costs 24 + 30 small rows however
  long the window (hourly rollups over 30 days would be 720).
- Uptime is the public page's: 100 * (up + degraded) / counted checks, failures
  during maintenance not counted (``snapshot.counted_checks``); None without checks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..db.store import Store
from ..snapshot import counted_checks, history_status, uptime_percent
from .rollups_store import daily_counts, hourly_rollups

STRIP_HOURS = 24


@dataclass(frozen=True, slots=True)
class HourCell:
    starts_at: dt.datetime
    status: str  # a history cell's word: operational … no_data
    checks: int
    uptime: float | None  # percent


@dataclass(frozen=True, slots=True)
class Availability:
    strip: tuple[HourCell, ...]
    uptime_24h: float | None
    uptime_7d: float | None
    uptime_30d: float | None


def _uptime(totals: Sequence[int]) -> float | None:
    checks, up, degraded, down, in_maintenance = totals
    return uptime_percent(up + degraded, counted_checks(checks, down, in_maintenance))


def _add(into: list[int], counts: Sequence[int]) -> None:
    for i, value in enumerate(counts[:5]):
        into[i] += value


async def availability(
    store: Store, monitor_ids: Iterable[str], now: dt.datetime
) -> dict[str, Availability]:
    ids = list(dict.fromkeys(monitor_ids))
    if not ids:
        return {}
    this_hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hours = [this_hour - dt.timedelta(hours=h) for h in range(STRIP_HOURS - 1, -1, -1)]
    today = now.astimezone(dt.UTC).date()
    hourly = await hourly_rollups(store, ids, hours[0] + dt.timedelta(seconds=1))
    daily = await daily_counts(store, ids, today - dt.timedelta(days=29))
    found: dict[str, Availability] = {}
    for monitor_id in ids:
        by_hour = {r.starts_at: r for r in hourly.get(monitor_id, ())}
        cells = []
        day_total = [0, 0, 0, 0, 0]
        for hour in hours:
            r = by_hour.get(hour)
            counts = (
                (r.checks_total, r.up_count, r.degraded_count, r.down_count, r.maintenance_count)
                if r is not None
                else (0, 0, 0, 0, 0)
            )
            _add(day_total, counts)
            cells.append(HourCell(hour, history_status(*counts).value, counts[0], _uptime(counts)))
        week = [0, 0, 0, 0, 0]
        month = [0, 0, 0, 0, 0]
        week_start = (today - dt.timedelta(days=6)).isoformat()
        for day, counts in daily.get(monitor_id, {}).items():
            _add(month, counts)
            if day >= week_start:
                _add(week, counts)
        found[monitor_id] = Availability(
            tuple(cells), _uptime(day_total), _uptime(week), _uptime(month)
        )
    return found
