"""Recurring maintenance windows from ``[[maintenance]]``: which occurrences to store.

Occurrences that start within ``MATERIALISE_AHEAD`` and have not ended are
stored as ordinary windows, once per (entry, occurrence start). An occurrence
that would overlap a window already stored for the same entry is skipped, so a
schedule firing more often than its duration gives back-to-back windows. The
lifecycle itself is ``maintenance.service``'s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import aiosqlite

from ..config import MAX_MAINTENANCE_SECONDS, MaintenanceConfig
from . import store as queries
from .lifecycle import clock_status
from .models import WindowFields
from .recurrence import occurrences, parse_timezone

MATERIALISE_AHEAD = dt.timedelta(days=14)
MAX_OCCURRENCES = 200  # per entry and pass: a minutely cron cannot flood the table
CONFIG_AUTHOR = "config"


def fingerprint(entry: MaintenanceConfig) -> str:
    """Changes with any key of the entry: its future windows are then replaced."""
    text = json.dumps(entry.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def planned_occurrences(entry: MaintenanceConfig, now: dt.datetime) -> list[dt.datetime]:
    """Occurrence starts of ``entry`` that have not ended by ``now`` and start within
    ``MATERIALISE_AHEAD``, oldest first."""
    duration = dt.timedelta(seconds=entry.duration)
    starts = occurrences(
        entry.schedule,
        parse_timezone(entry.timezone),
        now - duration,
        now + MATERIALISE_AHEAD,
        limit=MAX_OCCURRENCES,
    )
    return [start for start in starts if start + duration > now]


async def insert_occurrences(
    db: aiosqlite.Connection,
    entry: MaintenanceConfig,
    starts: list[dt.datetime],
    now: dt.datetime,
) -> int:
    """Store the occurrences of ``entry`` starting at ``starts`` (ascending) that are
    not stored yet and overlap none that is; return how many were added."""
    duration = dt.timedelta(seconds=entry.duration)
    since = starts[0] - dt.timedelta(seconds=MAX_MAINTENANCE_SECONDS)
    taken = [
        (o.occurrence_at, o.starts_at, o.ends_at)
        for o in await queries.config_occurrences(db, entry.id, since)
    ]
    mark = fingerprint(entry)
    created = 0
    for start in starts:
        end = start + duration
        if any(at == start or (s < end and start < e) for at, s, e in taken):
            continue  # already there, or it would overlap the previous occurrence
        status = clock_status(start, end, now)
        fields = WindowFields(
            title=entry.title,
            description=entry.description,
            severity=entry.severity,
            component_ids=entry.components,
            starts_at=start,
            ends_at=end,
        )
        inserted = await queries.insert_window(
            db,
            fields,
            status=status,
            now=now,
            created_by=CONFIG_AUTHOR,
            completed_at=end if status == "completed" else None,
            config_id=entry.id,
            occurrence_at=start,
            fingerprint=mark,
        )
        if inserted is not None:
            taken.append((start, start, end))
            created += 1
    return created
